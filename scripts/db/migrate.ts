// Applies drizzle-kit's generated migrations over the Neon HTTP driver: the same path the function
// uses, so it works against Neon from a Vercel build and against the local SQL endpoint.
//
// Unlike drizzle's own neon-http migrator (one HTTP request per statement, no transaction), each
// migration here is ONE batch, so ONE transaction: its statements and its row in
// drizzle.__drizzle_migrations commit together or not at all. The table and its columns are
// drizzle's, so `drizzle-kit migrate` and this runner agree on what has been applied. A
// transaction-scoped advisory lock serialises concurrent runners (two preview builds at once).
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { readMigrationFiles } from "drizzle-orm/migrator";
import type { Db } from "../../lib/db.js";
import { sqlState } from "../../lib/db-error.js";
import {
  type Migration,
  NOT_MIGRATED,
  pendingMigrations,
  readMigrations,
} from "../../lib/migrations.js";
import { connectionProblem, describeConnectionProblem } from "./connection-error.js";

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../../drizzle", import.meta.url));
const LOCK_KEY = 7_243_114_001; // arbitrary, constant: "clerk-neon-sync migrations"

export interface MigrateResult {
  applied: string[];
  total: number;
}

async function lastApplied(db: Db): Promise<number> {
  await db.execute(sql`create schema if not exists drizzle`);
  await db.execute(sql`create table if not exists drizzle.__drizzle_migrations (
    id serial primary key, hash text not null, created_at bigint)`);
  const r = await db.execute<{ created_at: string | null }>(
    sql`select max(created_at)::text as created_at from drizzle.__drizzle_migrations`,
  );
  return Number(r.rows[0]?.created_at ?? 0);
}

export async function migrate(db: Db, folder = MIGRATIONS_FOLDER): Promise<MigrateResult> {
  const migrations = readMigrationFiles({ migrationsFolder: folder });
  const applied: string[] = [];
  let last = await lastApplied(db);
  for (const m of migrations) {
    if (m.folderMillis <= last) continue;
    const statements = m.sql.map((s) => s.trim()).filter(Boolean);
    try {
      await db.batch([
        db.execute(sql`select pg_advisory_xact_lock(${LOCK_KEY})`),
        ...statements.map((s) => db.execute(sql.raw(s))),
        db.execute(
          sql`insert into drizzle.__drizzle_migrations (hash, created_at) values (${m.hash}, ${m.folderMillis})`,
        ),
      ]);
      applied.push(m.hash);
    } catch (err) {
      // Another runner may have applied it while we waited for the lock: then our DDL failed.
      last = await lastApplied(db);
      if (m.folderMillis <= last) continue;
      throw err;
    }
    last = m.folderMillis;
  }
  return { applied, total: migrations.length };
}

/**
 * The migrations this database lacks, read-only (lib/migrations.ts readMigrations), so the
 * functions' least-privilege role can ask. Never migrated: all are pending.
 */
export async function unappliedMigrations(db: Db): Promise<Migration[]> {
  try {
    return pendingMigrations((await readMigrations(db)).latest);
  } catch (err) {
    if (sqlState(err) === NOT_MIGRATED) return pendingMigrations(null);
    throw err;
  }
}

/**
 * One line saying why migrating failed: the connection problem when the database could not be
 * used at all (host, login, database missing), else the failing statement's SQLSTATE and the
 * database's message (migrations carry no row values).
 */
export function explainMigrationFailure(
  err: unknown,
  // The two variables, not process.env itself: Bun's ProcessEnv type shares no declared key.
  env: { DATABASE_URL?: string | undefined; NEON_LOCAL_FETCH_ENDPOINT?: string | undefined } = {
    DATABASE_URL: process.env.DATABASE_URL,
    NEON_LOCAL_FETCH_ENDPOINT: process.env.NEON_LOCAL_FETCH_ENDPOINT,
  },
): string {
  const problem = connectionProblem(err);
  if (problem && env.DATABASE_URL && URL.canParse(env.DATABASE_URL)) {
    return describeConnectionProblem(
      problem,
      "DATABASE_URL",
      env.DATABASE_URL,
      env.NEON_LOCAL_FETCH_ENDPOINT || undefined,
    );
  }
  const e = err as { message?: unknown; cause?: { message?: unknown; code?: unknown } };
  const cause = e?.cause;
  const detail =
    cause && typeof cause.message === "string"
      ? `: ${cause.message}${typeof cause.code === "string" ? ` (SQLSTATE ${cause.code})` : ""}`
      : "";
  // drizzle's message is "Failed query: <sql>\nparams: …": its first line, then the cause's.
  return `${String(e?.message ?? err).split("\n")[0] ?? ""}${detail.split("\n")[0] ?? ""}`;
}

async function main(): Promise<void> {
  const { getDb } = await import("../../lib/db.js");
  const started = Date.now();
  const result = await migrate(getDb());
  console.log(
    `migrations: ${result.applied.length} applied, ${result.total} in total (${Date.now() - started} ms)`,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(`migration failed: ${explainMigrationFailure(err)}`);
    process.exit(1);
  });
}
