// Which of our migrations a database has, from OUR journal (clerk_sync.__drizzle_migrations), and
// whether its schema has the shape the sync needs: the one read behind /api/health's `migrations_*`
// and `schema` fields and the build's checks.
//
// A migration is applied when our journal holds a row with its identity: the `when` drizzle-kit
// gave it (stored as created_at, unique per migration in drizzle/meta/_journal.json), never "older
// than the newest row", so an app's journal can neither hide ours nor be hidden by it.
import { sql } from "drizzle-orm";
import { MIGRATIONS } from "../drizzle/migrations.js";
import { OWN_SCHEMA } from "../drizzle/schema.js";
import type { Db } from "./db.js";
import { shapeProblems } from "./schema-shape.js";

export type Migration = (typeof MIGRATIONS)[number];

/**
 * Our migration journal: drizzle's columns (so `drizzle-kit migrate` agrees), in our schema. A row
 * without created_at is not a migration of drizzle/ (db:adopt's `adopt`): never counted as one.
 */
export const JOURNAL = `${OWN_SCHEMA}.__drizzle_migrations`;

/** SQLSTATE of reading our journal where none of our migrations ever ran (no table, no schema). */
export const NOT_MIGRATED = "42P01";

export interface DatabaseState {
  /** The `when` (created_at) of every migration our journal records. */
  applied: number[];
  /** Objects the sync needs that are missing or unusable (lib/schema-shape.ts); empty when fine. */
  problems: string[];
}

const readState = sql`select
    (select coalesce(jsonb_agg(created_at::text order by created_at), '[]'::jsonb)
       from ${sql.raw(JOURNAL)} where created_at is not null) as applied,
    ${shapeProblems()} as problems`;

/**
 * Our journal and the schema's shape in ONE select (one round trip): no DDL and no lock, so a role
 * without CREATE can ask. Throws NOT_MIGRATED when our journal does not exist.
 */
export async function readDatabaseState(db: Db): Promise<DatabaseState> {
  const result = await db.execute<{ applied: string[]; problems: string[] }>(readState);
  const row = result.rows[0];
  return { applied: (row?.applied ?? []).map(Number), problems: row?.problems ?? [] };
}

/** Our migrations whose identity is not in `applied`, in the journal's order. */
export function pendingMigrations(applied: readonly number[]): Migration[] {
  const done = new Set(applied);
  return MIGRATIONS.filter((m) => !done.has(m.when));
}

/** The latest of our migrations that is applied (by the journal's order), or null. */
export function latestApplied(applied: readonly number[]): Migration | null {
  const done = new Set(applied);
  return MIGRATIONS.filter((m) => done.has(m.when)).at(-1) ?? null;
}
