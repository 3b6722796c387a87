// GET /api/health through the real function: one SQL round trip, 200 with the latest migration;
// 503 when the database cannot be reached or fails; 500 when DATABASE_URL is missing.
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { GET, HEAD } from "../api/health.js";
import { MIGRATIONS } from "../drizzle/migrations.js";
import { control, countRoundTrips } from "./helpers/endpoint-control.js";
import { captured } from "./helpers/log-capture.js";

const URL_ = "https://sync.example.test/api/health";
const saved = {
  endpoint: process.env.NEON_LOCAL_FETCH_ENDPOINT,
  url: process.env.DATABASE_URL,
};

afterEach(async () => {
  process.env.NEON_LOCAL_FETCH_ENDPOINT = saved.endpoint;
  process.env.DATABASE_URL = saved.url;
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
      expect(r.body).toEqual({ ok: false, error: "misconfigured" });
    });
    expect(trips).toBe(0);
    expect(captured.some((l) => l.includes('"variables":["DATABASE_URL"]'))).toBe(true);
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
