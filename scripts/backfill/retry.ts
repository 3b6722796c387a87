// Retries for calls to Clerk's Backend API and to the database, shared by backfill and resync.
//
// - 429: wait `Retry-After` (seconds, as Clerk sends it) and try again; this does not use up the
//   retries, but a long run of consecutive 429s does stop the run.
// - transient failures (HTTP 5xx, network errors, a database that is unreachable): exponential
//   backoff with jitter, `retries` times, then give up with a RetriesExhausted error.
// - anything else (401 bad key, 404, 422 bad parameters, a real Postgres error): no retry.
import { isClerkAPIResponseError } from "@clerk/backend/errors";
import { ClerkApiError } from "../../lib/clerk/backend-api.js";
import { isSchemaMismatch, schemaMismatchLine } from "../../lib/db-error.js";

export interface RetryPolicy {
  /** Retries after the first attempt for transient failures. */
  retries: number;
  /** First backoff delay; doubles each retry, capped at maxMs; jitter picks in [d/2, d]. */
  baseMs: number;
  maxMs: number;
  /** Consecutive 429 answers tolerated before giving up. */
  maxRateLimitWaits: number;
  /** Wait when a 429 carries no usable Retry-After. */
  defaultRetryAfterMs: number;
  sleep: (ms: number) => Promise<void>;
  onWait?: (info: { what: string; reason: string; ms: number; attempt: number }) => void;
}

export const DEFAULT_RETRY: RetryPolicy = {
  retries: 5,
  baseMs: 500,
  maxMs: 30_000,
  maxRateLimitWaits: 60,
  defaultRetryAfterMs: 10_000,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

export type Failure =
  | { kind: "rate_limited"; retryAfterMs: number | undefined; reason: string }
  | { kind: "transient"; reason: string }
  | { kind: "permanent"; reason: string };

const PG_RETRYABLE = /^(40001|40P01|57P01|57P02|57P03|08\d{3}|53300)$/;

/** A short, personal-data-free description and class of a failure. */
export function classify(err: unknown): Failure {
  if (isClerkAPIResponseError(err)) {
    const first = err.errors[0];
    const code = first?.code ?? "error";
    const status = typeof err.status === "number" ? err.status : undefined;
    if (status === 429) {
      const ms = typeof err.retryAfter === "number" ? err.retryAfter * 1000 : undefined;
      return { kind: "rate_limited", retryAfterMs: ms, reason: "HTTP 429 (rate limited)" };
    }
    if (status === undefined) {
      // @clerk/backend turns fetch exceptions into an error without status: a network failure.
      return { kind: "transient", reason: `network error (${first?.message ?? code})` };
    }
    const reason = `HTTP ${status} ${code}`;
    return status >= 500 ? { kind: "transient", reason } : { kind: "permanent", reason };
  }
  if (err instanceof ClerkApiError) {
    // lib/clerk/backend-api.ts's single-user reads: the same classes as above.
    const l = err.lookup;
    if (l.kind === "unavailable" && l.status === 429) {
      const ms = l.retryAfterSeconds === null ? undefined : l.retryAfterSeconds * 1000;
      return { kind: "rate_limited", retryAfterMs: ms, reason: "HTTP 429 (rate limited)" };
    }
    if (l.kind === "unavailable") {
      return {
        kind: "transient",
        reason: l.status === null ? "network error" : `HTTP ${l.status}`,
      };
    }
    return { kind: "permanent", reason: err.message.replace(/^Clerk Backend API: /, "") };
  }
  // The schema does not fit: permanent, and said as such (SQLSTATE and objects, no values).
  if (isSchemaMismatch(err)) return { kind: "permanent", reason: schemaMismatchLine(err) };
  const e = err as { code?: unknown; name?: unknown; message?: unknown } | null;
  if (typeof e?.code === "string" && /^[0-9A-Z]{5}$/.test(e.code)) {
    // A Postgres error: its message and detail may carry row values, so keep the SQLSTATE only.
    const reason = `database error SQLSTATE ${e.code}`;
    return PG_RETRYABLE.test(e.code)
      ? { kind: "transient", reason }
      : { kind: "permanent", reason };
  }
  const name = typeof e?.name === "string" ? e.name : "Error";
  const message = typeof e?.message === "string" ? e.message.split("\n")[0]!.slice(0, 200) : "";
  if (name === "NeonDbError" || name === "TypeError" || /fetch failed|ECONN|socket/i.test(message))
    return { kind: "transient", reason: `${name}: ${message}` };
  return { kind: "permanent", reason: `${name}: ${message}` };
}

export class RetriesExhausted extends Error {
  constructor(
    readonly what: string,
    readonly reason: string,
    readonly attempts: number,
    readonly transient: boolean,
  ) {
    super(
      transient
        ? `${what} failed after ${attempts} attempts: ${reason}`
        : `${what} failed: ${reason}`,
    );
    this.name = "RetriesExhausted";
  }
}

export async function withRetry<T>(
  what: string,
  fn: () => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY,
): Promise<T> {
  let attempt = 0;
  let rateLimited = 0;
  for (;;) {
    attempt++;
    try {
      return await fn();
    } catch (err) {
      const f = classify(err);
      if (f.kind === "permanent") throw new RetriesExhausted(what, f.reason, attempt, false);
      let ms: number;
      if (f.kind === "rate_limited") {
        rateLimited++;
        if (rateLimited > policy.maxRateLimitWaits)
          throw new RetriesExhausted(
            what,
            `${f.reason} ${rateLimited} times in a row`,
            attempt,
            true,
          );
        // Retry-After is whole seconds; a little jitter spreads clients that were told the same.
        ms = (f.retryAfterMs ?? policy.defaultRetryAfterMs) + Math.random() * 100;
        attempt--;
      } else {
        rateLimited = 0;
        if (attempt > policy.retries) throw new RetriesExhausted(what, f.reason, attempt, true);
        const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
        ms = ceiling / 2 + Math.random() * (ceiling / 2);
      }
      policy.onWait?.({ what, reason: f.reason, ms, attempt });
      await policy.sleep(ms);
    }
  }
}
