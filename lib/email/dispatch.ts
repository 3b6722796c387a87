// The welcome-email outbox dispatcher, as plain functions: claim a bounded batch of due rows in one
// statement, send each with an idempotency key derived from the row, mark each sent or failed.
//
// Exactly once, in three layers:
// - the outbox has at most one `welcome` row per mentorado (unique (kind, mentorado_id)), written in
//   the sync's transaction, so duplicate webhooks cannot queue a second email;
// - the claim (`FOR UPDATE SKIP LOCKED` + a lease in `locked_until`) hands each due row to one run
//   only, so overlapping runs never send the same row — and the inline send after a sync
//   (after-sync.ts) is such a run too, restricted to one user's rows, so it and the sweeper (the
//   cron) can never both send a row;
// - the send carries `Idempotency-Key: welcome-<outbox id>`, so a run that dies between the send and
//   the mark (the row is claimed again when its lease runs out) gets Resend's original answer back
//   instead of a second email (Resend keeps keys 24 hours; the lease is minutes).
import { type SQL, sql } from "drizzle-orm";
import { MAPPING } from "../../drizzle/mapping.js";
import type { Db } from "../db.js";
import { type LogFields, log } from "../log.js";
import { namesOf } from "../mapping.js";
import type { EmailProvider, OutgoingEmail, SendResult } from "./providers.js";
import { welcomeEmail } from "./welcome-template.js";

export interface Backoff {
  /** Delay after the first failure; doubles with each further failure. */
  baseSeconds: number;
  capSeconds: number;
}

export const DEFAULTS = {
  batchSize: 25,
  maxAttempts: 8,
  /** Longer than a run may last (maxDuration 30 s), far shorter than Resend's 24 h key window. */
  leaseSeconds: 120,
  backoff: { baseSeconds: 300, capSeconds: 6 * 3600 } satisfies Backoff,
} as const;

export interface DispatchOptions {
  db: Db;
  provider: EmailProvider;
  /** The From header: `Name <address@domain>`. */
  from: string;
  batchSize?: number;
  /** A row that failed this many times is `dead`. */
  maxAttempts?: number;
  leaseSeconds?: number;
  /** Paces the sends (Resend's default limit per team: 2 a second on older accounts, 5 on newer). Default: no pacing. */
  sendsPerSecond?: number;
  /** Stop starting new sends after this long; the rest of the batch is released for the next run. */
  timeBudgetMs?: number;
  backoff?: Backoff;
  /** Source of jitter, in [0, 1). */
  random?: () => number;
  /** Only this Clerk user's rows (the inline send right after that user's sync). Default: all. */
  clerkId?: string;
  /**
   * Sends again, with the same key, after a retryable failure (not a 429), `tries` more times
   * `delayMs` apart, before marking the row failed: the inline send's answer to a blip, where the
   * next attempt would otherwise wait for the sweeper (a day on the daily schedule). Default: none.
   */
  retryInPlace?: { tries: number; delayMs: number };
}

export interface DispatchCounts {
  /** Rows this run claimed. */
  claimed: number;
  sent: number;
  /** Failed and left pending for a later attempt. */
  failed: number;
  /** Failed for good this run (permanent error, or the last allowed attempt). */
  dead: number;
  /** Claimed but not attempted (time budget spent): released for the next run. */
  released: number;
  /** SQL HTTP requests this run made. */
  sqlRoundTrips: number;
}

/** A run's log level: error when a row died, warn when one failed and stays pending. */
export function levelFor(counts: DispatchCounts): LogFields["level"] {
  return counts.dead > 0 ? "error" : counts.failed > 0 ? "warn" : "info";
}

function noCounts(): DispatchCounts {
  return { claimed: 0, sent: 0, failed: 0, dead: 0, released: 0, sqlRoundTrips: 0 };
}

/** A dispatch stopped by a database failure; `counts` says what had been done before it. */
export class DispatchError extends Error {
  readonly counts: DispatchCounts;
  override readonly cause: unknown;
  constructor(cause: unknown, counts: DispatchCounts) {
    super("welcome-email dispatch stopped by a database error");
    this.name = "DispatchError";
    this.cause = cause;
    this.counts = counts;
  }
}

type ClaimedRow = {
  id: number;
  attempts: number;
  nome_completo: string;
  email: string;
  turma: string;
};

export function idempotencyKey(outboxId: number): string {
  return `welcome-${outboxId}`;
}

