// Measures the backfill's throughput end to end: the local Clerk stand-in serving N users ->
// @clerk/backend -> zod -> applyUsers (one batch per page) -> the local Neon SQL endpoint -> a
// fresh PostgreSQL database created for the run and dropped after it.
//
//   npx tsx scripts/backfill-bench.ts [--users 100000] [--batch 500]
//     [--admin-url postgres://postgres@127.0.0.1:5432/postgres] [--pglite]
import { parseArgs } from "node:util";
import { sql } from "drizzle-orm";
import pg from "pg";
import { clerkSource } from "./backfill/clerk.js";
import { runBackfill } from "./backfill/run.js";
import { migrate } from "./db/migrate.js";
import { generateUsers, startClerkApi } from "./local/clerk-api.js";
import { openBackend } from "./local/sql-backends.js";
import { startSqlEndpoint } from "./local/sql-endpoint.js";

const { values } = parseArgs({
  options: {
    users: { type: "string", default: "100000" },
    batch: { type: "string", default: "500" },
    "admin-url": { type: "string", default: "postgres://postgres@127.0.0.1:5432/postgres" },
    pglite: { type: "boolean", default: false },
  },
});
const n = Number(values.users);
const batch = Number(values.batch);

async function main(): Promise<void> {
  let dbName: string | undefined;
  let databaseUrl: string | undefined;
  if (!values.pglite) {
    dbName = `cns_backfill_bench_${Date.now()}`;
    const admin = new pg.Client({ connectionString: values["admin-url"] });
    await admin.connect();
    await admin.query(`create database ${dbName}`);
    await admin.end();
    const u = new URL(values["admin-url"]);
    u.pathname = `/${dbName}`;
    databaseUrl = u.toString();
  }
  const backend = await openBackend({ databaseUrl, poolSize: 4 });
  const endpoint = await startSqlEndpoint({ backend, control: true });
  process.env.DATABASE_URL = "postgres://local:local@localhost:5432/bench";
  process.env.NEON_LOCAL_FETCH_ENDPOINT = endpoint.url;
  const { getDb } = await import("../lib/db.js");
  const db = getDb();
  try {
    await migrate(db);
    let t = performance.now();
    const api = await startClerkApi({ users: generateUsers(n) });
    console.log(`stand-in: ${api.size} users built in ${Math.round(performance.now() - t)} ms`);
    const clerk = clerkSource({ secretKey: api.secretKey, apiUrl: api.url });
    endpoint.resetStats();
    t = performance.now();
    const result = await runBackfill({
      db,
      clerk,
      defaultTurma: "neon_estrutura",
      options: { batch },
    });
    const ms = performance.now() - t;
    console.log(
      `backfill of ${result.usersSeen} users into ${backend.description}: ${(ms / 1000).toFixed(2)} s ` +
        `(${Math.round((1000 * result.usersSeen) / ms)} users/s), ${result.pages} pages, ` +
        `${endpoint.stats.requests} SQL round trips, ${api.stats.requests} Clerk requests`,
    );
    console.log(`counts: ${JSON.stringify(result.counts)}`);
    const r = await db.execute<{ users: number; mentorados: number; outbox: number }>(
      sql.raw(`select (select count(*) from users)::int as users,
        (select count(*) from mentorados)::int as mentorados,
        (select count(*) from clerk_sync.email_outbox)::int as outbox`),
    );
    console.log(`rows: ${JSON.stringify(r.rows[0])}`);
    t = performance.now();
    const again = await runBackfill({
      db,
      clerk,
      defaultTurma: "neon_estrutura",
      options: { batch },
    });
    console.log(
      `re-run (all duplicates): ${((performance.now() - t) / 1000).toFixed(2)} s, ${JSON.stringify(again.counts)}`,
    );
    await api.close();
  } finally {
    await endpoint.close();
    await backend.close();
    if (dbName) {
      const admin = new pg.Client({ connectionString: values["admin-url"] });
      await admin.connect();
      await admin.query(`drop database if exists ${dbName} with (force)`);
      await admin.end();
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
