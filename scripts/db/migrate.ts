// Applies drizzle-kit's generated migrations over the Neon HTTP driver: the same path the function
// uses, so it works against Neon from a Vercel build and against the local SQL endpoint.
//
// Each migration is ONE batch, so ONE transaction: its statements and its row in OUR journal
// (clerk_sync.__drizzle_migrations: drizzle's columns, in our own schema) commit together or not
// at all. A migration is applied when our journal holds its identity (its `when`), whatever else
// is recorded: never "newer than the newest row", the rule by which drizzle's own migrator skips
// migrations when two projects share one journal. A transaction-scoped advisory lock serialises
// concurrent runners (two preview builds at once).
//
// Which migrations a database gets (docs/database-layout.md):
//   - our journal exists: the ones it lacks;
//   - no journal of ours, but drizzle.__drizzle_migrations holds our rows (a database migrated by
//     an earlier version, which kept its journal there): those rows move to our journal, in the
//     same transaction as the first migration applied (0003 moves our tables into clerk_sync);
//   - neither, and the app already owns `users` or `mentorados`: drizzle/baseline/clerk_sync.sql
//     creates our schema's objects only, standing for 0000-0003 (which would create the app's
//     tables); nothing of the app's is created, altered or read;
//   - an empty database: every migration, in order.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type SQL, sql } from "drizzle-orm";
import { type MigrationMeta, readMigrationFiles } from "drizzle-orm/migrator";
import { MIGRATIONS } from "../../drizzle/migrations.js";
import type { Db } from "../../lib/db.js";
import { sqlState } from "../../lib/db-error.js";
import {
  JOURNAL,
  type Migration,
  NOT_MIGRATED,
  pendingMigrations,
  readDatabaseState,
} from "../../lib/migrations.js";
import { ROUTINES } from "../../lib/sync/routines.js";
import { connectionProblem, describeConnectionProblem } from "./connection-error.js";

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../../drizzle", import.meta.url));
const BASELINE_FILE = fileURLToPath(
  new URL("../../drizzle/baseline/clerk_sync.sql", import.meta.url),
);
/** The last migration drizzle/baseline/clerk_sync.sql stands for. */
export const BASELINE_COVERS = "0003_clerk_sync_schema";
/** Where an earlier version of this service kept its journal (shared with the app's drizzle). */
const LEGACY_JOURNAL = "drizzle.__drizzle_migrations";
const LOCK_KEY = 7_243_114_001; // arbitrary, constant: "clerk-neon-sync migrations"

export interface MigrateResult {
  applied: string[];
  total: number;
  /** The sync's routines (lib/sync/routines.ts) this run created: none when all were there. */
  routines: string[];
  /** How the database was taken: `upgrade` (journal moved), `baseline` (app database), or none. */
  layout?: "upgrade" | "baseline" | undefined;
}

type Layout = "ours" | "upgrade" | "app" | "empty";

const OUR_WHENS = sql.raw(`(${MIGRATIONS.map((m) => m.when).join(", ")})`);

/** One catalog read: which journals exist and whether the app's tables are already there. */
async function inspect(db: Db): Promise<{ layout: Layout; applied: Set<number> }> {
  const r = await db.execute<{ ours: boolean; legacy: boolean; app_tables: boolean }>(sql`select
      to_regclass(${JOURNAL}) is not null as ours,
      to_regclass(${LEGACY_JOURNAL}) is not null as legacy,
      (to_regclass('public.users') is not null or to_regclass('public.mentorados') is not null)
        as app_tables`);
  const row = r.rows[0];
  if (row?.ours) {
    const j = await db.execute<{ created_at: string }>(
      sql`select created_at::text as created_at from ${sql.raw(JOURNAL)} where created_at is not null`,
    );
    return { layout: "ours", applied: new Set(j.rows.map((x) => Number(x.created_at))) };
  }
  if (row?.legacy) {
    // Only rows with our migrations' identities: the app's own rows are not ours to read.
    const j = await db.execute<{ created_at: string }>(
      sql`select created_at::text as created_at from ${sql.raw(LEGACY_JOURNAL)}
          where created_at in ${OUR_WHENS}`,
    );
    if (j.rows.length > 0)
      return { layout: "upgrade", applied: new Set(j.rows.map((x) => Number(x.created_at))) };
  }
  return { layout: row?.app_tables ? "app" : "empty", applied: new Set() };
}

