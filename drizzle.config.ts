import { defineConfig } from "drizzle-kit";

// `npm run db:generate` only diffs schema.ts against the committed snapshots: no database needed.
// Migrations are applied by scripts/db/migrate.ts over the Neon HTTP driver (see README).
export default defineConfig({
  dialect: "postgresql",
  schema: "./drizzle/schema.ts",
  out: "./drizzle",
  // If anyone runs `drizzle-kit migrate` with this config: our journal, in our schema, never the
  // app's drizzle.__drizzle_migrations (docs/database-layout.md).
  migrations: { schema: "clerk_sync", table: "__drizzle_migrations" },
});
