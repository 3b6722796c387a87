-- Our schema's objects for a database whose app already owns `users` and `mentorados`
-- (docs/database-layout.md). scripts/db/migrate.ts applies this file, in one transaction, INSTEAD
-- of migrations 0000_init to 0003_clerk_sync_schema, which create those two tables and would
-- collide with the app's: it creates only objects in the schema clerk_sync, as those migrations
-- leave them (a test compares the two), and records the four in our journal as `baseline`.
-- What the sync needs in the app's own tables (its columns, email_key(), the unique indexes) is
-- checked by /api/health and the build, never created here.
CREATE SCHEMA IF NOT EXISTS "clerk_sync";
--> statement-breakpoint
CREATE TABLE "clerk_sync"."clerk_webhook_events" (
	"svix_id" text PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"clerk_user_id" text,
	"outcome" text NOT NULL,
	"event_timestamp" timestamp with time zone,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "clerk_sync"."email_outbox" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "clerk_sync"."email_outbox_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"kind" text NOT NULL,
	"mentorado_id" integer NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"locked_until" timestamp with time zone,
	"last_error" text,
	"provider_message_id" text,
	"sent_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "email_outbox_kind_mentorado_id_key" UNIQUE("kind","mentorado_id")
);
--> statement-breakpoint
CREATE TABLE "clerk_sync"."sync_runs" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "clerk_sync"."sync_runs_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"kind" text NOT NULL,
	"status" text DEFAULT 'running' NOT NULL,
	"options" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"next_offset" integer DEFAULT 0 NOT NULL,
	"next_cursor" text,
	"pages" integer DEFAULT 0 NOT NULL,
	"users_seen" integer DEFAULT 0 NOT NULL,
	"counts" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"last_error" text,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "clerk_sync"."email_outbox" ADD CONSTRAINT "email_outbox_mentorado_id_mentorados_id_fk" FOREIGN KEY ("mentorado_id") REFERENCES "public"."mentorados"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
CREATE INDEX "clerk_webhook_events_clerk_user_id_idx" ON "clerk_sync"."clerk_webhook_events" USING btree ("clerk_user_id");
--> statement-breakpoint
CREATE INDEX "email_outbox_due_idx" ON "clerk_sync"."email_outbox" USING btree ("next_attempt_at") WHERE "clerk_sync"."email_outbox"."status" = 'pending';
