// The dev server's one precedence rule (process environment > .env.local > local defaults and
// stand-ins), first as the functions that decide it (with a .env.local of the test's own, so a
// developer's file is never touched), then through `npm run dev` itself as a child process: an
// exported Clerk configuration is used (banner and behaviour), a remote DATABASE_URL is used
// directly and never migrated unless --migrate, and an unreachable one still lets it start.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIGRATIONS } from "../drizzle/migrations.js";
import { type ClerkApi, startClerkApi } from "../scripts/local/clerk-api.js";
import { applyClerkSettings, CLERK_DEFAULT_API_URL } from "../scripts/local/clerk-settings.js";
import {
  chooseDatabase,
  type Env,
  ensureDevSecret,
  loadLocalEnv,
  settingSource,
  sidePort,
} from "../scripts/local/dev-env.js";
import { listen } from "../scripts/local/listen.js";
import {
  DEV_KEY_FILE,
  generateSigningKey,
  loadDevKey,
  publicKeyPem,
  signSessionToken,
} from "../scripts/local/session-token.js";
import { buildUser } from "./fixtures/clerk.js";
import { OTHER_SECRET, TEST_SECRET } from "./helpers/constants.js";
import { type FreshDatabase, freshDatabase } from "./helpers/fresh-database.js";
import { inject } from "./helpers/provided.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const STAND_INS = {
  apiUrl: "http://127.0.0.1:3002",
  secretKey: "sk_test_stand_in",
  jwtKey: () => "stand-in PEM",
  jwtKeyFile: ".data/dev-session-key.pem",
};

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "cns-dev-settings-"));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** An environment as `npm run dev` sees it: `exported`, then a .env.local of `file`'s lines. */
function envWith(exported: Env, file: string[]): { env: Env; path: string } {
  const path = join(scratch, `env-${Math.random().toString(36).slice(2)}.local`);
  writeFileSync(path, `${file.join("\n")}\n`);
  const env: Env = { ...exported };
  loadLocalEnv(path, env);
  return { env, path };
}

