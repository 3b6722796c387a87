// Which migrations a database has, from the latest `created_at` in drizzle.__drizzle_migrations:
// the one rule behind /api/health's `migrations_pending` and the build's BUILD_MIGRATIONS=check.
import { MIGRATIONS } from "../drizzle/migrations.js";

export type Migration = (typeof MIGRATIONS)[number];

/** The migrations not applied to a database whose latest applied one is `latest` (null: none). */
export function pendingMigrations(latest: number | null): Migration[] {
  return MIGRATIONS.filter((m) => latest === null || m.when > latest);
}

/** A migration's drizzle-kit tag from its `created_at` (the number itself if it is not ours). */
export function migrationTag(createdAt: number): string {
  return MIGRATIONS.find((m) => m.when === createdAt)?.tag ?? String(createdAt);
}
