CREATE TABLE "clerk_sync"."adoption" (
	"id" integer PRIMARY KEY DEFAULT 1 NOT NULL,
	"adopted_at" timestamp with time zone DEFAULT now() NOT NULL,
	"welcome_after_mentorado_id" integer DEFAULT 0 NOT NULL,
	"mapping" jsonb NOT NULL,
	"migration" text NOT NULL,
	"inverse" text NOT NULL,
	CONSTRAINT "adoption_one_row" CHECK ("clerk_sync"."adoption"."id" = 1)
);