describe("the precedence rule, per setting", () => {
  it("the environment beats .env.local, which beats the stand-ins; each says where it came from", () => {
    const { env } = envWith(
      { CLERK_JWT_KEY: "exported PEM", CLERK_API_URL: "https://api.example.test" },
      ["CLERK_JWT_KEY=file PEM", "CLERK_SECRET_KEY=sk_test_from_file"],
    );
    const settings = applyClerkSettings(STAND_INS, env);
    expect(Object.fromEntries(settings.map((s) => [s.name, s.source]))).toEqual({
      CLERK_JWT_KEY: "environment",
      CLERK_SECRET_KEY: ".env.local",
      CLERK_API_URL: "environment",
      CLERK_AUTHORIZED_PARTIES: "unset",
    });
    expect(env).toMatchObject({
      CLERK_JWT_KEY: "exported PEM",
      CLERK_SECRET_KEY: "sk_test_from_file",
      CLERK_API_URL: "https://api.example.test",
    });
    // The banner's lines name sources, never a key.
    const lines = settings.map((s) => s.describe).join("\n");
    expect(lines).not.toMatch(/PEM|sk_test/);
    expect(lines).toContain("https://api.example.test from the environment");
  });

  it("nothing set: every Clerk setting is the stand-in's, as before", () => {
    const { env } = envWith({}, []);
    const settings = applyClerkSettings(STAND_INS, env);
    expect(settings.filter((s) => s.source === "stand-in").map((s) => s.name)).toEqual([
      "CLERK_JWT_KEY",
      "CLERK_SECRET_KEY",
      "CLERK_API_URL",
    ]);
    expect(env).toMatchObject({
      CLERK_JWT_KEY: "stand-in PEM",
      CLERK_SECRET_KEY: "sk_test_stand_in",
      CLERK_API_URL: "http://127.0.0.1:3002",
    });
  });

  it("a real secret key without CLERK_API_URL calls Clerk's own API, not the stand-in", () => {
    const { env } = envWith({ CLERK_SECRET_KEY: "sk_test_real" }, []);
    const settings = applyClerkSettings(STAND_INS, env);
    expect(env.CLERK_API_URL).toBe(CLERK_DEFAULT_API_URL);
    expect(settings.find((s) => s.name === "CLERK_API_URL")?.source).toBe("default");
  });

  it("set but empty in the environment is unset, and hides .env.local's value", () => {
    const { env } = envWith({ CLERK_JWT_KEY: "" }, ["CLERK_JWT_KEY=file PEM"]);
    expect(settingSource("CLERK_JWT_KEY", env)).toBeUndefined();
    applyClerkSettings(STAND_INS, env);
    expect(env.CLERK_JWT_KEY).toBe("stand-in PEM");
  });

  it("the webhook secret, for the server and npm run send alike: environment > .env.local > generated", () => {
    const both = envWith({ CLERK_WEBHOOK_SIGNING_SECRET: TEST_SECRET }, [
      `CLERK_WEBHOOK_SIGNING_SECRET=${OTHER_SECRET}`,
    ]);
    expect(ensureDevSecret(both.path, both.env)).toEqual({
      secrets: [TEST_SECRET],
      source: "environment",
    });
    // Several: the first signs (send) and all verify (the webhook).
    const file = envWith({}, [`CLERK_WEBHOOK_SIGNING_SECRET="${OTHER_SECRET} ${TEST_SECRET}"`]);
    expect(ensureDevSecret(file.path, file.env)).toEqual({
      secrets: [OTHER_SECRET, TEST_SECRET],
      source: ".env.local",
    });
    const none = envWith({}, []);
    const made = ensureDevSecret(none.path, none.env);
    expect(made.source).toBe(".env.local (generated now)");
    expect(readFileSync(none.path, "utf8")).toContain(
      `CLERK_WEBHOOK_SIGNING_SECRET=${made.secrets[0]}`,
    );
  });

  it("side ports: their variable, else PORT+1/+2 under npm run dev, 3001/3002 under vercel dev", () => {
    expect(sidePort("DEV_SQL_PORT", 1, 3000, {})).toBe(3001);
    expect(sidePort("DEV_CLERK_PORT", 2, 3010, {})).toBe(3012);
    expect(sidePort("DEV_SQL_PORT", 1, 0, {})).toBe(0);
    // vercel dev gives its Development Command a random PORT: the side servers stay put.
    expect(sidePort("DEV_SQL_PORT", 1, 41234, { VERCEL_CLI_VERSION: "60.1.3" })).toBe(3001);
    expect(sidePort("DEV_CLERK_PORT", 2, 41234, { VERCEL_CLI_VERSION: "60.1.3" })).toBe(3002);
    expect(sidePort("DEV_CLERK_PORT", 2, 41234, { DEV_CLERK_PORT: "4002" })).toBe(4002);
    expect(() => sidePort("DEV_SQL_PORT", 1, 3000, { DEV_SQL_PORT: "x" })).toThrow(/DEV_SQL_PORT/);
  });

  it("a DATABASE_URL on another host is a remote database, not a refusal", () => {
    expect(chooseDatabase({ DATABASE_URL: "postgres://u:p@ep-x.neon.tech/neondb" })).toEqual({
      kind: "remote",
      url: "postgres://u:p@ep-x.neon.tech/neondb",
      host: "ep-x.neon.tech",
    });
    expect(chooseDatabase({ DATABASE_URL: "postgres://postgres@127.0.0.1:5432/x" }).kind).toBe(
      "postgres",
    );
  });
});

// ------------------------------------------------------------------ npm run dev itself

interface Dev {
  base: string;
  output: () => string;
  stop: () => Promise<void>;
}

