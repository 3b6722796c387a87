// The package as an outside app uses it: `npm pack`, a fresh project that installs the tarball
// (tests/consumer/: an Express 5 app with a global express.json(), a Bun.serve app, a tRPC router),
// imports only through package.json's `exports`, type-checks, and runs under Node and Bun. Real
// signed deliveries over HTTP to the child process; its database is the run's SQL endpoint; the
// welcome emails are counted at the Resend stand-in (nothing runs the sweeper here, so every email
// sent was sent inline, through the adapter's waitUntil).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ClerkApi, startClerkApi } from "../scripts/local/clerk-api.js";
import { type EmailApi, startEmailApi } from "../scripts/local/email-api.js";
import {
  generateSigningKey,
  publicKeyPem,
  signSessionToken,
} from "../scripts/local/session-token.js";
import {
  buildUser,
  type ClerkEventJson,
  clerkId,
  svixHeaders,
  userEvent,
} from "./fixtures/clerk.js";
import { LOCAL_DATABASE_URL, TEST_SECRET } from "./helpers/constants.js";
import { sensitive } from "./helpers/log-capture.js";
import { inject } from "./helpers/provided.js";
import { allOutbox, preRegister } from "./helpers/webhook.js";

const ROOT = resolve(import.meta.dirname, "..");
const TSX_LOADER = join(ROOT, "node_modules", "tsx", "dist", "esm", "index.mjs");
const RESEND_KEY = "re_consumer_0123456789abcdef";
sensitive.add(RESEND_KEY);

const rootPkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  devDependencies: Record<string, string>;
};
const dev = (name: string): string => {
  const v = rootPkg.devDependencies[name];
  if (!v) throw new Error(`${name} is not a devDependency`);
  return v;
};

let work: string;
let app: string;
let bun: string;
let email: EmailApi;
let clerk: ClerkApi;
const sessionKey = generateSigningKey();

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "cns-consumer-"));
  // `npm pack` runs the package's prepack (the build into dist/) and writes the tarball.
  execFileSync("npm", ["pack", "--pack-destination", work, "--silent"], {
    cwd: ROOT,
    stdio: "pipe",
  });
  const tarball = readdirSync(work).find((f) => f.endsWith(".tgz"));
  if (!tarball) throw new Error("npm pack wrote no tarball");
  app = join(work, "app");
  cpSync(join(ROOT, "tests", "consumer"), app, { recursive: true });
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({
      name: "consumer-fixture",
      private: true,
      type: "module",
      dependencies: {
        "clerk-neon-sync": `file:../${tarball}`,
        express: dev("express"),
        "@trpc/server": dev("@trpc/server"),
      },
      devDependencies: {
        "@types/bun": dev("@types/bun"),
        "@types/express": dev("@types/express"),
        "@types/node": dev("@types/node"),
      },
    }),
  );
  // The packages are in npm's cache from this repository's own install.
  execFileSync(
    "npm",
    ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"],
    {
      cwd: app,
      stdio: "pipe",
    },
  );
  bun = execFileSync(join(ROOT, "scripts", "ci", "bun-binary.sh"), { encoding: "utf8" }).trim();
  email = await startEmailApi({ apiKey: RESEND_KEY });
  clerk = await startClerkApi();
}, 300_000);

// Every test starts on empty tables (outbox ids from 1 again): so does the provider's key store.
afterEach(() => email.reset());

