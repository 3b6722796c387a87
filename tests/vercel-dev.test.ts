// `vercel dev --local`, Vercel's real CLI (pinned, from the cache folder: scripts/ci/vercel-cli.sh),
// on a fresh copy of the repository, as a new user would run it. vercel.json names the
// Development Command (`npm run dev`), so the CLI must start our dev server and nothing else: no
// build, no migration. The environment is what `vercel dev` would pass from a project's
// Development settings: a remote-looking DATABASE_URL (reached through this run's SQL endpoint,
// so the test stays offline), a webhook signing secret, a Clerk JWT key this test generated and
// a Clerk API this test serves. Through the CLI's own port: health, a signed user.created sent by
// `npm run send`, and GET /api/me verified with that key and synced from that API. Then, on
// another fresh copy with nothing configured, the quick start through the CLI: embedded PGlite,
// `npm run send` with the generated secret, `npm run token` and GET /api/me.
import { execFile, spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClerkApi, startClerkApi } from "../scripts/local/clerk-api.js";
import { listen } from "../scripts/local/listen.js";
import {
  generateSigningKey,
  publicKeyPem,
  signSessionToken,
} from "../scripts/local/session-token.js";
import { freshRepositoryCopy, vercelCli } from "../scripts/vercel/offline-build.js";
import { buildUser } from "./fixtures/clerk.js";
import { TEST_SECRET } from "./helpers/constants.js";
import { inject } from "./helpers/provided.js";
import { allMentorados, allUsers } from "./helpers/webhook.js";

const run = promisify(execFile);
const key = generateSigningKey();
const CLERK_KEY = "sk_test_vercel_dev_test_key_0000000001";
const REMOTE_URL = "postgres://app:app-password@db.example.test/app";

async function freePort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

interface VercelDev {
  /** The fresh copy it runs in. */
  dir: string;
  /** The CLI's own address. */
  base: string;
  output: () => string;
  stop: () => Promise<void>;
}

/** `vercel dev --local` on a fresh copy, on free ports, with `env` (what Vercel would pass). */
async function startVercelDev(env: Record<string, string>): Promise<VercelDev> {
  const dir = freshRepositoryCopy("cns-vercel-dev-");
  const [port, queue, cache, schedules] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  // Its own process group: the CLI, npm and the dev server are stopped together, as Ctrl-C would.
  const cli = spawn(
    process.execPath,
    [
      vercelCli(),
      "dev",
      "--local",
      "--yes",
      "--listen",
      `127.0.0.1:${port}`,
      "--queue-port",
      String(queue),
      "--runtime-cache-port",
      String(cache),
      "--schedules-port",
      String(schedules),
    ],
    {
      cwd: dir,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        VERCEL_TELEMETRY_DISABLED: "1",
        // Side servers on free ports: another dev server may hold 3001/3002.
        DEV_SQL_PORT: "0",
        DEV_CLERK_PORT: "0",
        EMAIL_PROVIDER: "log",
        ...env,
      },
    },
  );
  let out = "";
  const append = (b: Buffer) => {
    out += b.toString();
  };
  cli.stdout.on("data", append);
  cli.stderr.on("data", append);
  const exited = new Promise<number | null>((resolve) => cli.once("exit", (code) => resolve(code)));
  const stop = async () => {
    if (cli.pid) {
      try {
        process.kill(-cli.pid, "SIGINT");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
        process.kill(-cli.pid, "SIGKILL");
      } catch {
        // the group is gone already
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => {
        if (/dev server ready in/.test(out) && /Ready! Available at/.test(out)) {
          clearInterval(poll);
          resolve();
        }
      }, 100);
      void exited.then((code) => {
        clearInterval(poll);
        reject(new Error(`vercel dev exited (${code}) before the dev server was ready:\n${out}`));
      });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { dir, base: `http://127.0.0.1:${port}`, output: () => out, stop };
}

/** `npm run send` (scripts/send.ts) run in the copy, as a developer runs it in a second shell. */
async function send(vd: VercelDev, env: Record<string, string>, ...args: string[]) {
  // Plain Node, as `npm run send` runs it: Bun itself would load .env.local into the environment,
  // which this test tells apart (docs/inside-your-server.md).
  return run(
    "Bun" in globalThis ? "node" : process.execPath,
    ["--import", "tsx", "scripts/send.ts", ...args, "--url", `${vd.base}/api/webhooks/clerk`],
    { cwd: vd.dir, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } },
  );
}

let clerk: ClerkApi;
let vd: VercelDev;
let out = "";
let base: string;

beforeAll(async () => {
  clerk = await startClerkApi({
    secretKey: CLERK_KEY,
    users: [buildUser({ id: "user_vdev1", email: "vdev1@example.com", firstName: "Vera" })],
  });
  vd = await startVercelDev({
    DATABASE_URL: REMOTE_URL,
    NEON_LOCAL_FETCH_ENDPOINT: inject("sqlEndpoint"),
    CLERK_WEBHOOK_SIGNING_SECRET: TEST_SECRET,
    CLERK_JWT_KEY: publicKeyPem(key),
    CLERK_SECRET_KEY: CLERK_KEY,
    CLERK_API_URL: clerk.url,
  });
  out = vd.output();
  base = vd.base;
}, 300_000);

afterAll(async () => {
  await vd?.stop();
  await clerk?.close();
});