const journalStatements = (): SQL[] => [
  sql`select pg_advisory_xact_lock(${LOCK_KEY})`,
  sql`create schema if not exists clerk_sync`,
  sql`create table if not exists ${sql.raw(JOURNAL)} (
    id serial primary key, hash text not null, created_at bigint,
    tag text, origin text not null default 'applied', applied_at timestamptz not null default now())`,
];

/** Our rows move from the shared drizzle journal to ours (the app's rows stay, untouched). */
const importLegacy = (): SQL[] => [
  sql`insert into ${sql.raw(JOURNAL)} (hash, created_at, tag, origin)
    select l.hash, l.created_at, m.tag, 'moved from ${sql.raw(LEGACY_JOURNAL)}'
    from ${sql.raw(LEGACY_JOURNAL)} l
    join (values ${sql.join(
      MIGRATIONS.map((m) => sql`(${m.when}::bigint, ${m.tag})`),
      sql`, `,
    )}) as m(created_at, tag) on m.created_at = l.created_at
    where not exists (select 1 from ${sql.raw(JOURNAL)} o where o.created_at = l.created_at)`,
  // Left there, our rows (dated after the app's older migrations) would keep making drizzle's
  // own migrator skip the app's pending ones.
  sql`delete from ${sql.raw(LEGACY_JOURNAL)} where created_at in ${OUR_WHENS}`,
];

const record = (m: { hash: string; when: number; tag: string }, origin: string): SQL =>
  sql`insert into ${sql.raw(JOURNAL)} (hash, created_at, tag, origin)
    select ${m.hash}, ${m.when}, ${m.tag}, ${origin}
    where not exists (select 1 from ${sql.raw(JOURNAL)} where created_at = ${m.when})`;