/** `onOutput` sees everything printed so far, on every chunk, before the banner too. */
function startDev(
  env: NodeJS.ProcessEnv,
  args: string[] = [],
  onOutput: (out: string) => void = () => {},
): Promise<Dev> {
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/dev.ts", ...args], {
    cwd: REPO,
    env: {
      ...process.env,
      PORT: "0",
      HOST: "127.0.0.1",
      PGLITE_DATA_DIR: join(scratch, `pglite-${Math.random().toString(36).slice(2)}`),
      CLERK_WEBHOOK_SIGNING_SECRET: TEST_SECRET,
      // Set but empty: a developer's .env.local must not choose for the test.
      DATABASE_URL: "",
      NEON_LOCAL_FETCH_ENDPOINT: "",
      CLERK_JWT_KEY: "",
      CLERK_SECRET_KEY: "",
      CLERK_API_URL: "",
      CLERK_AUTHORIZED_PARTIES: "",
      VERCEL_CLI_VERSION: "",
      DEV_SQL_PORT: "",
      DEV_CLERK_PORT: "",
      DEV_EMAIL_EVERY_MS: "3600000",
      EMAIL_PROVIDER: "log",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const append = (b: Buffer) => {
    out += b.toString();
    onOutput(out);
  };
  child.stdout.on("data", append);
  child.stderr.on("data", append);
  const exit = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise<Dev>((resolve, reject) => {
    const poll = setInterval(() => {
      const local = /Local:\s+http:\/\/localhost:(\d+)/.exec(out);
      if (/Stop: Ctrl-C/.test(out) && local) {
        clearInterval(poll);
        resolve({
          base: `http://127.0.0.1:${local[1]}`,
          output: () => out,
          stop: async () => {
            child.kill("SIGINT");
            await exit;
          },
        });
      }
    }, 100);
    void exit.then(() => {
      clearInterval(poll);
      reject(new Error(`npm run dev exited before its banner:\n${out}`));
    });
  });
}

const health = async (base: string) => {
  const r = await fetch(`${base}/api/health`);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

describe("npm run dev with a Clerk configuration exported", () => {
  const key = generateSigningKey();
  let clerk: ClerkApi;
  let dev: Dev | undefined;
  beforeAll(async () => {
    clerk = await startClerkApi({
      secretKey: "sk_test_exported_0000000000000001",
      users: [buildUser({ id: "user_exported1", email: "exported1@example.com" })],
    });
    dev = await startDev({
      // The suite's database, through its endpoint, as a remote one (no migration to run).
      DATABASE_URL: "postgres://app:pw@db.example.test/app",
      NEON_LOCAL_FETCH_ENDPOINT: inject("sqlEndpoint"),
      CLERK_JWT_KEY: publicKeyPem(key),
      CLERK_SECRET_KEY: clerk.secretKey,
      CLERK_API_URL: clerk.url,
    });
  }, 120_000);
  afterAll(async () => {
    await dev?.stop();
    await clerk?.close();
  });

  it("the banner says each is from the environment; none is replaced by a stand-in", () => {
    const out = dev!.output();
    expect(out).toMatch(/^ {4}CLERK_JWT_KEY +from the environment: /m);
    expect(out).toMatch(/^ {4}CLERK_SECRET_KEY +from the environment: /m);
    expect(out).toMatch(new RegExp(`^ {4}CLERK_API_URL +${clerk.url} from the environment$`, "m"));
    expect(out).not.toContain(clerk.secretKey);
    expect(out).not.toContain("npm run -s token");
  });

  it("GET /api/me: the exported key verifies, the exported Clerk API is called; the dev key's token is refused", async () => {
    const token = signSessionToken(key, { sub: "user_exported1" });
    const r = await fetch(`${dev!.base}/api/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ clerk_id: "user_exported1", source: "clerk" });
    expect(clerk.stats.getRequests).toBe(1);
    expect(clerk.stats.unauthorized).toBe(0);
    const devToken = signSessionToken(loadDevKey(DEV_KEY_FILE), { sub: "user_exported1" });
    const refused = await fetch(`${dev!.base}/api/me`, {
      headers: { authorization: `Bearer ${devToken}` },
    });
    expect(refused.status).toBe(401);
  });
});

describe("npm run dev with a remote DATABASE_URL", () => {
  let fresh: FreshDatabase;
  beforeAll(async () => {
    fresh = await freshDatabase();
  }, 120_000);
  afterAll(async () => {
    await fresh?.close();
  });
  const remote = () => ({
    DATABASE_URL: "postgres://app:secret-pw@ep-dev.example.test/neondb",
    NEON_LOCAL_FETCH_ENDPOINT: fresh.endpoint.url,
  });

  it("never migrates it by itself: pending migrations in the banner and in health, with the command", async () => {
    const dev = await startDev(remote());
    try {
      const out = dev.output();
      expect(out).toMatch(/^ {2}Database: {5}remote, ep-dev\.example\.test /m);
      expect(out).toContain(
        `Migrations:   ${MIGRATIONS.length} pending (${MIGRATIONS.map((m) => m.tag).join(", ")}), not applied: run npm run db:migrate, or npm run dev -- --migrate`,
      );
      expect(out).toContain("SQL endpoint: none");
      expect(out).not.toContain("secret-pw");
      const h = await health(dev.base);
      expect(h.status).toBe(503);
      expect(h.body).toMatchObject({ error: "not_migrated" });
      expect(h.body.hint).toContain("`npm run db:migrate`");
    } finally {
      await dev.stop();
    }
    // Not even the migrations table was created.
    const r = await fresh.backend.query({
      query:
        "select to_regnamespace('clerk_sync') is null and to_regnamespace('drizzle') is null as absent",
      params: [],
    });
    expect(r.rows).toEqual([["t"]]);
  }, 120_000);

  it("npm run dev -- --migrate applies them, when asked", async () => {
    const dev = await startDev(remote(), ["--migrate"]);
    try {
      expect(dev.output()).toContain(
        `Migrations:   ${MIGRATIONS.length} applied now (--migrate), ${MIGRATIONS.length} in total`,
      );
      const h = await health(dev.base);
      expect(h).toMatchObject({ status: 200, body: { ok: true, migrations_pending: 0 } });
      expect(h.body.hint).toBeUndefined();
    } finally {
      await dev.stop();
    }
  }, 120_000);

  it("unreachable: the server still starts, the banner and health say why", async () => {
    const s = createServer();
    const port = await listen(s);
    await new Promise((r) => s.close(r));
    const dev = await startDev({
      ...remote(),
      NEON_LOCAL_FETCH_ENDPOINT: `http://127.0.0.1:${port}/sql`,
    });
    try {
      expect(dev.output()).toMatch(
        /^ {2}Migrations: {3}unknown, the database could not be read: cannot reach the SQL endpoint .*ECONNREFUSED/m,
      );
      const h = await health(dev.base);
      expect(h.status).toBe(503);
      expect(h.body).toMatchObject({ db: "down", error: "database_unavailable" });
      expect(h.body.hint).toContain("DATABASE_URL");
    } finally {
      await dev.stop();
    }
  }, 120_000);
});

describe("npm run dev restarted by vercel dev", () => {
  it("waits for the previous instance to let go of the data dir instead of failing", async () => {
    // The previous instance, still closing: its lock names a live process (this one).
    const dataDir = join(scratch, "restarted");
    writeFileSync(`${dataDir}.lock`, String(process.pid));
    let gone = false;
    // It says why it waits; then the previous instance is gone (its lock removed) and this
    // one starts.
    const dev = await startDev(
      {
        PGLITE_DATA_DIR: dataDir,
        VERCEL_CLI_VERSION: "60.1.3",
        DEV_SQL_PORT: "0",
        DEV_CLERK_PORT: "0",
      },
      [],
      (out) => {
        if (gone || !/^waiting for a previous dev server/m.test(out)) return;
        gone = true;
        rmSync(`${dataDir}.lock`);
      },
    );
    try {
      expect(dev.output()).toMatch(
        /^waiting for a previous dev server to let go: .*restarted is in use by another npm run dev/m,
      );
      expect(dev.output()).toContain("(started by vercel dev)");
      expect((await health(dev.base)).status).toBe(200);
    } finally {
      await dev.stop();
    }
  }, 120_000);
});