/** Exponential backoff with "equal jitter": between half and all of base * 2^(n-1), capped. */
export function backoffSeconds(failures: number, b: Backoff, random: () => number): number {
  const full = Math.min(b.capSeconds, b.baseSeconds * 2 ** Math.max(0, failures - 1));
  return Math.round(full / 2 + random() * (full / 2));
}

/**
 * Claims up to `batchSize` due rows in ONE statement. The sub-select locks the rows it picks and
 * skips rows another transaction has locked; the lease (`locked_until`) then keeps them away from
 * every other run until this one marks them or dies. Under READ COMMITTED a row claimed by a run
 * that committed after this statement began is re-checked on its new version (lease in the
 * future): it is not taken twice. Rows of a profile unlinked by a user deletion wait (not claimed)
 * until the profile is claimed again.
 */
const U = namesOf(MAPPING.users);
const M = namesOf(MAPPING.mentorados);

export function claimStatement(batchSize: number, leaseSeconds: number, clerkId?: string) {
  // The same statement for the inline send and the sweeper, so both take rows under one lease.
  const onlyUser =
    clerkId === undefined
      ? sql``
      : sql`and dm.${M.user_id} = (select u.${U.id} from ${U.$} u where u.${U.clerk_id} = ${clerkId})`;
  return sql`
    update clerk_sync.email_outbox o
    set locked_until = now() + make_interval(secs => ${leaseSeconds}), updated_at = now()
    from ${M.$} m
    where m.${M.id} = o.mentorado_id
      and o.id in (
        select d.id from clerk_sync.email_outbox d
        join ${M.$} dm on dm.${M.id} = d.mentorado_id
        where d.kind = 'welcome'
          and d.status = 'pending'
          and d.next_attempt_at <= now()
          and (d.locked_until is null or d.locked_until < now())
          and dm.${M.user_id} is not null
          ${onlyUser}
        order by d.id
        limit ${batchSize}
        for update of d skip locked
      )
    returning o.id, o.attempts, m.${M.nome_completo} as nome_completo, m.${M.email} as email,
      m.${M.turma} as turma`;
}

function markSent(id: number, providerMessageId: string) {
  return sql`
    update clerk_sync.email_outbox
    set status = 'sent', sent_at = now(), provider_message_id = ${providerMessageId},
        last_error = null, locked_until = null, updated_at = now()
    where id = ${id} and status = 'pending'`;
}

function markFailed(id: number, attempts: number, dead: boolean, error: string, delay: number) {
  return sql`
    update clerk_sync.email_outbox
    set attempts = ${attempts}, status = ${dead ? "dead" : "pending"}, last_error = ${error},
        next_attempt_at = ${dead ? sql`next_attempt_at` : sql`now() + make_interval(secs => ${delay})`},
        locked_until = null, updated_at = now()
    where id = ${id} and status = 'pending'`;
}

function release(ids: number[]) {
  return sql`
    update clerk_sync.email_outbox set locked_until = null, updated_at = now()
    where id in (select unnest(${`{${ids.join(",")}}`}::int[])) and status = 'pending'`;
}

