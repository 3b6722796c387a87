// The sync of one Clerk user, as a library function: for an app that already holds a Clerk user
// object (from the Backend API, a `user.updated` it handled itself) and wants the same rules the
// webhook applies. One SQL batch, one transaction; idempotent and order-safe like every sync.
import { type ClerkUser, clerkUserSchema } from "./clerk/schemas.js";
import { type Db, getDb } from "./db.js";
import { welcomeAfterSync } from "./email/after-sync.js";
import { onDemandDeliveryId } from "./me/get-me.js";
import { applyUsers, type Outcome, toUserRecord } from "./sync/apply.js";
import { firstIssue } from "./zod.js";

export type { ClerkUser } from "./clerk/schemas.js";
export type { Outcome } from "./sync/apply.js";

export interface SyncClerkUserOptions {
  /** Default: the database of DATABASE_URL. */
  db?: Db;
  /** Cohort of a profile created without public_metadata.turma; default DEFAULT_TURMA. */
  defaultTurma?: string;
}

export type SyncClerkUserResult =
  | { ok: true; clerkId: string; outcome: Outcome; sqlRoundTrips: number }
  /** The object is not a Clerk user this service can store; nothing was written. */
  | { ok: false; error: "invalid_user"; issue: string };

/** DEFAULT_TURMA as lib/env.ts reads it, without requiring the variables of a whole group. */
function defaultTurma(): string {
  return process.env.DEFAULT_TURMA?.trim() || "neon_estrutura";
}

/**
 * Validates `user` (a Clerk Backend API user object, snake_case as the API and webhooks send it)
 * and applies it. The delivery id is the on-demand one of GET /api/me (one per user version), so
 * this, getMe and the webhook of the same version apply it once. A created or linked profile's
 * welcome email goes out after the current request when it runs inside an adapter (or on Vercel);
 * otherwise the sweeper sends it. Database errors are thrown (retryable; nothing half-written).
 */
export async function syncClerkUser(
  user: unknown,
  options: SyncClerkUserOptions = {},
): Promise<SyncClerkUserResult> {
  const parsed = clerkUserSchema.safeParse(user);
  if (!parsed.success) {
    return { ok: false, error: "invalid_user", issue: firstIssue(parsed.error) };
  }
  const valid: ClerkUser = parsed.data;
  const svixId = onDemandDeliveryId(valid.id, valid.updated_at);
  const record = toUserRecord(
    valid,
    { svixId, type: "ondemand", timestampSeconds: null },
    options.defaultTurma ?? defaultTurma(),
  );
  const applied = await applyUsers(options.db ?? getDb(), [record]);
  const outcome = applied.result.get(svixId) ?? "duplicate";
  welcomeAfterSync(valid.id, outcome);
  return { ok: true, clerkId: valid.id, outcome, sqlRoundTrips: applied.roundTrips };
}
