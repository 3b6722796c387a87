// GET /api/health through the real function: one SQL round trip, 200 with the latest migration;
// 503 when the database cannot be reached or fails, or when the configuration keeps the webhook
// (or, in production, the cron) from working; 500 when DATABASE_URL is missing.
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { GET, HEAD } from "../api/health.js";
import { GET as meGET } from "../api/me.js";
import { MIGRATIONS } from "../drizzle/migrations.js";
import { generateSigningKey, publicKeyPem } from "../scripts/local/session-token.js";
import { TEST_SECRET } from "./helpers/constants.js";
import { control, countRoundTrips } from "./helpers/endpoint-control.js";
import { freshDatabase } from "./helpers/fresh-database.js";
import { captured, sensitive } from "./helpers/log-capture.js";
import { deliver } from "./helpers/webhook.js";

const URL_ = "https://sync.example.test/api/health";
const saved = {
  endpoint: process.env.NEON_LOCAL_FETCH_ENDPOINT,
  url: process.env.DATABASE_URL,
};
const CONFIG_KEYS = [
  "CLERK_WEBHOOK_SIGNING_SECRET",
  "CLERK_JWT_KEY",
  "CLERK_AUTHORIZED_PARTIES",
  "CLERK_SECRET_KEY",
  "VERCEL_ENV",
  "CRON_SECRET",
  "EMAIL_PROVIDER",
  "RESEND_API_KEY",
  "EMAIL_FROM",
];
const CRON_SECRET = "health-cron-secret-0123456789";
const RESEND_API_KEY = "re_health_0123456789abcdef";
/** Malformed secrets: not base64 svix can decode (bad padding), and not a whsec_ secret at all. */
const BAD_PADDING = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwA";
const NOT_WHSEC = "sk_test_this_is_a_clerk_secret_key_not_a_signing_secret";
sensitive.add(CRON_SECRET);
sensitive.add(RESEND_API_KEY);
sensitive.add(BAD_PADDING.slice(6));
sensitive.add(NOT_WHSEC);

afterEach(async () => {
  process.env.NEON_LOCAL_FETCH_ENDPOINT = saved.endpoint;
  process.env.DATABASE_URL = saved.url;
  for (const k of CONFIG_KEYS) delete process.env[k];
  process.env.CLERK_WEBHOOK_SIGNING_SECRET = TEST_SECRET;
  await control({ faults: {} });
});

async function get(method: "GET" | "HEAD" = "GET") {
  const handler = method === "GET" ? GET : HEAD;
  const res = await handler(new Request(URL_, { method }));
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: (text ? JSON.parse(text) : {}) as Record<string, unknown>,
  };
}