export function renderWelcome(
  row: Pick<ClaimedRow, "nome_completo" | "email" | "turma">,
  from: string,
): OutgoingEmail {
  const rendered = welcomeEmail({ nomeCompleto: row.nome_completo, turma: row.turma });
  return { from, to: row.email.trim(), ...rendered };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Claims one batch of due welcome emails, sends them and records each outcome. */
export async function dispatchWelcomeEmails(opts: DispatchOptions): Promise<DispatchCounts> {
  const { db, provider, from } = opts;
  const batchSize = opts.batchSize ?? DEFAULTS.batchSize;
  const maxAttempts = opts.maxAttempts ?? DEFAULTS.maxAttempts;
  const backoff = opts.backoff ?? DEFAULTS.backoff;
  const random = opts.random ?? Math.random;
  const interval = opts.sendsPerSecond ? 1000 / opts.sendsPerSecond : 0;
  const budget = opts.timeBudgetMs ?? Number.POSITIVE_INFINITY;
  const started = performance.now();
  const counts = noCounts();
  const run = async <T extends Record<string, unknown>>(query: SQL) => {
    counts.sqlRoundTrips++;
    try {
      return await db.execute<T>(query);
    } catch (err) {
      throw new DispatchError(err, counts);
    }
  };

  const claimed = await run<ClaimedRow>(
    claimStatement(batchSize, opts.leaseSeconds ?? DEFAULTS.leaseSeconds, opts.clerkId),
  );
  const rows = [...claimed.rows].sort((a, b) => Number(a.id) - Number(b.id));
  counts.claimed = rows.length;

  let lastStart = Number.NEGATIVE_INFINITY;
  /** Hands the claimed rows from `from` on back, untried, to the next run. */
  const releaseFrom = async (from: number) => {
    const rest = rows.slice(from).map((r) => Number(r.id));
    if (rest.length === 0) return;
    await run(release(rest));
    counts.released = rest.length;
  };

  for (const [i, row] of rows.entries()) {
    const id = Number(row.id);
    if (performance.now() - started >= budget) {
      await releaseFrom(i);
      break;
    }
    const wait = lastStart + interval - performance.now();
    if (wait > 0) await sleep(wait);
    lastStart = performance.now();

    const email = renderWelcome(row, from);
    const sendOnce = async (): Promise<SendResult> => {
      try {
        return await provider.send(email, idempotencyKey(id));
      } catch {
        // Providers answer failures; a throw is a bug or an unexpected runtime error: retry later.
        return { ok: false, permanent: false, error: "provider_exception" };
      }
    };
    let result = await sendOnce();
    for (
      let retry = 0;
      !result.ok &&
      !result.permanent &&
      !result.throttled &&
      retry < (opts.retryInPlace?.tries ?? 0);
      retry++
    ) {
      // The same key: if the first send was in fact accepted, Resend answers it again.
      await sleep(opts.retryInPlace?.delayMs ?? 0);
      result = await sendOnce();
    }

    if (result.ok) {
      await run(markSent(id, result.id));
      counts.sent++;
      continue;
    }
    if (result.throttled) {
      // Over Resend's rate or quota: every further send now would be refused too. This row waits
      // for Retry-After (else the first backoff step) with no attempt counted, and the rest of the
      // batch is released untouched; the sweeper stops on the release.
      const delay = Math.ceil(result.retryAfterSeconds ?? backoffSeconds(1, backoff, random));
      await run(markFailed(id, Number(row.attempts), false, result.error, delay));
      counts.failed++;
      await releaseFrom(i + 1);
      break;
    }
    const attempts = Number(row.attempts) + 1;
    const dead = result.permanent || attempts >= maxAttempts;
    const delay = Math.max(
      backoffSeconds(attempts, backoff, random),
      Math.ceil(result.retryAfterSeconds ?? 0),
    );
    await run(markFailed(id, attempts, dead, result.error, delay));
    if (dead) {
      counts.dead++;
      // Loud, and with the outbox id only: the row holds the rest.
      log({
        event: "welcome_email_dead",
        level: "error",
        outbox_id: id,
        error: result.error,
        n_attempts: attempts,
      });
    } else {
      counts.failed++;
    }
  }
  return counts;
}

/**
 * The sweeper's run (the daily cron): batch after batch until the time budget is spent or a batch
 * comes back short (nothing more is due) or sends nothing (the provider is failing: the rest
 * waits for its backoff rather than each row burning an attempt now). One batch per run would
 * drain only `batchSize` rows a day, far too few after an outage or a backfill.
 */
export async function sweepWelcomeEmails(
  opts: DispatchOptions & { timeBudgetMs: number },
): Promise<DispatchCounts> {
  const started = performance.now();
  const batchSize = opts.batchSize ?? DEFAULTS.batchSize;
  const total = noCounts();
  const add = (c: DispatchCounts) => {
    total.claimed += c.claimed;
    total.sent += c.sent;
    total.failed += c.failed;
    total.dead += c.dead;
    total.released += c.released;
    total.sqlRoundTrips += c.sqlRoundTrips;
  };
  for (let batch = 0; ; batch++) {
    const remaining = opts.timeBudgetMs - (performance.now() - started);
    if (remaining <= 0) break;
    // Keep the pace across batches too (the next claim could start right after the last send).
    if (batch > 0 && opts.sendsPerSecond) await sleep(1000 / opts.sendsPerSecond);
    let counts: DispatchCounts;
    try {
      counts = await dispatchWelcomeEmails({ ...opts, batchSize, timeBudgetMs: remaining });
    } catch (err) {
      if (err instanceof DispatchError) add(err.counts);
      throw err instanceof DispatchError ? new DispatchError(err.cause, total) : err;
    }
    add(counts);
    if (counts.claimed < batchSize || counts.released > 0 || counts.sent === 0) break;
  }
  return total;
}