afterAll(async () => {
  await email?.close();
  await clerk?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

it("type-checks against the package's declarations, through its exports only", () => {
  const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
  expect(() =>
    execFileSync(process.execPath.endsWith("bun") ? "node" : process.execPath, [tsc, "-p", app], {
      stdio: "pipe",
    }),
  ).not.toThrow();
  // Anything not in `exports` is not importable, whatever is in the tarball.
  const deep = spawnNode([
    "--input-type=module",
    "-e",
    'await import("clerk-neon-sync/dist/lib/db.js")',
  ]);
  expect(deep.status).not.toBe(0);
  expect(deep.stderr).toContain("ERR_PACKAGE_PATH_NOT_EXPORTED");
});

function spawnNode(args: string[]): { status: number | null; stderr: string } {
  try {
    execFileSync("node", args, { cwd: app, stdio: "pipe" });
    return { status: 0, stderr: "" };
  } catch (err) {
    const e = err as { status: number | null; stderr: Buffer };
    return { status: e.status, stderr: e.stderr.toString() };
  }
}

interface Running {
  url: string;
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

/** Starts one of the fixture's servers; resolves once it printed its port. */
async function start(runtime: "node" | "bun", file: string, env: Record<string, string> = {}) {
  const cmd = runtime === "node" ? "node" : bun;
  const args =
    // tsx as a loader inside the one node process (its CLI would put a second process between
    // the test's signals and the app).
    runtime === "node" ? ["--import", pathToFileURL(TSX_LOADER).href, file] : [file];
  const child = spawn(cmd, args, {
    cwd: app,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      DATABASE_URL: LOCAL_DATABASE_URL,
      NEON_LOCAL_FETCH_ENDPOINT: inject("sqlEndpoint"),
      CLERK_WEBHOOK_SIGNING_SECRET: TEST_SECRET,
      EMAIL_PROVIDER: "resend",
      RESEND_API_KEY: RESEND_KEY,
      RESEND_API_URL: email.url,
      EMAIL_FROM: "Mentoria <boas-vindas@mentoria.example>",
      CLERK_JWT_KEY: publicKeyPem(sessionKey),
      CLERK_SECRET_KEY: clerk.secretKey,
      CLERK_API_URL: clerk.url,
      ...env,
    },
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((ok, fail) => {
    lines.on("line", (line) => {
      output.push(line);
      const m = /^\{"port":(\d+)\}$/.exec(line);
      if (m) ok(Number(m[1]));
    });
    void exited.then((code) => fail(new Error(`${file} exited (${code}): ${output.join("\n")}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child, output, exited } satisfies Running;
}

async function stop(server: Running): Promise<number | null> {
  if (server.child.exitCode === null) server.child.kill("SIGTERM");
  return server.exited;
}

type Answer = { status: number; body: Record<string, unknown>; type: string | null };

async function post(url: string, body: string, svixId: string): Promise<Answer> {
  const res = await fetch(url, {
    method: "POST",
    headers: svixHeaders(body, { secret: TEST_SECRET, svixId }),
    body,
  });
  return {
    status: res.status,
    type: res.headers.get("content-type"),
    body: (await res.json()) as Record<string, unknown>,
  };
}

/** Every non-ASCII character and every "/" as a JSON escape: the same value, other bytes. */
function escaped(event: ClerkEventJson): string {
  return JSON.stringify(event)
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
    .replace(/\//g, "\\/");
}

/** Polls `check` until it holds; on giving up, says what was awaited and what the app logged. */
async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  server?: Running,
): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}; the app logged:\n${server?.output.join("\n")}`);
}

/** What tRPC's HTTP adapters answer for a query: its data, or its error shape. */
interface TrpcAnswer {
  result?: { data?: { clerk_id?: string; source?: string; mentorado?: unknown } };
  error?: { data?: { code?: string } };
}

/** Resolves true once nothing listens on the port any more (a new connection is refused). */
function refused(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      done(false);
    });
    socket.once("error", () => done(true));
  });
}

const SERVERS = [
  { name: "Express 5 on Node", runtime: "node", file: "express-app.ts" },
  { name: "Express 5 on Bun", runtime: "bun", file: "express-app.ts" },
  { name: "Bun.serve", runtime: "bun", file: "bun-serve.ts" },
] as const;

let seq = 0;
describe.each(SERVERS)("$name", ({ runtime, file }) => {
  it("syncs signed deliveries of every shape, sends the welcome emails inline, answers our errors", async () => {
    const server = await start(runtime, file);
    try {
      const hook = `${server.url}/api/webhooks/clerk`;
      const tag = `${runtime}${file.length}${++seq}`;
      const ana = `ana.${tag}@example.com`;
      await preRegister(ana, "Ana Pré");
      const event = (address: string, firstName: string) =>
        userEvent("user.created", buildUser({ email: address, firstName, lastName: "Souza/Lima" }));
      const big = event(`big.${tag}@example.com`, "Grande") as ClerkEventJson & { padding: string };
      big.padding = "x".repeat(200 * 1024);
      const shapes = [
        ["compact", JSON.stringify(event(ana, "Ana")), "linked"],
        ["pretty", JSON.stringify(event(`bia.${tag}@example.com`, "Bia"), null, 2), "created"],
        ["escaped", escaped(event(`caio.${tag}@example.com`, "Caío Ñandú")), "created"],
        ["200 KB", JSON.stringify(big), "created"],
      ] as const;
      for (const [shape, body, outcome] of shapes) {
        const a = await post(hook, body, `msg_${tag}_${shape.replace(/\W/g, "")}`);
        expect([shape, a.status, a.body.outcome]).toEqual([shape, 200, outcome]);
      }
      const again = await post(hook, shapes[1][1], `msg_${tag}_pretty`);
      expect([again.status, again.body.outcome]).toEqual([200, "duplicate"]);

      const tooBig = await post(
        hook,
        JSON.stringify({ ...big, padding: "x".repeat(1024 * 1024) }),
        `msg_${tag}_big`,
      );
      expect(tooBig.status).toBe(413);
      expect(tooBig.type).toContain("application/json");
      expect(tooBig.body).toMatchObject({ ok: false, error: "payload_too_large" });

      // One welcome email per created or linked profile, sent by the child right after each answer.
      const mine = () =>
        email.sent.filter((m) => m.to.some((to) => to.endsWith(`.${tag}@example.com`)));
      // ... and marked sent in the outbox (the provider's answer is recorded after it is sent).
      const sentRows = async () => (await allOutbox()).filter((r) => r.status === "sent").length;
      await until(
        "four welcome emails, sent and marked",
        async () => mine().length === 4 && (await sentRows()) === 4,
        server,
      );

      if (file === "express-app.ts") {
        // The app's own routes keep their global JSON parser.
        const echo = await fetch(`${server.url}/echo`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: '{"a": 1}',
        });
        expect(await echo.json()).toEqual({ parsed: { a: 1 } });
      }
      // Nothing personal or secret in the app's logs.
      const logs = server.output.join("\n");
      expect(logs).not.toContain("@example.com");
      expect(logs).not.toContain(RESEND_KEY);
    } finally {
      expect(await stop(server)).toBe(0);
    }
  });

  it("answers tRPC `me` from Clerk first, then from the database; UNAUTHORIZED without a token", async () => {
    const server = await start(runtime, file);
    try {
      const id = clerkId("user");
      clerk.putUsers([
        buildUser({ id, email: `me.${id.toLowerCase()}@example.com`, firstName: "Mel" }),
      ]);
      const token = signSessionToken(sessionKey, { sub: id });
      sensitive.add(token);
      const me = async (authorization?: string) => {
        const res = await fetch(`${server.url}/trpc/me`, {
          headers: authorization ? { authorization } : {},
        });
        return { status: res.status, body: (await res.json()) as TrpcAnswer };
      };
      const first = await me(`Bearer ${token}`);
      expect(first.status).toBe(200);
      expect(first.body.result?.data).toMatchObject({ clerk_id: id, source: "clerk" });
      expect(first.body.result?.data?.mentorado).toMatchObject({ origem: "clerk_signup" });
      const second = await me(`Bearer ${token}`);
      expect(second.body.result?.data).toMatchObject({ clerk_id: id, source: "database" });
      expect(second.body.result?.data?.mentorado).toEqual(first.body.result?.data?.mentorado);

      const anonymous = await me();
      expect(anonymous.status).toBe(401);
      expect(anonymous.body.error?.data?.code).toBe("UNAUTHORIZED");
    } finally {
      expect(await stop(server)).toBe(0);
    }
  });

  it("on SIGTERM stops accepting requests and finishes the pending welcome email first", async () => {
    const server = await start(runtime, file);
    const held = email.hold();
    let released = false;
    try {
      const tag = `term${runtime}${++seq}`;
      const body = JSON.stringify(
        userEvent(
          "user.created",
          buildUser({ email: `dora.${tag}@example.com`, firstName: "Dora" }),
        ),
      );
      const a = await post(`${server.url}/api/webhooks/clerk`, body, `msg_${tag}`);
      expect(a.body.outcome).toBe("created");
      await Promise.race([
        held.arrived, // the send is in flight, held at the provider
        server.exited.then(() => {
          throw new Error(`the app exited: ${server.output.join("\n")}`);
        }),
      ]);
      server.child.kill("SIGTERM");
      // The server stops accepting: new connections are refused while the email is still pending.
      await until("the server to close", () => refused(Number(new URL(server.url).port)), server);
      expect(server.child.exitCode).toBe(null);
      held.release();
      released = true;
      expect(await server.exited).toBe(0);
      expect(email.sent.filter((m) => m.to.includes(`dora.${tag}@example.com`))).toHaveLength(1);
      expect(server.output.join("\n")).toContain('"event":"shutdown"');
    } finally {
      if (!released) held.release();
      await stop(server);
    }
  });

  if (file === "express-app.ts") {
    it("mounted after express.json(), fails loudly with what to change, not as a bad signature", async () => {
      const server = await start(runtime, file, { CONSUMER_WRONG_ORDER: "1" });
      try {
        const body = JSON.stringify(
          userEvent("user.created", buildUser({ email: `eva.${++seq}@example.com` })),
        );
        const a = await post(`${server.url}/api/webhooks/clerk`, body, `msg_wrong_${seq}`);
        expect(a.status).toBe(500);
        expect(a.body.error).toBe("body_already_read");
        expect(String(a.body.message)).toContain("before express.json()");
      } finally {
        expect(await stop(server)).toBe(0);
      }
    });
  }
});
