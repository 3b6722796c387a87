// Which migrations a database has, from drizzle.__drizzle_migrations: the one read and the one rule
// behind /api/health's `migrations_*` fields and the build's BUILD_MIGRATIONS=check.
import { sql } from "drizzle-orm";
import { MIGRATIONS } from "../drizzle/migrations.js";
import type { Db } from "./db.js";

export type Migration = (typeof MIGRATIONS)[number];

/** SQLSTATE of reading the migrations table where migrations never ran (no table, no schema). */
export const NOT_MIGRATED = "42P01";

/**
 * How many migrations are applied and the latest one's `created_at` (null: none), in one select:
 * no DDL and no lock, so a role without CREATE can ask. Throws NOT_MIGRATED if none ever ran.
 */
export async function readMigrations(db: Db): Promise<{ applied: number; latest: number | null }> {
  const result = await db.execute<{ applied: number; latest: string | null }>(
    sql`select count(*)::int as applied, max(created_at)::text as latest
        from drizzle.__drizzle_migrations`,
  );
  const row = result.rows[0];
  return { applied: Number(row?.applied ?? 0), latest: row?.latest ? Number(row.latest) : null };
}

/** The migrations not applied to a database whose latest applied one is `latest` (null: none). */
export function pendingMigrations(latest: number | null): Migration[] {
  return MIGRATIONS.filter((m) => latest === null || m.when > latest);
}

/** A migration's drizzle-kit tag from its `created_at` (the number itself if it is not ours). */
export function migrationTag(createdAt: number): string {
  return MIGRATIONS.find((m) => m.when === createdAt)?.tag ?? String(createdAt);
}
