// GET /api/cron/welcome-emails: Vercel Cron's call, the daily sweeper. Each welcome email is
// normally sent right after its sync (after-sync.ts); this run sends what that could not (provider
// down, function killed, configuration fixed later, profiles brought in by a backfill).
// method -> CRON_SECRET -> bearer check -> configuration -> batches of due rows until the time
// budget -> JSON answer and ONE log line with the counts.
import { getDb } from "../db.js";
import { dbErrorFields, isSchemaMismatch, schemaErrorFields } from "../db-error.js";
import { ConfigError, getCronEnv, getDbEnv, getEmailEnv } from "../env.js";
import { type LogFields, requestLog } from "../log.js";
import { errorResponse, json, SCHEMA_MISMATCH_MESSAGE } from "../webhook/responses.js";
import { type DispatchCounts, DispatchError, levelFor, sweepWelcomeEmails } from "./dispatch.js";
import { type EmailSink, providerFor } from "./providers.js";

/** A run stops starting sends after this, well inside the function's maxDuration (30 s). */
export const RUN_TIME_BUDGET_MS = 20_000;

export interface WelcomeCronOptions {
  /** Where the `log` provider puts emails (the dev server prints them); default: dropped. */
  logSink?: EmailSink;
  batchSize?: number;
}

const encoder = new TextEncoder();

/** Compares without an early exit on the first differing byte (no Node crypto: Edge-compatible). */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < x.length; i++) diff |= (x[i] ?? 0) ^ (y[i % y.length] ?? 0);
  return diff === 0;
}

function countFields(c: DispatchCounts): Partial<LogFields> {
  return {
    n_claimed: c.claimed,
    n_sent: c.sent,
    n_failed: c.failed,
    n_dead: c.dead,
    n_released: c.released,
    sql_round_trips: c.sqlRoundTrips,
  };
}

export function createWelcomeCronHandler(
  opts: WelcomeCronOptions = {},
): (request: Request) => Promise<Response> {
  return async (request) => {
    const finish = requestLog({ event: "welcome_emails" });
    const misconfigured = (err: unknown, fallback: string) =>
      finish(errorResponse(500, "misconfigured", "The service is misconfigured."), {
        level: "error",
        outcome: "error",
        error: "misconfigured",
        variables: err instanceof ConfigError ? err.variables : [fallback],
      });

    if (request.method !== "GET") {
      return finish(
        errorResponse(405, "method_not_allowed", "Only GET is accepted.", { allow: "GET" }),
        { outcome: "rejected", error: "method_not_allowed" },
      );
    }

    let secret: string;
    try {
      secret = getCronEnv().CRON_SECRET;
    } catch (err) {
      return misconfigured(err, "CRON_SECRET");
    }
    const auth = request.headers.get("authorization") ?? "";
    if (!constantTimeEqual(auth, `Bearer ${secret}`)) {
      return finish(
        errorResponse(
          401,
          "unauthorized",
          "A valid Authorization: Bearer <CRON_SECRET> is required.",
          {
            "www-authenticate": "Bearer",
          },
        ),
        { outcome: "rejected", error: "unauthorized" },
      );
    }

    let env: ReturnType<typeof getEmailEnv>;
    try {
      env = getEmailEnv();
      getDbEnv();
    } catch (err) {
      return misconfigured(err, "EMAIL_PROVIDER");
    }

    const provider = providerFor(env, opts.logSink);
    try {
      const counts = await sweepWelcomeEmails({
        db: getDb(),
        provider,
        from: env.from,
        maxAttempts: env.maxAttempts,
        sendsPerSecond: env.sendsPerSecond,
        timeBudgetMs: RUN_TIME_BUDGET_MS,
        ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
      });
      const level = levelFor(counts);
      return finish(
        json(200, {
          ok: true,
          claimed: counts.claimed,
          sent: counts.sent,
          failed: counts.failed,
          dead: counts.dead,
          released: counts.released,
        }),
        { level, outcome: "dispatched", type: provider.name, ...countFields(counts) },
      );
    } catch (err) {
      const counts = err instanceof DispatchError ? err.counts : undefined;
      const cause = err instanceof DispatchError ? err.cause : err;
      const mismatch = isSchemaMismatch(cause);
      return finish(
        mismatch
          ? errorResponse(500, "schema_mismatch", SCHEMA_MISMATCH_MESSAGE)
          : errorResponse(503, "database_unavailable", "The database is unavailable; retry later."),
        {
          level: "error",
          outcome: "error",
          type: provider.name,
          ...(counts ? countFields(counts) : {}),
          ...dbErrorFields(cause),
          ...(mismatch ? { error: "schema_mismatch", ...schemaErrorFields(cause) } : {}),
        },
      );
    }
  };
}

export const handleWelcomeCron = createWelcomeCronHandler();
