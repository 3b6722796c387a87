-- The service's own objects move out of `public` into the schema `clerk_sync` (docs/database-layout.md),
-- with every row: ALTER TABLE ... SET SCHEMA moves a table with its indexes, constraints and
-- identity sequence, rewrites nothing, and keeps foreign keys (email_outbox -> mentorados) as they
-- are. `users`, `mentorados` and email_key() stay in `public`, where the app has them. The whole
-- migration is one transaction (scripts/db/migrate.ts), with the import of our journal rows.
-- A database whose app already owns `users` and `mentorados` never runs this: it gets
-- drizzle/baseline/clerk_sync.sql instead (scripts/db/migrate.ts).
CREATE SCHEMA IF NOT EXISTS "clerk_sync";--> statement-breakpoint
ALTER TABLE "public"."clerk_webhook_events" SET SCHEMA "clerk_sync";--> statement-breakpoint
ALTER TABLE "public"."email_outbox" SET SCHEMA "clerk_sync";--> statement-breakpoint
ALTER TABLE "public"."sync_runs" SET SCHEMA "clerk_sync";
