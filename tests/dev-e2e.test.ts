// End to end: `npm run dev` (scripts/dev.ts) as a child process on a free port with a fresh PGlite
// data dir, driven by `npm run send` (scripts/send.ts) as another child process, the way a
// developer uses them. Rows are read through the dev server's own SQL endpoint (printed in its
// banner). Under TEST_DATABASE_URL the dev server uses this run's PostgreSQL database instead.
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIGRATIONS } from "../drizzle/migrations.js";
import { clerkWebhookEvents, emailOutbox, mentorados, users } from "../drizzle/schema.js";
import { type Db, getDb } from "../lib/db.js";
import { buildUser, svixHeaders, userEvent } from "./fixtures/clerk.js";
import { TEST_SECRET } from "./helpers/constants.js";
import { inject } from "./helpers/provided.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const pgMode = inject("backendKind") === "postgres";
const run = promisify(execFile);

interface Dev {
  base: string;
  sqlUrl: string;
  output: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill: (signal: NodeJS.Signals) => void;
}

let dataRoot: string;
let dataDir: string;
let dev: Dev | undefined;

function devEnv(overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PORT: "0",
    HOST: "127.0.0.1",
    PGLITE_DATA_DIR: dataDir,
    CLERK_WEBHOOK_SIGNING_SECRET: TEST_SECRET,
    // Set but empty: .env.local (if a developer has one) must not choose the database.
    DATABASE_URL: pgMode ? inject("backendDatabaseUrl") : "",
    NEON_LOCAL_FETCH_ENDPOINT: "",
    // Set but empty: the Clerk stand-ins, whatever this shell or a .env.local configures (a set
    // one is used as it is: tests/dev-settings.test.ts).
    CLERK_JWT_KEY: "",
    CLERK_SECRET_KEY: "",
    CLERK_API_URL: "",
    ...overrides,
  };
}

/** Runs `npm run dev` expecting it to refuse to start: its exit code and its whole output. */
async function devRefuses(env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  try {
    await run(process.execPath, ["--import", "tsx", "scripts/dev.ts"], {
      cwd: REPO,
      env,
      timeout: 60_000,
    });
    return { code: 0, output: "" };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, output: `${e.stderr ?? ""}${e.stdout ?? ""}` };
  }
}

