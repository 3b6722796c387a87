// The baseline of `npm run bench`: the seed plan's flow, kept here and nowhere else. Same
// method/size checks, svix verification, zod parsing and record building as ours (the lib/
// functions themselves), then the plan's SEQUENTIAL queries over the same neon-http driver, each
// one HTTP request and its own autocommit transaction:
//   (1) upsert the user by clerk_id            (order-safe: only strictly newer data overwrites)
//   (2) select the mentorado by email           (only for a verified email)
//   (3) link it (update user_id) or insert one  (only when (2) says so)
//   (4) insert the ledger row                   (ON CONFLICT DO NOTHING: a redelivery = duplicate)
// It is made as correct as that shape allows (no read-then-write duplicates: the inserts and the
// link are guarded by the same unique indexes), so the comparison measures round trips, not bugs.
// It writes no welcome email (the plan had none): that only makes the baseline cheaper.
import { and, eq, isNull, sql } from "drizzle-orm";
import { clerkWebhookEvents, mentorados, users } from "../drizzle/schema.js";
import { parseClerkEvent } from "../lib/clerk/schemas.js";
import { getDb } from "../lib/db.js";
import { getDbEnv, getWebhookEnv } from "../lib/env.js";
import { log, safeId } from "../lib/log.js";
import { type Outcome, toUserRecord } from "../lib/sync/apply.js";
import { readBody } from "../lib/webhook/read-body.js";
import { outcomeResponse, refusal } from "../lib/webhook/responses.js";
import { prepareVerifiers, verifySignature } from "../lib/webhook/verify.js";

export async function baselineHandler(request: Request): Promise<Response> {
  const started = performance.now();
  const svixId = safeId(request.headers.get("svix-id"));
  let trips = 0;
  const finish = (response: Response, outcome: string, type?: string): Response => {
    log({
      event: "clerk_webhook_baseline",
      svix_id: svixId,
      type,
      outcome,
      status: response.status,
      ms: Math.round((performance.now() - started) * 100) / 100,
      sql_round_trips: trips,
    });
    return response;
  };
  if (request.method !== "POST") return finish(refusal("method_not_allowed"), "rejected");
  let secrets: string[];
  let defaultTurma: string;
  try {
    const env = getWebhookEnv();
    getDbEnv();
    secrets = env.CLERK_WEBHOOK_SIGNING_SECRET;
    defaultTurma = env.DEFAULT_TURMA;
    prepareVerifiers(secrets);
  } catch {
    return finish(refusal("misconfigured"), "error");
  }
  const body = await readBody(request);
  if (!body.ok) {
    const code = body.reason === "too_large" ? "payload_too_large" : "body_not_utf8";
    return finish(refusal(code), "rejected");
  }
  const verified = verifySignature(body.text, request.headers, secrets);
  if (!verified.ok) return finish(refusal(verified.error), "rejected");
  let json: unknown;
  try {
    json = JSON.parse(body.text);
  } catch {
    return finish(refusal("invalid_json"), "rejected");
  }
  const parsed = parseClerkEvent(json);
  if (!parsed.ok) return finish(refusal("invalid_event", parsed.error), "rejected");
  const { event } = parsed;
  if (event.kind === "ignored") return finish(outcomeResponse("ignored"), "ignored", event.type);
  if (event.kind === "delete") {
    return finish(
      refusal("invalid_event", "the baseline handles user.created/updated only"),
      "rejected",
    );
  }

  const r = toUserRecord(
    event.user,
    { svixId: verified.svixId, type: event.type, timestampSeconds: verified.timestampSeconds },
    defaultTurma,
  );
  const db = getDb();
  try {
    // (1) upsert the user
    trips++;
    const [user] = await db
      .insert(users)
      .values({
        clerkId: r.clerk_id,
        email: r.email,
        emailVerified: r.email_verified,
        firstName: r.first_name,
        lastName: r.last_name,
        username: r.username,
        imageUrl: r.image_url,
        clerkCreatedAt: new Date(r.clerk_created_at),
        clerkUpdatedAt: new Date(r.clerk_updated_at),
      })
      .onConflictDoUpdate({
        target: users.clerkId,
        set: {
          email: sql`excluded.email`,
          emailVerified: sql`excluded.email_verified`,
          firstName: sql`excluded.first_name`,
          lastName: sql`excluded.last_name`,
          username: sql`excluded.username`,
          imageUrl: sql`excluded.image_url`,
          clerkUpdatedAt: sql`excluded.clerk_updated_at`,
          updatedAt: sql`now()`,
        },
        setWhere: sql`${users.deletedAt} is null and (${users.clerkUpdatedAt} is null
          or ${users.clerkUpdatedAt} < excluded.clerk_updated_at)`,
      })
      .returning({ id: users.id });

    let outcome: Outcome = user ? "applied" : "stale";
    if (user && r.email && r.email_verified && r.nome_completo) {
      // (2) select the mentorado by email
      trips++;
      const [found] = await db
        .select({ id: mentorados.id, userId: mentorados.userId })
        .from(mentorados)
        .where(sql`email_key(${mentorados.email}) = email_key(${r.email})`)
        .limit(1);
      if (!found) {
        // (3) insert one
        trips++;
        const created = await db
          .insert(mentorados)
          .values({
            userId: user.id,
            nomeCompleto: r.nome_completo,
            email: r.email,
            turma: r.turma,
            origem: "clerk_signup",
          })
          .onConflictDoNothing()
          .returning({ id: mentorados.id });
        outcome = created.length > 0 ? "created" : "applied";
      } else if (found.userId === null) {
        // (3) link it
        trips++;
        const linked = await db
          .update(mentorados)
          .set({ userId: user.id, updatedAt: sql`now()` })
          .where(and(eq(mentorados.id, found.id), isNull(mentorados.userId)))
          .returning({ id: mentorados.id });
        outcome = linked.length > 0 ? "linked" : "conflict";
      } else if (found.userId !== user.id) {
        outcome = "conflict";
      }
    }

    // (4) insert the ledger row
    trips++;
    const recorded = await db
      .insert(clerkWebhookEvents)
      .values({
        svixId: r.svix_id,
        type: r.type,
        clerkUserId: r.clerk_id,
        outcome,
        eventTimestamp: r.event_timestamp === null ? null : new Date(r.event_timestamp),
      })
      .onConflictDoNothing()
      .returning({ svixId: clerkWebhookEvents.svixId });
    if (recorded.length === 0) outcome = "duplicate";
    return finish(outcomeResponse(outcome), outcome, event.type);
  } catch {
    return finish(refusal("database_unavailable"), "error", event.type);
  }
}