/** The SQL statements of a migration file (drizzle-kit's breakpoints), without empty ones. */
function statementsOf(text: string): string[] {
  return text
    .split("--> statement-breakpoint")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A failure while applying one migration, naming it (explainMigrationFailure prints both). */
export class MigrationError extends Error {
  constructor(
    readonly tag: string,
    override readonly cause: unknown,
  ) {
    super(`migration ${tag} failed`);
  }
}

async function runBatch(db: Db, tag: string, statements: SQL[]): Promise<void> {
  try {
    const [first, ...rest] = statements.map((s) => db.execute(s));
    if (first) await db.batch([first, ...rest]);
  } catch (err) {
    throw new MigrationError(tag, err);
  }
}

export async function migrate(db: Db, folder = MIGRATIONS_FOLDER): Promise<MigrateResult> {
  const migrations = readMigrationFiles({ migrationsFolder: folder });
  const tagOf = new Map(MIGRATIONS.map((m) => [m.when, m.tag]));
  const tag = (m: MigrationMeta) => tagOf.get(m.folderMillis) ?? String(m.folderMillis);
  const applied: string[] = [];
  let { layout, applied: done } = await inspect(db);
  const taken = layout === "upgrade" ? "upgrade" : layout === "app" ? "baseline" : undefined;

  if (layout === "app") {
    const covered = migrations.slice(
      0,
      migrations.findIndex((m) => tag(m) === BASELINE_COVERS) + 1,
    );
    await runBatch(db, "baseline", [
      ...journalStatements(),
      ...statementsOf(readFileSync(BASELINE_FILE, "utf8")).map((s) => sql.raw(s)),
      ...covered.map((m) =>
        record({ hash: m.hash, when: m.folderMillis, tag: tag(m) }, "baseline"),
      ),
    ]).catch(async (err: unknown) => {
      // Another runner may have taken the database while we waited for the lock.
      ({ layout, applied: done } = await inspect(db));
      if (layout !== "ours") throw err;
    });
    applied.push("baseline");
    for (const m of covered) done.add(m.folderMillis);
  }

  let first = layout === "upgrade";
  for (const m of migrations) {
    if (done.has(m.folderMillis)) continue;
    try {
      await runBatch(db, tag(m), [
        ...journalStatements(),
        ...(first ? importLegacy() : []),
        ...m.sql
          .map((s) => s.trim())
          .filter(Boolean)
          .map((s) => sql.raw(s)),
        record({ hash: m.hash, when: m.folderMillis, tag: tag(m) }, "applied"),
      ]);
      applied.push(tag(m));
    } catch (err) {
      // Another runner may have applied it while we waited for the lock: then our DDL failed.
      ({ applied: done } = await inspect(db));
      if (!done.has(m.folderMillis)) throw err;
    }
    first = false;
    done.add(m.folderMillis);
  }
  if (first && layout === "upgrade") {
    // Every migration was applied under the old journal: only the journal moves.
    await runBatch(db, "journal", [...journalStatements(), ...importLegacy()]);
  }
  return {
    applied,
    total: migrations.length,
    routines: await createRoutines(db),
    layout: taken,
  };
}

/**
 * The sync's routines, built from this checkout's statements and mapping: created when missing,
 * after the migrations (they name the tables those create). Each name carries its version, so an
 * existing one is already this version and is left alone: re-creating it would make every
 * connection re-plan it. Older versions are not dropped (a deployment still serving during a
 * rollout calls them; docs/database-layout.md says how to remove them).
 */
export async function createRoutines(db: Db): Promise<string[]> {
  const present = await db.execute<{ signature: string }>(sql`select s as signature
    from unnest(${`{${ROUTINES.map((r) => `"${r.signature}"`).join(",")}}`}::text[]) as s
    where to_regprocedure(s) is not null`);
  const have = new Set(present.rows.map((r) => r.signature));
  const missing = ROUTINES.filter((r) => !have.has(r.signature));
  if (missing.length === 0) return [];
  await runBatch(db, "routines", [
    sql`select pg_advisory_xact_lock(${LOCK_KEY})`,
    ...missing.map((r) => sql.raw(r.create)),
  ]);
  return missing.map((r) => r.name);
}

/** What the build's check finds: migrations not applied, and what the schema lacks. */
export interface DatabaseCheck {
  pending: Migration[];
  problems: string[];
}

/**
 * The migrations this database lacks and the objects the sync needs that it lacks, read-only (one
 * select of our journal and the schema's shape, lib/migrations.ts), so the functions'
 * least-privilege role can ask. No journal of ours: read which migrations an earlier version
 * recorded, if any (those are not pending; the journal's move is).
 */
export async function checkDatabase(db: Db): Promise<DatabaseCheck> {
  try {
    const state = await readDatabaseState(db);
    return { pending: pendingMigrations(state.applied), problems: state.problems };
  } catch (err) {
    if (sqlState(err) !== NOT_MIGRATED) throw err;
    const { applied } = await inspect(db);
    return { pending: pendingMigrations([...applied]), problems: [] };
  }
}

/** The migrations this database lacks (checkDatabase without the shape). */
export async function unappliedMigrations(db: Db): Promise<Migration[]> {
  return (await checkDatabase(db)).pending;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

/**
 * A postgres:// URL on this machine reaches the Neon HTTP driver only through the local SQL
 * endpoint: without NEON_LOCAL_FETCH_ENDPOINT the driver would ask https://api.<host>/sql and fail
 * with "Failed to parse URL". The line that says what to do instead; undefined when fine.
 */
export function localUrlProblem(
  // Any record of variables (process.env included: Bun's ProcessEnv type declares no key of these).
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const url = env.DATABASE_URL;
  if (!url || env.NEON_LOCAL_FETCH_ENDPOINT || !URL.canParse(url)) return undefined;
  if (!LOOPBACK.test(new URL(url).hostname)) return undefined;
  return (
    "DATABASE_URL points at a PostgreSQL on this machine, which the Neon HTTP driver reaches only " +
    "through the local SQL endpoint: start `npm run dev` (with this DATABASE_URL it serves one and " +
    "migrates through it), or set NEON_LOCAL_FETCH_ENDPOINT to a running endpoint's URL"
  );
}

/** The driver's error in a chain of wrappers (MigrationError, drizzle's "Failed query"). */
function databaseError(err: unknown): { message: string; code: string } | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 6 && typeof e === "object" && e !== null; depth++) {
    const { message, code, cause } = e as { message?: unknown; code?: unknown; cause?: unknown };
    if (typeof code === "string" && sqlState(e) === code && typeof message === "string")
      return { message, code };
    e = cause;
  }
  return undefined;
}

