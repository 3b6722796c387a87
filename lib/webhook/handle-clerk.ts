// The webhook pipeline, top to bottom: method -> configuration -> size -> signature -> JSON ->
// schema -> one SQL batch -> answer, with one log line per request whatever happens.
import { LIMITS, parseClerkEvent, svixIdSchema } from "../clerk/schemas.js";
import { getDb } from "../db.js";
import { dbErrorFields, isSchemaMismatch, roundTripsOf, schemaErrorFields } from "../db-error.js";
import { welcomeAfterSync } from "../email/after-sync.js";
import { ConfigError, getDbEnv, getWebhookEnv } from "../env.js";
import { type LogFields, requestLog, safeId } from "../log.js";
import { applyDeletion, applyUsers, type Outcome, toUserRecord } from "../sync/apply.js";
import { readBody } from "./read-body.js";
import { type ErrorCode, outcomeResponse, refusal } from "./responses.js";
import { prepareVerifiers, verifySignature } from "./verify.js";

export async function handleClerkWebhook(request: Request): Promise<Response> {
  const fields: LogFields = {
    event: "clerk_webhook",
    svix_id: safeId(request.headers.get("svix-id")),
  };
  const finish = requestLog(fields);
  const refuse = (code: ErrorCode, detail?: string): Response =>
    finish(refusal(code, detail), { outcome: "rejected", error: code });

  if (request.method !== "POST") return refuse("method_not_allowed");

  let secrets: string[];
  let defaultTurma: string;
  let dbEnv: ReturnType<typeof getDbEnv>;
  try {
    const env = getWebhookEnv();
    dbEnv = getDbEnv();
    secrets = env.CLERK_WEBHOOK_SIGNING_SECRET;
    defaultTurma = env.DEFAULT_TURMA;
    prepareVerifiers(secrets);
  } catch (err) {
    // Loud in the logs (which variable), silent in the answer.
    const variables = err instanceof ConfigError ? err.variables : ["CLERK_WEBHOOK_SIGNING_SECRET"];
    return finish(refusal("misconfigured"), {
      level: "error",
      outcome: "error",
      error: "misconfigured",
      variables,
    });
  }

  const body = await readBody(request);
  if (!body.ok) return refuse(body.reason === "too_large" ? "payload_too_large" : "body_not_utf8");

  const verified = verifySignature(body.text, request.headers, secrets);
  if (!verified.ok) return refuse(verified.error);
  // The svix-id is the ledger's primary key: bounded like every stored identifier.
  if (!svixIdSchema.safeParse(verified.svixId).success)
    return refuse("invalid_event", `svix-id: must be at most ${LIMITS.svixId} characters`);

  let json: unknown;
  try {
    json = JSON.parse(body.text);
  } catch {
    return refuse("invalid_json");
  }
  const parsed = parseClerkEvent(json);
  if (!parsed.ok) return refuse("invalid_event", parsed.error);
  const { event } = parsed;
  fields.type = safeId(event.type);

  if (event.kind === "ignored") {
    return finish(outcomeResponse("ignored"), { outcome: "ignored", sql_round_trips: 0 });
  }

  const delivery = {
    svixId: verified.svixId,
    type: event.type,
    timestampSeconds: verified.timestampSeconds,
  };
  try {
    const db = getDb(dbEnv);
    let outcome: Outcome;
    let roundTrips: number;
    if (event.kind === "delete") {
      const r = await applyDeletion(db, {
        svix_id: delivery.svixId,
        clerk_id: event.clerkId,
        event_timestamp: new Date(delivery.timestampSeconds * 1000).toISOString(),
      });
      outcome = r.result;
      roundTrips = r.roundTrips;
    } else {
      const record = toUserRecord(event.user, delivery, defaultTurma);
      const r = await applyUsers(db, [record]);
      outcome = r.result.get(delivery.svixId) ?? "duplicate";
      roundTrips = r.roundTrips;
      // Committed: a new or linked profile's welcome email goes out after this answer.
      welcomeAfterSync(record.clerk_id, outcome);
    }
    return finish(outcomeResponse(outcome), { outcome, sql_round_trips: roundTrips });
  } catch (err) {
    // Permanent until someone fixes the schema, so not "retry later": a 500 that says so. Svix
    // still retries any 5xx (for about 28 hours), and the rolled-back delivery then applies.
    if (isSchemaMismatch(err)) {
      return finish(refusal("schema_mismatch"), {
        level: "error",
        outcome: "error",
        error: "schema_mismatch",
        sql_round_trips: roundTripsOf(err),
        ...schemaErrorFields(err),
      });
    }
    return finish(refusal("database_unavailable"), {
      level: "error",
      outcome: "error",
      sql_round_trips: roundTripsOf(err),
      ...dbErrorFields(err),
    });
  }
}
