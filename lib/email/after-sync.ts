// The welcome email within seconds: after a sync commits a new or linked profile, the same
// invocation sends THAT profile's welcome email once the answer has gone out, through Vercel's
// `waitUntil` (the function stays alive for the promise; the caller never waits for it).
//
// It is the dispatcher (dispatch.ts) restricted to one Clerk user's rows: same claim (lease,
// FOR UPDATE SKIP LOCKED), same `Idempotency-Key: welcome-<outbox id>`, same marking. So this send
// and the daily sweeper (cron.ts) can never both send a row, and whatever this send could not do
// (provider down, configuration missing, function killed mid-send) is left pending for the sweeper.
import { waitUntil } from "@vercel/functions";
import { getDb } from "../db.js";
import { dbErrorFields } from "../db-error.js";
import { ConfigError, getEmailEnv } from "../env.js";
import { log } from "../log.js";
import type { Outcome } from "../sync/apply.js";
import { DispatchError, dispatchWelcomeEmails, levelFor } from "./dispatch.js";
import { providerFor } from "./providers.js";

/**
 * One more try, a second later, after a retryable failure: a provider blip then costs a second, not
 * a wait for the sweeper. Worst case two 8 s timeouts and the pause: well within the function's
 * 30 s, after the answer has gone out.
 */
export const INLINE_RETRY = { tries: 1, delayMs: 1000 } as const;

/** The sync outcomes that queue a welcome email (a profile was just created or claimed). */
const WELCOMED: ReadonlySet<Outcome> = new Set<Outcome>(["created", "linked", "claimed"]);

/**
 * Vercel's runtime installs a request context under this symbol for every invocation, and so does
 * the local api-server; `waitUntil` hands the promise to it. Without one (a script, a test calling
 * a handler directly) nothing would keep the work alive or awaited after the answer: the row is
 * left to the sweeper instead of being sent by a promise nobody tracks.
 */
const REQUEST_CONTEXT = Symbol.for("@vercel/request-context");
type ContextHolder = {
  [REQUEST_CONTEXT]?: { get?: () => { waitUntil?: unknown } | undefined } | undefined;
};

function hasRequestContext(): boolean {
  return typeof (globalThis as ContextHolder)[REQUEST_CONTEXT]?.get?.()?.waitUntil === "function";
}

export type AfterSync = "scheduled" | "not_welcomed" | "no_request_context" | "misconfigured";

/**
 * Call once a sync has committed, with its outcome: schedules the user's welcome email after the
 * answer and returns at once (no I/O before it returns). Never throws, and the scheduled work
 * never rejects: its result is one log line, `welcome_email_inline`.
 */
export function welcomeAfterSync(clerkId: string, outcome: Outcome): AfterSync {
  if (!WELCOMED.has(outcome)) return "not_welcomed";
  if (!hasRequestContext()) return "no_request_context";

  let env: ReturnType<typeof getEmailEnv>;
  try {
    env = getEmailEnv();
  } catch (err) {
    // The answer is unaffected and the row stays pending: the sweeper sends it once fixed.
    log({
      event: "welcome_email_inline",
      level: "error",
      outcome: "skipped",
      error: "misconfigured",
      variables: err instanceof ConfigError ? err.variables : ["EMAIL_PROVIDER"],
    });
    return "misconfigured";
  }

  waitUntil(sendWelcome(clerkId, env));
  return "scheduled";
}

async function sendWelcome(clerkId: string, env: ReturnType<typeof getEmailEnv>): Promise<void> {
  // One macrotask first: the handler returns its Response before this makes any request, so the
  // answer's path stays exactly its own SQL request.
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
  const started = performance.now();
  const ms = () => Math.round((performance.now() - started) * 100) / 100;
  const provider = providerFor(env);
  try {
    const counts = await dispatchWelcomeEmails({
      db: getDb(),
      provider,
      from: env.from,
      maxAttempts: env.maxAttempts,
      clerkId,
      retryInPlace: INLINE_RETRY,
    });
    log({
      event: "welcome_email_inline",
      level: levelFor(counts),
      outcome: "dispatched",
      type: provider.name,
      n_claimed: counts.claimed,
      n_sent: counts.sent,
      n_failed: counts.failed,
      n_dead: counts.dead,
      sql_round_trips: counts.sqlRoundTrips,
      ms: ms(),
    });
  } catch (err) {
    // A database failure mid-dispatch: a claimed row keeps its lease and the sweeper takes it
    // after the lease (the idempotency key makes a re-send of an already accepted email a no-op).
    log({
      event: "welcome_email_inline",
      level: "error",
      outcome: "error",
      type: provider.name,
      sql_round_trips: err instanceof DispatchError ? err.counts.sqlRoundTrips : undefined,
      ms: ms(),
      ...dbErrorFields(err instanceof DispatchError ? err.cause : err),
    });
  }
}