/**
 * One line saying why migrating failed: the connection problem when the database could not be
 * used at all (host, login, database missing), else the migration, the failing statement's
 * SQLSTATE and the database's message, which names the object (migrations carry no row values).
 */
export function explainMigrationFailure(
  err: unknown,
  // The two variables, not process.env itself: Bun's ProcessEnv type shares no declared key.
  env: { DATABASE_URL?: string | undefined; NEON_LOCAL_FETCH_ENDPOINT?: string | undefined } = {
    DATABASE_URL: process.env.DATABASE_URL,
    NEON_LOCAL_FETCH_ENDPOINT: process.env.NEON_LOCAL_FETCH_ENDPOINT,
  },
): string {
  const local = localUrlProblem(env);
  if (local) return local;
  const problem = connectionProblem(err);
  if (problem && env.DATABASE_URL && URL.canParse(env.DATABASE_URL)) {
    return describeConnectionProblem(
      problem,
      "DATABASE_URL",
      env.DATABASE_URL,
      env.NEON_LOCAL_FETCH_ENDPOINT || undefined,
    );
  }
  const where = err instanceof MigrationError ? `${err.tag}: ` : "";
  const pg = databaseError(err);
  if (pg) return `${where}${pg.message.split("\n")[0]} (SQLSTATE ${pg.code})`;
  // drizzle's message is "Failed query: <sql>\nparams: …": its first line only.
  const e = (err instanceof MigrationError ? err.cause : err) as { message?: unknown };
  return `${where}${String(e?.message ?? err).split("\n")[0] ?? ""}`;
}

async function main(): Promise<void> {
  const local = localUrlProblem(process.env);
  if (local) {
    console.error(`migration failed: ${local}`);
    process.exit(1);
  }
  const { getDb } = await import("../../lib/db.js");
  const started = Date.now();
  const db = getDb();
  if (process.argv.includes("--routines-only")) {
    // db:adopt, right after writing drizzle/mapping.ts: the routines for that mapping, built by a
    // process that loaded it. One JSON line: what was created.
    console.log(JSON.stringify({ routines: await createRoutines(db) }));
    return;
  }
  const result = await migrate(db);
  const how =
    result.layout === "baseline"
      ? "; the app owns users and mentorados: only our schema clerk_sync was created"
      : result.layout === "upgrade"
        ? "; our journal moved from drizzle.__drizzle_migrations to clerk_sync"
        : "";
  const routines =
    result.routines.length > 0 ? `; routines created: ${result.routines.join(", ")}` : "";
  console.log(
    `migrations: ${result.applied.length} applied, ${result.total} in total (${Date.now() - started} ms${how}${routines})`,
  );
  const { problems } = await checkDatabase(db);
  if (problems.length > 0) {
    console.error(
      `schema: the database lacks what the sync needs: ${problems.join("; ")} ` +
        "(see docs/database-layout.md)",
    );
    process.exit(1);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(`migration failed: ${explainMigrationFailure(err)}`);
    process.exit(1);
  });
}