function startDev(): Promise<Dev> {
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/dev.ts"], {
    cwd: REPO,
    env: devEnv({
      // The sweeping loop never runs during the test: an email printed came by the inline path.
      DEV_EMAIL_EVERY_MS: "3600000",
      EMAIL_PROVIDER: "log",
      DEV_EMAIL_BODY: "",
      // Set but empty: a developer's .env.local must not require an azp the test's token lacks.
      CLERK_AUTHORIZED_PARTIES: "",
    }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (b: Buffer) => {
    out += b.toString();
  });
  child.stderr.on("data", (b: Buffer) => {
    out += b.toString();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return new Promise<Dev>((resolve, reject) => {
    const poll = setInterval(() => {
      const local = /Local:\s+http:\/\/localhost:(\d+)/.exec(out);
      const sql = /SQL endpoint:\s+(http:\/\/\S+)/.exec(out);
      if (/ready in/.test(out) && local && sql) {
        clearInterval(poll);
        resolve({
          base: `http://127.0.0.1:${local[1]}`,
          sqlUrl: sql[1]!,
          output: () => out,
          exit,
          kill: (s) => child.kill(s),
        });
      }
    }, 100);
    void exit.then(({ code }) => {
      clearInterval(poll);
      reject(new Error(`npm run dev exited (${code}) before its banner:\n${out}`));
    });
  });
}

/** Runs fn with the driver pointed at the dev server's SQL endpoint, then back at the suite's. */
async function inDevDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const saved = process.env.NEON_LOCAL_FETCH_ENDPOINT;
  process.env.NEON_LOCAL_FETCH_ENDPOINT = dev!.sqlUrl;
  try {
    return await fn(getDb());
  } finally {
    process.env.NEON_LOCAL_FETCH_ENDPOINT = saved;
  }
}

type Ran = { code: number; stdout: string; stderr: string };

async function send(...args: string[]): Promise<Ran> {
  return sendWith({ CLERK_WEBHOOK_SIGNING_SECRET: TEST_SECRET }, ...args);
}

async function sendWith(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Ran> {
  try {
    const r = await run(process.execPath, ["--import", "tsx", "scripts/send.ts", ...args], {
      cwd: REPO,
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

beforeAll(async () => {
  dataRoot = mkdtempSync(join(tmpdir(), "cns-dev-e2e-"));
  dataDir = join(dataRoot, "pglite");
  dev = await startDev();
}, 180_000);

afterAll(async () => {
  if (dev) {
    dev.kill("SIGKILL");
    await dev.exit;
  }
  rmSync(dataRoot, { recursive: true, force: true });
});

describe("npm run dev + npm run send", () => {
  it("prints a banner naming the database and the secret's origin", () => {
    const out = dev!.output();
    expect(out).toContain("/api/webhooks/clerk");
    expect(out).toContain(
      pgMode ? "Database:     PostgreSQL 127.0.0.1" : `PGlite (embedded, ${dataDir})`,
    );
    expect(out).toContain("(CLERK_WEBHOOK_SIGNING_SECRET) from the environment");
    expect(out).toContain("npm run send -- user.created --email ana@example.com");
    expect(out).not.toContain(TEST_SECRET.slice(6));
  });

  it("send user.created -> 200 created, the rows are in the database; same svix id -> duplicate", async () => {
    const url = `${dev!.base}/api/webhooks/clerk`;
    const first = await send(
      "user.created",
      "--email",
      "e2e.ana@example.com",
      "--turma",
      "t_e2e",
      "--url",
      url,
      "--svix-id",
      "msg_e2e_1",
    );
    expect(first.stdout).toMatch(/^200 created$/m);
    expect(first.code).toBe(0);
    const clerkId = /user (user_\w+)/.exec(first.stdout)?.[1];
    expect(clerkId).toBeDefined();

    const again = await send(
      "user.created",
      "--email",
      "e2e.other@example.com",
      "--url",
      url,
      "--svix-id",
      "msg_e2e_1",
    );
    expect(again.stdout).toMatch(/^200 duplicate$/m);

    await inDevDb(async (db) => {
      const [u] = await db.select().from(users).where(eq(users.clerkId, clerkId!));
      expect(u).toMatchObject({ email: "e2e.ana@example.com", emailVerified: true });
      const [m] = await db.select().from(mentorados).where(eq(mentorados.userId, u!.id));
      expect(m).toMatchObject({
        turma: "t_e2e",
        origem: "clerk_signup",
        nomeCompleto: "Ana Souza",
      });
      const ledger = await db
        .select()
        .from(clerkWebhookEvents)
        .where(eq(clerkWebhookEvents.svixId, "msg_e2e_1"));
      expect(ledger.map((l) => l.outcome)).toEqual(["created"]);
      expect((await db.select().from(users)).length).toBe(1);
    });

    const health = await fetch(`${dev!.base}/api/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({
      ok: true,
      db: "up",
      migrations: MIGRATIONS.at(-1)?.tag,
    });
  });

  it("the welcome email shows in the terminal right after send: one line, no address or body", async () => {
    const before = dev!.output().length;
    const r = await send(
      "user.created",
      "--email",
      "e2e.welcome@example.com",
      "--url",
      `${dev!.base}/api/webhooks/clerk`,
    );
    expect(r.stdout).toMatch(/^200 created$/m);
    // Sent after the answer, in the same invocation: wait for the line (the test's timeout bounds it).
    const printed = () =>
      dev!
        .output()
        .slice(before)
        .match(/^\[email:log\] .*$/gm) ?? [];
    while (printed().length === 0) await new Promise((res) => setTimeout(res, 50));
    expect(printed()).toEqual([
      expect.stringMatching(/^\[email:log\] welcome-\d+ "Boas-vindas à mentoria, Ana!"/),
    ]);
    const out = dev!.output().slice(before);
    expect(out).not.toContain("e2e.welcome@example.com");
    expect(out).not.toContain("Que bom ter você");
    const rows = await inDevDb((db) => db.select().from(emailOutbox));
    expect(rows.filter((row) => row.status === "sent").length).toBeGreaterThanOrEqual(1);
    expect(rows.every((row) => row.status === "sent")).toBe(true);
  });

  it("send's next: hints run as printed, pasted into bash: update, duplicate, delete", async () => {
    const url = `${dev!.base}/api/webhooks/clerk`;
    const first = await send("user.created", "--email", "e2e.hint@example.com", "--url", url);
    expect(first.stdout).toMatch(/^200 created$/m);
    const hints = first.stdout
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.startsWith("npm run send -- "));
    expect(hints.map((h) => h.split(" ")[4])).toEqual([
      "user.updated",
      "user.created",
      "user.deleted",
    ]);
    const answers: string[] = [];
    for (const hint of hints) {
      // The port is not 3000 here: each hint must carry --url to reach this server.
      expect(hint).toContain(`--url ${url}`);
      const r = await run("bash", ["-c", hint], {
        cwd: REPO,
        env: { ...process.env, CLERK_WEBHOOK_SIGNING_SECRET: TEST_SECRET },
      });
      answers.push(/^(\d{3} \w+)$/m.exec(r.stdout)?.[1] ?? r.stdout);
    }
    expect(answers).toEqual(["200 applied", "200 duplicate", "200 deleted"]);
  }, 60_000);

  it("send with a malformed secret, or no server: one line on stderr, no stack", async () => {
    const bad = await sendWith(
      { CLERK_WEBHOOK_SIGNING_SECRET: "whsec_..." },
      "user.created",
      "--url",
      `${dev!.base}/api/webhooks/clerk`,
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(
        /^npm run send: CLERK_WEBHOOK_SIGNING_SECRET .* not a Svix signing secret/,
      ),
    ]);

    const closed = await send("user.created", "--url", "http://127.0.0.1:1/api/webhooks/clerk");
    expect(closed.code).toBe(1);
    expect(closed.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^npm run send: could not reach .*npm run dev/),
    ]);
  });

  it("dev refuses a malformed signing secret at start, in one line", async () => {
    const r = await devRefuses(devEnv({ CLERK_WEBHOOK_SIGNING_SECRET: "whsec_..." }));
    expect(r.code).toBe(1);
    expect(r.output.trim().split("\n")).toEqual([
      expect.stringMatching(
        /^npm run dev: CLERK_WEBHOOK_SIGNING_SECRET .* not a Svix signing secret/,
      ),
    ]);
  });

  it("a data dir in use: the reason comes first and suggests PGLITE_DATA_DIR", async () => {
    // A lock held by a live process (this one) is what a second dev server on the same dir meets.
    const busy = join(dataRoot, "busy");
    writeFileSync(`${busy}.lock`, String(process.pid));
    const r = await devRefuses(devEnv({ PGLITE_DATA_DIR: busy, DATABASE_URL: "" }));
    expect(r.code).toBe(1);
    const lines = r.output.trim().split("\n");
    expect(lines[0]).toMatch(/in use by another npm run dev .*PGLITE_DATA_DIR=/);
    expect(lines.slice(1).join("\n")).toContain("shutting down");
  });

  it("the quick start's curl: npm run token + GET /api/me -> 200 source clerk, then database", async () => {
    // A token from `npm run token` (signed by the dev key the dev server trusts) for a user that
    // exists only in the dev server's Clerk stand-in, as the banner suggests.
    const token = (
      await run(
        process.execPath,
        ["--import", "tsx", "scripts/token.ts", "--user-id", "user_dev1"],
        {
          cwd: REPO,
          env: { ...process.env, CLERK_AUTHORIZED_PARTIES: "" },
        },
      )
    ).stdout.trim();
    expect(dev!.output()).toContain("npm run -s token -- --user-id user_dev1");
    const get = () =>
      fetch(`${dev!.base}/api/me`, { headers: { authorization: `Bearer ${token}` } }).then(
        async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }),
      );
    const first = await get();
    expect(first).toMatchObject({
      status: 200,
      body: { ok: true, clerk_id: "user_dev1", source: "clerk" },
    });
    expect(first.body.mentorado).toMatchObject({ nome_completo: "Nome1 Sobrenome1" });
    const second = await get();
    expect(second).toEqual({ ...first, body: { ...first.body, source: "database" } });
    expect((await fetch(`${dev!.base}/api/me`)).status).toBe(401);
  });

  it("send user.updated without --user-id explains what is missing", async () => {
    const r = await send(
      "user.updated",
      "--email",
      "x@example.com",
      "--url",
      `${dev!.base}/api/webhooks/clerk`,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("user.updated needs --user-id");
  });

  it("routes like Vercel: 404 JSON for no file, 405 with allow for a method not exported", async () => {
    const none = await fetch(`${dev!.base}/api/nothing/here`);
    expect(none.status).toBe(404);
    expect(await none.json()).toMatchObject({ ok: false, error: "NOT_FOUND" });

    const post = await fetch(`${dev!.base}/api/health`, { method: "POST", body: "{}" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");

    const get = await fetch(`${dev!.base}/api/webhooks/clerk`);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
  });

  it("an early 413 reaches a client still uploading: the body is read before the function runs", async () => {
    // 2 MiB with content-length: the function refuses it from the header, before reading it.
    const big = await fetch(`${dev!.base}/api/webhooks/clerk`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new Uint8Array(2 * 1024 * 1024).fill(0x20),
    });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ ok: false, error: "payload_too_large" });

    // The function only runs once the whole body is in: with half of a declared 2 MiB body sent,
    // nothing comes back (the function would refuse it from the header at once); the 413 comes
    // once the upload is complete, on a connection that was never reset.
    const { port } = new URL(dev!.base);
    const socket = connect(Number(port), "127.0.0.1");
    await once(socket, "connect");
    let reply = "";
    let reset = false;
    socket.on("data", (b: Buffer) => {
      reply += b.toString();
    });
    socket.on("error", () => {
      reset = true;
    });
    const total = 2 * 1024 * 1024;
    socket.write(
      `POST /api/webhooks/clerk HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
        `content-length: ${total}\r\nconnection: close\r\n\r\n`,
    );
    socket.write(Buffer.alloc(total / 2, 0x20));
    await new Promise((r) => setTimeout(r, 500));
    expect(reply).toBe("");
    // Like a real client, keep the socket open for the answer (no half-close); `connection: close`
    // makes the server close it once it has answered.
    socket.write(Buffer.alloc(total / 2, 0x20));
    await once(socket, "close");
    expect(reset).toBe(false);
    expect(reply).toMatch(/^HTTP\/1\.1 413 /);
    expect(reply).toContain('"error":"payload_too_large"');

    // 6 MB streamed (chunked, no length): past Vercel's 4.5 MB the dev server answers itself.
    const chunk = new Uint8Array(64 * 1024).fill(0x20);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 6_000_000) controller.close();
        else {
          sent += chunk.byteLength;
          controller.enqueue(chunk);
        }
      },
    });
    const huge = await fetch(`${dev!.base}/api/webhooks/clerk`, {
      method: "POST",
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ error: "FUNCTION_PAYLOAD_TOO_LARGE" });
  });

  it("SIGINT: exit 0, data kept; a restart on the same data finds the rows, nothing to migrate", async () => {
    const body = JSON.stringify(
      userEvent("user.created", buildUser({ email: "e2e.kept@example.com" })),
    );
    const res = await fetch(`${dev!.base}/api/webhooks/clerk`, {
      method: "POST",
      headers: svixHeaders(body, { secret: TEST_SECRET }),
      body,
    });
    expect(await res.json()).toEqual({ ok: true, outcome: "created" });

    // The Clerk stand-in serves the same users after a restart, so a backfill stays valid.
    const clerkIds = async () => {
      const out = dev!.output();
      const api = /Clerk API:\s+(http:\/\/\S+)/.exec(out)?.[1];
      const key = /CLERK_SECRET_KEY=(\S+)/.exec(out)?.[1];
      const r = await fetch(`${api}/v1/users?limit=500&order_by=%2Bcreated_at`, {
        headers: { authorization: `Bearer ${key}` },
      });
      return ((await r.json()) as { id: string }[]).map((u) => u.id);
    };
    const before = await clerkIds();
    expect(before.length).toBe(25);

    dev!.kill("SIGINT");
    const { code, signal } = await dev!.exit;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(dev!.output()).toContain("database closed cleanly");
    if (!pgMode) {
      expect(existsSync(join(dataDir, "PG_VERSION"))).toBe(true);
      expect(existsSync(`${dataDir}.lock`)).toBe(false);
    }

    dev = await startDev();
    expect(dev.output()).toContain("Migrations:   0 applied now");
    const kept = await inDevDb((db) =>
      db.select().from(users).where(eq(users.email, "e2e.kept@example.com")),
    );
    expect(kept.length).toBe(1);
    expect(await clerkIds()).toEqual(before);
  }, 180_000);
});
