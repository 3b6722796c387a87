import { sql } from "drizzle-orm";
import {
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgSchema,
  pgTable,
  text,
  timestamp,
  unique,
  uniqueIndex,
} from "drizzle-orm/pg-core";

/**
 * The service's own namespace (docs/database-layout.md): everything that belongs to the sync and
 * not to the app (the delivery ledger, the email outbox, the backfill runs and our migration
 * journal) lives here, so nothing of ours can collide with, or be mistaken for, an app object.
 * `users` and `mentorados` stay in `public`, where the app has them.
 */
export const OWN_SCHEMA = "clerk_sync";
export const clerkSync = pgSchema(OWN_SCHEMA);

const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/** One row per Clerk user. Personal fields are erased (not the row) on `user.deleted`. */
export const users = pgTable("users", {
  id: integer("id").primaryKey().generatedAlwaysAsIdentity(),
  clerkId: text("clerk_id").notNull().unique(),
  email: text("email"),
  emailVerified: boolean("email_verified"),
  firstName: text("first_name"),
  lastName: text("last_name"),
  username: text("username"),
  imageUrl: text("image_url"),
  clerkCreatedAt: tstz("clerk_created_at"),
  // The order-safety guard: an event only writes when its data.updated_at is newer than this.
  clerkUpdatedAt: tstz("clerk_updated_at"),
  deletedAt: tstz("deleted_at"),
  createdAt: tstz("created_at").notNull().defaultNow(),
  updatedAt: tstz("updated_at").notNull().defaultNow(),
});

/** Mentee profiles, owned by the app; they may exist before their person signs up. */
export const mentorados = pgTable(
  "mentorados",
  {
    id: integer("id").primaryKey().generatedAlwaysAsIdentity(),
    userId: integer("user_id")
      .unique()
      .references(() => users.id, { onDelete: "set null" }),
    nomeCompleto: text("nome_completo").notNull(),
    email: text("email").notNull(),
    turma: text("turma").notNull(),
    origem: text("origem", { enum: ["pre_registered", "clerk_signup"] })
      .notNull()
      .default("pre_registered"),
    createdAt: tstz("created_at").notNull().defaultNow(),
    updatedAt: tstz("updated_at").notNull().defaultNow(),
  },
  (t) => [
    // One profile per email identity: email_key() (drizzle/0001_email_key.sql, rule in
    // docs/email-identity.md) is the only definition of "same address", whatever wrote the row.
    // The sync's INSERT ... ON CONFLICT ((email_key(email))) infers this exact expression index.
    uniqueIndex("mentorados_email_identity_key").on(sql`email_key(${t.email})`),
    check("mentorados_origem_check", sql`${t.origem} in ('pre_registered', 'clerk_signup')`),
  ],
);

/** Ledger of Svix deliveries: audit, duplicate detection and the batch's state machine. No payloads. */
export const clerkWebhookEvents = clerkSync.table(
  "clerk_webhook_events",
  {
    svixId: text("svix_id").primaryKey(),
    type: text("type").notNull(),
    clerkUserId: text("clerk_user_id"),
    outcome: text("outcome").notNull(),
    eventTimestamp: tstz("event_timestamp"),
    receivedAt: tstz("received_at").notNull().defaultNow(),
  },
  (t) => [
    index("clerk_webhook_events_clerk_user_id_idx").on(t.clerkUserId),
    // No index on in-flight rows (0005, dropped by 0006): the sync reads its own rows by svix_id
    // alone (lib/sync/statements.ts), and that index kept every superseded 'pending' version's
    // entry until VACUUM, which a scan of it then read per event.
  ],
);

/** Side effects to perform once, written in the same transaction as the change that causes them. */
export const emailOutbox = clerkSync.table(
  "email_outbox",
  {
    id: integer("id").primaryKey().generatedAlwaysAsIdentity(),
    kind: text("kind", { enum: ["welcome"] }).notNull(),
    mentoradoId: integer("mentorado_id")
      .notNull()
      .references(() => mentorados.id, { onDelete: "cascade" }),
    status: text("status", { enum: ["pending", "sent", "dead"] })
      .notNull()
      .default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: tstz("next_attempt_at").notNull().defaultNow(),
    // A claim is a lease: a dispatcher that dies mid-send frees the row when the lease runs out.
    lockedUntil: tstz("locked_until"),
    lastError: text("last_error"),
    // The provider's id of the sent message (Resend's `id`), for support and audits.
    providerMessageId: text("provider_message_id"),
    sentAt: tstz("sent_at"),
    createdAt: tstz("created_at").notNull().defaultNow(),
    updatedAt: tstz("updated_at").notNull().defaultNow(),
  },
  (t) => [
    unique("email_outbox_kind_mentorado_id_key").on(t.kind, t.mentoradoId),
    index("email_outbox_due_idx").on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
  ],
);

/** Checkpoints of backfill runs, so an interrupted run resumes where it stopped. */
export const syncRuns = clerkSync.table("sync_runs", {
  id: integer("id").primaryKey().generatedAlwaysAsIdentity(),
  kind: text("kind").notNull(),
  status: text("status", { enum: ["running", "finished", "failed"] })
    .notNull()
    .default("running"),
  /** The options the run was started with (since, batch size...), to resume with the same ones. */
  options: jsonb("options").notNull().default({}),
  /** Next offset to fetch in Clerk's `GET /v1/users?order_by=+created_at` listing. */
  nextOffset: integer("next_offset").notNull().default(0),
  /** Cursor paging: the last Clerk user id of the last committed page (`starting_after`). */
  nextCursor: text("next_cursor"),
  pages: integer("pages").notNull().default(0),
  usersSeen: integer("users_seen").notNull().default(0),
  counts: jsonb("counts").notNull().default({}),
  lastError: text("last_error"),
  startedAt: tstz("started_at").notNull().defaultNow(),
  updatedAt: tstz("updated_at").notNull().defaultNow(),
  finishedAt: tstz("finished_at"),
});

/**
 * At most one row: how `npm run db:adopt -- --apply` fitted an app's existing tables (docs/adopting.md).
 * Profiles with an id up to `welcomeAfterMentoradoId` existed before adoption: the app welcomed
 * them itself, so linking one later queues no welcome email (0 sends every profile its own).
 */
export const adoption = clerkSync.table(
  "adoption",
  {
    id: integer("id").primaryKey().default(1),
    adoptedAt: tstz("adopted_at").notNull().defaultNow(),
    welcomeAfterMentoradoId: integer("welcome_after_mentorado_id").notNull().default(0),
    /** The column mapping written to drizzle/mapping.ts, as applied. */
    mapping: jsonb("mapping").notNull(),
    /** The additive SQL that was applied, and its exact inverse (`db:adopt -- --undo` prints it). */
    migration: text("migration").notNull(),
    inverse: text("inverse").notNull(),
  },
  (t) => [check("adoption_one_row", sql`${t.id} = 1`)],
);

export type User = typeof users.$inferSelect;
export type Mentorado = typeof mentorados.$inferSelect;
export type OutboxRow = typeof emailOutbox.$inferSelect;
