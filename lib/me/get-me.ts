// The signed-in person's synced record, syncing it on demand when the webhook has not arrived yet.
// The library function behind GET /api/me, for any server-side caller that already knows the
// Clerk user id from a verified session (it verifies nothing itself).
//
//   1 SQL round trip: the user is stored -> answer it (`database`), or its tombstone -> `deleted`.
//   otherwise 1 Clerk request (GET /v1/users/{id}) and 1 SQL batch: the same sync the webhook runs
//   (lib/sync), as the delivery `ondemand:<id>:<updated_at>`, with the read appended -> `clerk`.
//
// The delivery id is a function of the user's Clerk version, so two on-demand syncs of one version
// are one delivery (the second is a `duplicate` that waits for the first), and a webhook carrying
// that same version finds the user already written: `stale` (upserts need strictly newer data),
// never a second profile. A newer webhook still updates the user.
import { type ClerkApiConfig, fetchClerkUser } from "../clerk/backend-api.js";
import type { Db } from "../db.js";
import { roundTripsOf } from "../db-error.js";
import { applyUsers, type Outcome, toUserRecord } from "../sync/apply.js";
import { type MeMentorado, type StoredMe, selectMe, storedMe } from "./read.js";

export type { MeMentorado } from "./read.js";

export interface GetMeOptions {
  db: Db;
  clerk: ClerkApiConfig;
  /** Cohort for a profile created at sign-up without public_metadata.turma. */
  defaultTurma: string;
}

interface Counts {
  /** SQL HTTP requests made (1 or 2; more only when a serialization failure was retried). */
  sqlRoundTrips: number;
  /** Requests made to Clerk's Backend API (0 or 1). */
  clerkRequests: number;
}

export type MeResult = Counts &
  (
    | {
        kind: "ok";
        clerkId: string;
        source: "database" | "clerk";
        mentorado: MeMentorado | null;
        /** The on-demand sync's outcome (source `clerk` only). */
        outcome?: Outcome;
      }
    /** A tombstone in `users`, or Clerk does not know the user (deleted before any webhook). */
    | { kind: "deleted" }
    /** Clerk's API failed (5xx, 429, no answer): nothing was written; retry later. */
    | { kind: "clerk_unavailable"; clerkStatus: number | null; retryAfterSeconds: number | null }
    /** Clerk refused the secret key: misconfiguration. */
    | { kind: "clerk_unauthorized"; clerkStatus: number }
    /** Clerk answered something no retry can fix (a user our schema refuses, an odd 4xx). */
    | { kind: "clerk_refused"; clerkStatus: number; issue: string }
  );

/** The ledger id of an on-demand sync: one per Clerk user version. */
export function onDemandDeliveryId(clerkId: string, updatedAtMs: number): string {
  return `ondemand:${clerkId}:${updatedAtMs}`;
}

function answer(
  clerkId: string,
  source: "database" | "clerk",
  stored: StoredMe,
  counts: Counts,
  outcome?: Outcome,
): MeResult {
  if (stored.state === "deleted") return { kind: "deleted", ...counts };
  if (stored.state === "absent") {
    // The batch wrote the user or found it written: absent would mean it vanished in between.
    throw Object.assign(new Error("user row absent after its sync"), {
      roundTrips: counts.sqlRoundTrips,
    });
  }
  return {
    kind: "ok",
    clerkId,
    source,
    mentorado: stored.mentorado,
    ...(outcome ? { outcome } : {}),
    ...counts,
  };
}

/**
 * The caller's record. Database errors are thrown (carrying `roundTrips`, as lib/sync does): they
 * are retryable, and nothing is half-written (each step is one transaction).
 */
export async function getMe(clerkId: string, opts: GetMeOptions): Promise<MeResult> {
  const first = await opts.db.execute<Record<string, unknown>>(selectMe(clerkId));
  const stored = storedMe(first.rows);
  if (stored.state !== "absent") {
    return answer(clerkId, "database", stored, { sqlRoundTrips: 1, clerkRequests: 0 });
  }

  const lookup = await fetchClerkUser(clerkId, opts.clerk);
  const counts = { sqlRoundTrips: 1, clerkRequests: 1 };
  switch (lookup.kind) {
    case "not_found":
      return { kind: "deleted", ...counts };
    case "unavailable":
      return {
        kind: "clerk_unavailable",
        clerkStatus: lookup.status,
        retryAfterSeconds: lookup.retryAfterSeconds,
        ...counts,
      };
    case "unauthorized":
      return { kind: "clerk_unauthorized", clerkStatus: lookup.status, ...counts };
    case "refused":
      return { kind: "clerk_refused", clerkStatus: lookup.status, issue: lookup.issue, ...counts };
    case "found":
      break;
  }
  const user = lookup.user;
  if (user.id !== clerkId) {
    // Only ever the caller's own record, whatever the API answered.
    return {
      kind: "clerk_refused",
      clerkStatus: 200,
      issue: "id: not the requested user",
      ...counts,
    };
  }

  const svixId = onDemandDeliveryId(user.id, user.updated_at);
  const record = toUserRecord(
    user,
    { svixId, type: "ondemand", timestampSeconds: null },
    opts.defaultTurma,
  );
  let applied: Awaited<ReturnType<typeof applyUsers>>;
  try {
    applied = await applyUsers(opts.db, [record], [selectMe(clerkId)]);
  } catch (err) {
    throw Object.assign(err as object, { roundTrips: 1 + roundTripsOf(err) });
  }
  return answer(
    clerkId,
    "clerk",
    storedMe(applied.afterRows[0] ?? []),
    { sqlRoundTrips: 1 + applied.roundTrips, clerkRequests: 1 },
    applied.result.get(svixId) ?? "duplicate",
  );
}
