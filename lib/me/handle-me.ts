// GET /api/me, top to bottom: CORS preflight -> method -> configuration -> session token (no
// network) -> getMe (1 SQL round trip, or 1 Clerk request + 1 SQL batch) -> answer, with one log
// line per request whatever happens: outcome, source, status, ms, SQL round trips, Clerk
// requests; never the token, an email or a name.

import { getDb } from "../db.js";
import { dbErrorFields, isSchemaMismatch, roundTripsOf, schemaErrorFields } from "../db-error.js";
import { welcomeAfterSync } from "../email/after-sync.js";
import { ConfigError, getClerkApiEnv, getDbEnv, getSessionEnv } from "../env.js";
import { type LogFields, requestLog } from "../log.js";
import { errorResponse, json, SCHEMA_MISMATCH_MESSAGE } from "../webhook/responses.js";
import { ALLOWED_METHODS, corsHeaders, preflight } from "./cors.js";
import { getMe, type MeResult } from "./get-me.js";
import { verifySession } from "./session.js";

const ERRORS = {
  method_not_allowed: [405, "Only GET is accepted."],
  missing_token: [401, "Send the Clerk session token as Authorization: Bearer <token>."],
  invalid_token: [401, "The session token is not a valid token of this Clerk instance."],
  token_expired: [401, "The session token has expired: get a fresh one (getToken())."],
  token_not_yet_valid: [401, "The session token is not valid yet (check the clock)."],
  unauthorized_party: [401, "The session token was issued to an origin that is not authorized."],
  user_deleted: [410, "This user has been deleted."],
  clerk_unavailable: [503, "Clerk is unavailable; retry later."],
  clerk_user_invalid: [502, "Clerk answered a user this service cannot store."],
  database_unavailable: [503, "The database is unavailable; retry later."],
  schema_mismatch: [500, SCHEMA_MISMATCH_MESSAGE],
  misconfigured: [500, "The service is misconfigured."],
} as const satisfies Record<string, readonly [number, string]>;
type ErrorCode = keyof typeof ERRORS;

/** Retry-After when Clerk gave none (seconds): long enough not to hammer it, short for a user. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;

export async function handleMe(request: Request): Promise<Response> {
  const fields: LogFields = { event: "me" };
  let cors: Record<string, string> = { vary: "origin" };
  const finish = requestLog(fields);
  const refuse = (
    code: ErrorCode,
    extra: Partial<LogFields> = {},
    headers: Record<string, string> = {},
  ): Response => {
    const [status, message] = ERRORS[code];
    return finish(
      errorResponse(status, code, message, { ...cors, "cache-control": "no-store", ...headers }),
      { outcome: "rejected", error: code, sql_round_trips: 0, clerk_requests: 0, ...extra },
    );
  };

  const variables: string[] = [];
  const read = <T>(get: () => T): T | undefined => {
    try {
      return get();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      variables.push(...err.variables);
      return undefined;
    }
  };
  const session = read(getSessionEnv);
  const clerk = read(getClerkApiEnv);
  const dbEnv = read(getDbEnv);
  if (!session || !clerk || !dbEnv) {
    // Loud in the logs (which variables), silent in the answer.
    return refuse("misconfigured", { level: "error", outcome: "error", variables });
  }

  const origin = request.headers.get("origin");
  if (request.method === "OPTIONS") {
    return finish(preflight(origin, session.CLERK_AUTHORIZED_PARTIES), { outcome: "preflight" });
  }
  cors = corsHeaders(origin, session.CLERK_AUTHORIZED_PARTIES);
  if (request.method !== "GET" && request.method !== "HEAD") {
    return refuse("method_not_allowed", {}, { allow: ALLOWED_METHODS });
  }

  const who = await verifySession(request.headers.get("authorization"), {
    jwtKey: session.CLERK_JWT_KEY,
    authorizedParties: session.CLERK_AUTHORIZED_PARTIES,
  });
  if (!who.ok) {
    if (who.error === "misconfigured") {
      return refuse("misconfigured", {
        level: "error",
        outcome: "error",
        variables: ["CLERK_JWT_KEY"],
      });
    }
    // RFC 6750: no error code when no credentials were sent at all.
    const challenge = who.error === "missing_token" ? "Bearer" : 'Bearer error="invalid_token"';
    return refuse(who.error, {}, { "www-authenticate": challenge });
  }

  let result: MeResult;
  try {
    result = await getMe(who.clerkId, {
      db: getDb(dbEnv),
      clerk: { secretKey: clerk.CLERK_SECRET_KEY, apiUrl: clerk.CLERK_API_URL },
      defaultTurma: clerk.DEFAULT_TURMA,
    });
  } catch (err) {
    const trips = roundTripsOf(err);
    if (isSchemaMismatch(err)) {
      // Permanent until the schema is fixed: no Retry-After, and not "unavailable".
      return refuse("schema_mismatch", {
        level: "error",
        outcome: "error",
        sql_round_trips: trips,
        clerk_requests: trips > 1 ? 1 : 0,
        ...schemaErrorFields(err),
      });
    }
    return refuse(
      "database_unavailable",
      {
        level: "error",
        outcome: "error",
        sql_round_trips: trips,
        // Whether Clerk was asked is unknown here only when the batch failed: then it was.
        clerk_requests: trips > 1 ? 1 : 0,
        ...dbErrorFields(err),
      },
      { "retry-after": "1" },
    );
  }
  const counts = { sql_round_trips: result.sqlRoundTrips, clerk_requests: result.clerkRequests };

  switch (result.kind) {
    case "ok": {
      // Committed: a new or linked profile's welcome email goes out after this answer, as after
      // the webhook (the same function; it ignores every other outcome).
      if (result.outcome) welcomeAfterSync(result.clerkId, result.outcome);
      const body = {
        ok: true,
        clerk_id: result.clerkId,
        source: result.source,
        mentorado: result.mentorado,
      };
      return finish(json(200, body, { ...cors, "cache-control": "private, no-store" }), {
        outcome: result.outcome ?? "found",
        source: result.source,
        ...counts,
      });
    }
    case "deleted":
      return refuse("user_deleted", { outcome: "deleted", ...counts });
    case "clerk_unavailable":
      return refuse(
        "clerk_unavailable",
        {
          level: "warn",
          outcome: "error",
          clerk_status: result.clerkStatus ?? undefined,
          ...counts,
        },
        { "retry-after": String(result.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS) },
      );
    case "clerk_unauthorized":
      return refuse("misconfigured", {
        level: "error",
        outcome: "error",
        clerk_status: result.clerkStatus,
        variables: ["CLERK_SECRET_KEY"],
        ...counts,
      });
    case "clerk_refused":
      return refuse("clerk_user_invalid", {
        level: "error",
        outcome: "error",
        clerk_status: result.clerkStatus,
        ...counts,
      });
  }
}