describe("vercel dev --local (Vercel's CLI) runs npm run dev and nothing else", () => {
  it("runs the Development Command from vercel.json, no build and no migration", () => {
    expect(out).toContain("Running Dev Command “npm run dev”");
    expect(out).not.toMatch(/vercel-build|Running "npm run|Build Output|Removing \.vercel/);
    expect(out).not.toMatch(/^migrations: \d+ applied/m);
    expect(out).not.toMatch(/applied now/);
    expect(out).toMatch(
      /^ {2}Database: {5}remote, db\.example\.test \(used directly, as on Vercel\)$/m,
    );
    expect(out).toMatch(/^ {2}Migrations: {3}none pending \(never migrated by the dev server\)$/m);
    expect(out).toContain("(started by vercel dev)");
    // Nothing was built.
    expect(existsSync(join(vd.dir, ".vercel", "output"))).toBe(false);
    // The password of the database never reaches the output.
    expect(out).not.toContain("app-password");
  });

  it("says per Clerk setting which one is used and where it came from, never the value", () => {
    expect(out).toMatch(/^ {4}CLERK_JWT_KEY +from the environment: /m);
    expect(out).toMatch(/^ {4}CLERK_SECRET_KEY +from the environment: /m);
    expect(out).toMatch(new RegExp(`^ {4}CLERK_API_URL +${clerk.url} from the environment$`, "m"));
    expect(out).toMatch(
      /Secret: +whsec_MfKQ…aSw \(CLERK_WEBHOOK_SIGNING_SECRET\) from the environment/,
    );
    expect(out).not.toContain(CLERK_KEY);
    expect(out).not.toContain(TEST_SECRET.slice(6));
  });

  it("GET /api/health through the CLI's port: 200, nothing pending", async () => {
    const r = await fetch(`${base}/api/health`);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ ok: true, db: "up", migrations_pending: 0 });
  });

  it("npm run send user.created through the CLI's port: 200 created, rows in the database", async () => {
    const sent = await send(
      vd,
      { CLERK_WEBHOOK_SIGNING_SECRET: TEST_SECRET },
      "user.created",
      "--email",
      "vdev.ana@example.com",
    );
    expect(sent.stdout).toMatch(/^200 created$/m);
    expect(sent.stdout).toContain("signed with whsec_MfKQ…aSw from the environment");
    const users = await allUsers();
    expect(users.map((u) => u.email)).toEqual(["vdev.ana@example.com"]);
    expect((await allMentorados()).map((m) => m.userId)).toEqual([users[0]!.id]);
  });

  it("GET /api/me with a token of the configured key: 200, synced from the configured Clerk API", async () => {
    const before = clerk.stats.getRequests;
    const token = signSessionToken(key, { sub: "user_vdev1" });
    const r = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ ok: true, clerk_id: "user_vdev1", source: "clerk" });
    // The test's stand-in was called, with the configured key.
    expect(clerk.stats.getRequests).toBe(before + 1);
    expect(clerk.stats.unauthorized).toBe(0);
    expect((await allUsers()).map((u) => u.clerkId)).toEqual(["user_vdev1"]);

    // A token of any other key (such as the dev key a stand-in would trust) is refused.
    const other = signSessionToken(generateSigningKey(), { sub: "user_vdev1" });
    const refused = await fetch(`${base}/api/me`, {
      headers: { authorization: `Bearer ${other}` },
    });
    expect(refused.status).toBe(401);
  });
});

describe("vercel dev --local with nothing configured: the quick start, through the CLI", () => {
  let quick: VercelDev;
  beforeAll(async () => {
    // No DATABASE_URL, no secret, no Clerk settings: embedded PGlite and the stand-ins.
    quick = await startVercelDev({});
  }, 300_000);
  afterAll(async () => {
    await quick?.stop();
  });

  it("serves the four functions on embedded PGlite; the stand-ins fill every Clerk setting", async () => {
    const o = quick.output();
    expect(o).toContain(
      "Functions:    /api/cron/welcome-emails, /api/health, /api/me, /api/webhooks/clerk",
    );
    expect(o).toMatch(/Database: {5}PGlite \(embedded, /);
    expect(o).toMatch(/^ {4}CLERK_JWT_KEY +unset: the local dev key/m);
    expect(o).toMatch(/Secret: .* from \.env\.local \(generated now\)/);
    expect(o).not.toMatch(/vercel-build|Build Output/);
    const h = await fetch(`${quick.base}/api/health`);
    expect(h.status).toBe(200);
  });

  it("npm run send signs with the generated secret from .env.local: 200 created", async () => {
    const sent = await send(quick, {}, "user.created", "--email", "quick.ana@example.com");
    expect(sent.stdout).toMatch(/^200 created$/m);
    expect(sent.stdout).toMatch(/signed with whsec_\S+ from \.env\.local$/m);
  });

  it("npm run token + GET /api/me: 200 from the Clerk stand-in, then from the database", async () => {
    const token = (
      await run(
        process.execPath,
        ["--import", "tsx", "scripts/token.ts", "--user-id", "user_dev1"],
        {
          cwd: quick.dir,
          env: { PATH: process.env.PATH, HOME: process.env.HOME },
        },
      )
    ).stdout.trim();
    const me = async () => {
      const r = await fetch(`${quick.base}/api/me`, {
        headers: { authorization: `Bearer ${token}` },
      });
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    };
    expect(await me()).toMatchObject({ status: 200, body: { ok: true, source: "clerk" } });
    expect(await me()).toMatchObject({ status: 200, body: { ok: true, source: "database" } });
  });
});
