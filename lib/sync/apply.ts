// Runs the rules of lib/sync/statements.ts as ONE call of their routine (lib/sync/routines.ts) per
// batch: one Neon HTTP request, one transaction. No decision is taken in JavaScript between them.

import type { SQL } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import type { ClerkUser } from "../clerk/schemas.js";
import { displayName, primaryEmail, turmaFor } from "../clerk/user.js";
import type { Db } from "../db.js";
import { sqlState } from "../db-error.js";
import { DELETION_ROUTINE, USERS_ROUTINE } from "./routines.js";
import type { DeletionRecord, UserRecord } from "./statements.js";

export const OUTCOMES = [
  "created",
  "linked",
  "claimed",
  "conflict",
  "applied",
  "stale",
  "deleted",
  "duplicate",
  "ignored",
] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface Delivery {
  svixId: string;
  type: string;
  /** svix-timestamp header, seconds since epoch (null for backfills). */
  timestampSeconds: number | null;
}

export interface Applied<T> {
  result: T;
  /** SQL HTTP requests made: 1, more only when a serialization failure was retried. */
  roundTrips: number;
}

/** A Clerk user -> the facts the SQL needs. Pure: no I/O. */
export function toUserRecord(
  user: ClerkUser,
  delivery: Delivery,
  defaultTurma: string,
): UserRecord {
  const { email, verified } = primaryEmail(user);
  return {
    svix_id: delivery.svixId,
    type: delivery.type,
    clerk_id: user.id,
    email,
    email_verified: email !== null && verified,
    first_name: user.first_name,
    last_name: user.last_name,
    username: user.username,
    image_url: user.image_url,
    clerk_created_at: new Date(user.created_at).toISOString(),
    clerk_updated_at: new Date(user.updated_at).toISOString(),
    nome_completo: displayName(user, email),
    turma: turmaFor(user, defaultTurma),
    event_timestamp:
      delivery.timestampSeconds === null
        ? null
        : new Date(delivery.timestampSeconds * 1000).toISOString(),
  };
}

const RETRYABLE_SQLSTATES = new Set(["40001", "40P01"]);
const MAX_ATTEMPTS = 3;

/** Serialization failures and deadlocks roll the whole batch back: retrying it is safe. */
async function withRetry<T>(run: () => Promise<T>): Promise<Applied<T>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { result: await run(), roundTrips: attempt };
    } catch (err) {
      const code = sqlState(err);
      if (attempt >= MAX_ATTEMPTS || !code || !RETRYABLE_SQLSTATES.has(code)) {
        throw Object.assign(err as object, { roundTrips: attempt });
      }
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * attempt));
    }
  }
}

/**
 * Applies users (one per delivery id) in one transaction and returns each delivery's outcome.
 * A user listed twice keeps only its newest version (Postgres cannot upsert a row twice in one
 * statement); the dropped delivery is reported `stale`.
 *
 * `after`: statements appended to the same batch (same round trip, same transaction), run after
 * the sync's own; the backfill advances its checkpoint there, so a page and its checkpoint commit
 * together or not at all. `afterRows` are their rows, in order: a read placed there sees the
 * batch's own writes (and, under READ COMMITTED, whatever a concurrent delivery committed first).
 */
const dialect = new PgDialect();

export async function applyUsers(
  db: Db,
  records: UserRecord[],
  after: SQL[] = [],
): Promise<Applied<Map<string, Outcome>> & { afterRows: Record<string, unknown>[][] }> {
  const newest = new Map<string, UserRecord>();
  for (const r of records) {
    const seen = newest.get(r.clerk_id);
    if (!seen || seen.clerk_updated_at < r.clerk_updated_at) newest.set(r.clerk_id, r);
  }
  const users = JSON.stringify([...newest.values()]);
  const extra = after.map((statement) => dialect.sqlToQuery(statement));
  // The driver's own transaction(): the same one HTTP request and transaction as drizzle's
  // db.batch, the routine's call first, then `after`.
  const applied = await withRetry(async () => {
    const [settled, ...rest] = await db.$client.transaction((q) => [
      q.query(USERS_ROUTINE.call, [users]),
      ...extra.map((x) => q.query(x.sql, x.params)),
    ]);
    return {
      settled: (settled ?? []) as { svix_id: string; outcome: Outcome }[],
      afterRows: rest as Record<string, unknown>[][],
    };
  });
  const outcomes = new Map<string, Outcome>();
  for (const r of records)
    outcomes.set(r.svix_id, newest.get(r.clerk_id) === r ? "duplicate" : "stale");
  for (const row of applied.result.settled) outcomes.set(row.svix_id, row.outcome);
  return { result: outcomes, roundTrips: applied.roundTrips, afterRows: applied.result.afterRows };
}

/** Applies one user.deleted in one transaction: the routine's call. */
export function applyDeletion(db: Db, d: DeletionRecord): Promise<Applied<Outcome>> {
  return withRetry(async () => {
    const [rows] = await db.$client.transaction((q) => [
      q.query(DELETION_ROUTINE.call, [d.svix_id, d.clerk_id, d.event_timestamp]),
    ]);
    return (rows as { outcome: Outcome }[] | undefined)?.[0]?.outcome ?? "duplicate";
  });
}
