// `vercel dev --local`, Vercel's real CLI (pinned, from the cache folder: scripts/ci/vercel-cli.sh),
// on a fresh copy of the repository, as a new user would run it. vercel.json names the
// Development Command (`npm run dev`), so the CLI must start our dev server and nothing else: no
// build, no migration. The environment is what `vercel dev` would pass from a project's
// Development settings: a remote-looking DATABASE_URL (reached through this run's SQL endpoint,
// so the test stays offline), a webhook signing secret, a Clerk JWT key this test generated and
// a Clerk API this test serves. Through the CLI's own port: health, a signed user.created sent by
// `npm run send`, and GET /api/me verified with that key and synced from that API.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
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
import { allMentorados, allUsers } from "./helpers/webhook.js";

const run = promisify(execFile);
const key = generateSigningKey();
const CLERK_KEY = "sk_test_vercel_dev_test_key_0000000001";
const REMOTE_URL = "postgres://app:app-password@db.example.test/app";

let dir: string;
let clerk: ClerkApi;
let cli: ChildProcess | undefined;
let exited: Promise<number | null> | undefined;
let out = "";
let base: string;

async function freePort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

beforeAll(async () => {
  dir = freshRepositoryCopy("cns-vercel-dev-");
  clerk = await startClerkApi({
    secretKey: CLERK_KEY,
    users: [buildUser({ id: "user_vdev1", email: "vdev1@example.com", firstName: "Vera" })],
  });
  const [port, queue, cache, schedules] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  base = `http://127.0.0.1:${port}`;
  const entry = vercelCli();
  // Its own process group: the CLI, npm and the dev server are stopped together, as Ctrl-C would.
  cli = spawn(
    process.execPath,
    [
      entry,
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
        DATABASE_URL: REMOTE_URL,
        NEON_LOCAL_FETCH_ENDPOINT: inject("sqlEndpoint"),
        CLERK_WEBHOOK_SIGNING_SECRET: TEST_SECRET,
        CLERK_JWT_KEY: publicKeyPem(key),
        CLERK_SECRET_KEY: CLERK_KEY,
        CLERK_API_URL: clerk.url,
        // Side servers on free ports: other test runs may hold 3001/3002.
        DEV_SQL_PORT: "0",
        DEV_CLERK_PORT: "0",
        EMAIL_PROVIDER: "log",
      },
    },
  );
  const append = (b: Buffer) => {
    out += b.toString();
  };
  cli.stdout?.on("data", append);
  cli.stderr?.on("data", append);
  exited = new Promise((resolve) => cli?.once("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      if (/dev server ready in/.test(out) && /Ready! Available at/.test(out)) {
        clearInterval(poll);
        resolve();
      }
    }, 100);
    void exited?.then((code) => {
      clearInterval(poll);
      reject(new Error(`vercel dev exited (${code}) before the dev server was ready:\n${out}`));
    });
  });
}, 300_000);

afterAll(async () => {
  if (cli?.pid) {
    try {
      process.kill(-cli.pid, "SIGINT");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      process.kill(-cli.pid, "SIGKILL");
    } catch {
      // the group is gone already
    }
  }
  await clerk?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
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
    expect(existsSync(join(dir, ".vercel", "output"))).toBe(false);
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
    const sent = await run(
      process.execPath,
      [
        "--import",
        "tsx",
        "scripts/send.ts",
        "user.created",
        "--email",
        "vdev.ana@example.com",
        "--url",
        `${base}/api/webhooks/clerk`,
      ],
      {
        cwd: dir,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          CLERK_WEBHOOK_SIGNING_SECRET: TEST_SECRET,
        },
      },
    );
    expect(sent.stdout).toMatch(/^200 created$/m);
    expect(sent.stdout).toContain("signed with whsec_MfKQ…aSw from environment");
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