/** A loopback port with nothing listening on it (fetch refuses some well-known ports, like 9). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe("GET /api/health", () => {
  it("answers 200 with the latest applied migration, in one SQL round trip", async () => {
    let answer: Awaited<ReturnType<typeof get>> | undefined;
    const trips = await countRoundTrips(async () => {
      answer = await get();
    });
    expect(trips).toBe(1);
    expect(answer!.status).toBe(200);
    expect(answer!.headers.get("content-type")).toMatch(/^application\/json/);
    expect(answer!.headers.get("cache-control")).toBe("no-store");
    expect(answer!.body).toEqual({
      ok: true,
      db: "up",
      migrations: MIGRATIONS.at(-1)?.tag,
      migrations_applied: MIGRATIONS.length,
      migrations_pending: 0,
      schema: "ok",
      misconfigured: [],
    });
  });

  it("answers HEAD like GET", async () => {
    expect((await get("HEAD")).status).toBe(200);
  });

  it("answers 503 db:down when the SQL endpoint is unreachable", async () => {
    process.env.NEON_LOCAL_FETCH_ENDPOINT = `http://127.0.0.1:${await closedPort()}/sql`;
    const r = await get();
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ ok: false, db: "down" });
    expect(captured.some((l) => l.includes('"event":"health"') && l.includes('"status":503'))).toBe(
      true,
    );
  });

  it("answers 503 not_migrated (db up) for a database no migration has run on", async () => {
    const fresh = await freshDatabase();
    try {
      process.env.NEON_LOCAL_FETCH_ENDPOINT = fresh.endpoint.url;
      const r = await get();
      expect(r.status).toBe(503);
      expect(r.body).toEqual({
        ok: false,
        db: "up",
        migrations: null,
        error: "not_migrated",
        misconfigured: [],
        // What to do, named (the dev server's banner and a deployment's check point here).
        hint: expect.stringContaining("`npm run db:migrate`"),
      });
      // The log says which SQLSTATE: the migrations table does not exist.
      const line = captured.findLast((l) => l.includes('"event":"health"'));
      expect(JSON.parse(line ?? "{}")).toMatchObject({
        status: 503,
        sqlstate: expect.stringMatching(/^(42P01|3F000)$/),
      });
    } finally {
      await fresh.close();
    }
  });

  it("answers 503 db:down when the database answers with an error", async () => {
    await control({ faults: { unavailable: true } });
    const r = await get();
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ ok: false, db: "down" });
  });

  it("answers 500 misconfigured, without touching the network, when DATABASE_URL is missing", async () => {
    delete process.env.DATABASE_URL;
    const trips = await countRoundTrips(async () => {
      const r = await get();
      expect(r.status).toBe(500);
      expect(r.body).toEqual({
        ok: false,
        error: "misconfigured",
        misconfigured: ["DATABASE_URL"],
      });
    });
    expect(trips).toBe(0);
    expect(captured.some((l) => l.includes('"variables":["DATABASE_URL"]'))).toBe(true);
  });
});

describe("GET /api/health: configuration", () => {
  const healthLines = () =>
    captured
      .filter((l) => l.includes('"event":"health"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  it("503 when the webhook has no signing secret, naming it; still one SQL round trip", async () => {
    delete process.env.CLERK_WEBHOOK_SIGNING_SECRET;
    let r: Awaited<ReturnType<typeof get>> | undefined;
    const trips = await countRoundTrips(async () => {
      r = await get();
    });
    expect(trips).toBe(1);
    expect(r!.status).toBe(503);
    expect(r!.body).toEqual({
      ok: false,
      db: "up",
      migrations: MIGRATIONS.at(-1)?.tag,
      migrations_applied: MIGRATIONS.length,
      migrations_pending: 0,
      schema: "ok",
      misconfigured: ["CLERK_WEBHOOK_SIGNING_SECRET"],
      error: "misconfigured",
    });
    expect(healthLines().at(-1)).toMatchObject({
      level: "error",
      status: 503,
      error: "misconfigured",
      variables: ["CLERK_WEBHOOK_SIGNING_SECRET"],
    });
    expect((await get("HEAD")).status).toBe(503);
  });

  it.each([
    ["bad base64 padding", BAD_PADDING],
    ["not a whsec_ secret", NOT_WHSEC],
    ["a good secret next to a bad one", `${TEST_SECRET} ${BAD_PADDING}`],
  ])(
    "503 for a malformed signing secret (%s), never echoing it; the webhook agrees",
    async (_, value) => {
      process.env.CLERK_WEBHOOK_SIGNING_SECRET = value;
      const r = await get();
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ ok: false, misconfigured: ["CLERK_WEBHOOK_SIGNING_SECRET"] });
      expect(JSON.stringify(r.body)).not.toContain(value.slice(6, 20));
      // The webhook cannot verify with it either: it refuses as misconfigured, writing nothing.
      const webhook = await deliver("{}");
      expect(webhook.status).toBe(500);
      expect(webhook.body).toMatchObject({ ok: false, error: "misconfigured" });
    },
  );

  it("checks /api/me's settings once it is in use, naming what would make it answer 500", async () => {
    const pem = publicKeyPem(generateSigningKey());
    // Not in use: none of its settings is set, and nothing is reported.
    expect((await get()).body).toMatchObject({ ok: true, misconfigured: [] });

    // A key pasted badly (not a PEM public key), and no secret key for the on-demand sync.
    process.env.CLERK_JWT_KEY = "pk_test_not_a_pem_public_key";
    let r = await get();
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({
      ok: false,
      error: "misconfigured",
      misconfigured: ["CLERK_JWT_KEY", "CLERK_SECRET_KEY"],
    });
    // /api/me agrees: 500 misconfigured, before any token is looked at.
    const me = await meGET(new Request("https://sync.example.test/api/me"));
    expect(me.status).toBe(500);

    // Origins alone put it in use too; a path is not an origin.
    delete process.env.CLERK_JWT_KEY;
    process.env.CLERK_AUTHORIZED_PARTIES = "https://app.example.com/dashboard";
    process.env.CLERK_SECRET_KEY = "sk_test_health";
    r = await get();
    expect(r.body).toMatchObject({ misconfigured: ["CLERK_JWT_KEY", "CLERK_AUTHORIZED_PARTIES"] });

    process.env.CLERK_JWT_KEY = pem.replace(/\n/g, "\\n");
    process.env.CLERK_AUTHORIZED_PARTIES = "https://app.example.com";
    r = await get();
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true, misconfigured: [] });
  });

  it("outside production, no CRON_SECRET is fine (Vercel Cron only calls production)", async () => {
    process.env.VERCEL_ENV = "preview";
    const r = await get();
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true, misconfigured: [] });
  });

  it("in production, a cron that cannot run (no CRON_SECRET) or send (no RESEND_API_KEY) is reported by name", async () => {
    process.env.VERCEL_ENV = "production";
    // The tests' database is the local SQL endpoint, which production refuses
    // (NEON_LOCAL_FETCH_ENDPOINT): that name is reported too, and the check stops before the network.
    process.env.EMAIL_FROM = "Mentoria <boas-vindas@mentoria.example>";
    const noCron = await countRoundTrips(async () => {
      const r = await get();
      expect(r.status).toBe(500);
      expect(r.body).toEqual({
        ok: false,
        error: "misconfigured",
        misconfigured: ["NEON_LOCAL_FETCH_ENDPOINT", "CRON_SECRET", "RESEND_API_KEY"],
      });
    });
    expect(noCron).toBe(0);

    process.env.CRON_SECRET = CRON_SECRET;
    process.env.RESEND_API_KEY = RESEND_API_KEY;
    const fixed = await get();
    expect(fixed.body).toEqual({
      ok: false,
      error: "misconfigured",
      misconfigured: ["NEON_LOCAL_FETCH_ENDPOINT"],
    });
    process.env.CRON_SECRET = "short";
    expect((await get()).body.misconfigured).toEqual(["NEON_LOCAL_FETCH_ENDPOINT", "CRON_SECRET"]);
    expect(healthLines().some((l) => JSON.stringify(l).includes("short"))).toBe(false);
  });

  it("in production, only the cron's missing secret is named once the rest is right (the 503 path above)", async () => {
    const { misconfiguredVariables } = await import("../lib/config-check.js");
    process.env.VERCEL_ENV = "production";
    process.env.RESEND_API_KEY = RESEND_API_KEY;
    process.env.EMAIL_FROM = "Mentoria <boas-vindas@mentoria.example>";
    expect(misconfiguredVariables()).toEqual(["CRON_SECRET"]);
    process.env.CRON_SECRET = CRON_SECRET;
    expect(misconfiguredVariables()).toEqual([]);
    delete process.env.CLERK_WEBHOOK_SIGNING_SECRET;
    expect(misconfiguredVariables()).toEqual(["CLERK_WEBHOOK_SIGNING_SECRET"]);
  });
});

describe("drizzle/migrations.ts", () => {
  it("matches drizzle-kit's journal (run npm run db:generate)", async () => {
    const { renderMigrationsModule } = await import("../scripts/db/write-journal.js");
    const { readFileSync } = await import("node:fs");
    expect(readFileSync(new URL("../drizzle/migrations.ts", import.meta.url), "utf8")).toBe(
      renderMigrationsModule(),
    );
  });
});
