// The welcome email sent inline, right after the webhook's answer (lib/email/after-sync.ts with
// waitUntil): signed webhooks go over real HTTP to the local api-server, which installs Vercel's
// request context, so the function's waitUntil work runs after the answer and `server.idle()`
// awaits it. Emails go through the real Resend provider code into the local Resend stand-in; the
// daily sweeper is the real cron handler.
import { sql } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as cronRoute from "../api/cron/welcome-emails.js";
import { getDb } from "../lib/db.js";
import { type ApiServer, startApiServer } from "../scripts/local/api-server.js";
import { type ClerkApi, startClerkApi } from "../scripts/local/clerk-api.js";
import { type EmailApi, startEmailApi } from "../scripts/local/email-api.js";
import {
  generateSigningKey,
  publicKeyPem,
  signSessionToken,
} from "../scripts/local/session-token.js";
import { buildUser, userEvent } from "./fixtures/clerk.js";
import { countRoundTrips } from "./helpers/endpoint-control.js";
import { delivery, post } from "./helpers/http.js";
import { captured, sensitive } from "./helpers/log-capture.js";
import { allOutbox, preRegister } from "./helpers/webhook.js";

const CRON_SECRET = "cron-secret-for-inline-tests-0123";
const ENV = {
  CRON_SECRET,
  EMAIL_PROVIDER: "resend",
  RESEND_API_KEY: "re_inline_0123456789abcdef",
  EMAIL_FROM: "Mentoria Neon <boas-vindas@mentoria.example>",
  EMAIL_MAX_ATTEMPTS: "3",
};
const ENV_KEYS = [
  ...Object.keys(ENV),
  "RESEND_API_URL",
  "VERCEL_ENV",
  "EMAIL_SENDS_PER_SECOND",
  "CLERK_JWT_KEY",
  "CLERK_SECRET_KEY",
  "CLERK_API_URL",
  "CLERK_AUTHORIZED_PARTIES",
];

sensitive.add(CRON_SECRET);
sensitive.add(ENV.RESEND_API_KEY);
sensitive.add("Joaquina");

let email: EmailApi;
let clerk: ClerkApi;
const sessionKey = generateSigningKey();
let server: ApiServer;
let webhookUrl: string;
let mark = 0;
const lines = (event: string) =>
  captured
    .slice(mark)
    .filter((l) => l.includes(`"event":"${event}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

beforeAll(async () => {
  email = await startEmailApi({ apiKey: ENV.RESEND_API_KEY });
  clerk = await startClerkApi();
  server = await startApiServer({ apiDir: "api", port: 0, host: "127.0.0.1" });
  webhookUrl = `http://127.0.0.1:${server.port}/api/webhooks/clerk`;
});
beforeEach(() => {
  mark = captured.length;
  for (const k of ENV_KEYS) delete process.env[k];
  Object.assign(process.env, ENV, {
    RESEND_API_URL: email.url,
    CLERK_JWT_KEY: publicKeyPem(sessionKey),
    CLERK_SECRET_KEY: clerk.secretKey,
    CLERK_API_URL: clerk.url,
  });
});
afterEach(async () => {
  email.reset();
  await server.idle();
});
afterAll(async () => {
  for (const k of ENV_KEYS) delete process.env[k];
  await server.close();
  await email.close();
  await clerk.close();
});

let seq = 0;
/** A Clerk sign-up posted to the dev server; resolves with the answer, not the email. */
async function signUp(address = `joaquina.inline.${++seq}@example.com`, svixId = `msg_in_${seq}`) {
  const event = userEvent(
    "user.created",
    buildUser({ email: address, firstName: "Joaquina", lastName: "Inline" }),
  );
  const d = delivery(event, svixId);
  return { answer: await post(webhookUrl, d), d, address };
}

async function sweep(): Promise<Record<string, unknown>> {
  const res = await cronRoute.GET(
    new Request("https://sync.example.test/api/cron/welcome-emails", {
      headers: { authorization: `Bearer ${CRON_SECRET}` },
    }),
  );
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

async function makeAllDue() {
  await getDb().execute(
    sql`update clerk_sync.email_outbox set next_attempt_at = now() - interval '1 second' where status = 'pending'`,
  );
}

describe("inline welcome email after the webhook's answer", () => {
  it("a new profile's email is sent in the same invocation; the sweeper then has nothing to do", async () => {
    let answer: Awaited<ReturnType<typeof signUp>>["answer"] | undefined;
    let address = "";
    const trips = await countRoundTrips(async () => {
      ({ answer, address } = await signUp());
      await server.idle();
    });
    expect(answer).toMatchObject({ status: 200, outcome: "created" });

    const [row] = await allOutbox();
    expect(email.sent).toHaveLength(1);
    expect(email.sent[0]).toMatchObject({
      to: [address],
      idempotencyKey: `welcome-${row!.id}`,
      subject: "Boas-vindas à mentoria, Joaquina!",
    });
    expect(row).toMatchObject({
      status: "sent",
      attempts: 0,
      providerMessageId: email.sent[0]!.id,
      lockedUntil: null,
    });
    // The answer's path made its one SQL request; the claim and the mark came after it.
    expect(trips).toBe(3);
    expect(lines("clerk_webhook")).toEqual([
      expect.objectContaining({ outcome: "created", status: 200, sql_round_trips: 1 }),
    ]);
    expect(lines("welcome_email_inline")).toEqual([
      expect.objectContaining({
        level: "info",
        outcome: "dispatched",
        type: "resend",
        n_claimed: 1,
        n_sent: 1,
        sql_round_trips: 2,
      }),
    ]);
    expect(await sweep()).toMatchObject({ claimed: 0, sent: 0 });
    expect(email.requests).toHaveLength(1);
  });

  it("GET /api/me's on-demand sync welcomes the new profile inline too, once", async () => {
    const user = buildUser({ email: "me.inline@example.com", firstName: "Joaquina" });
    clerk.putUsers([user]);
    const token = signSessionToken(sessionKey, { sub: user.id, azp: "https://app.example.test" });
    sensitive.add(token);
    const res = await fetch(`http://127.0.0.1:${server.port}/api/me`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      source: "clerk",
      mentorado: { origem: "clerk_signup" },
    });
    await server.idle();
    const [row] = await allOutbox();
    expect(email.sent.map((m) => [m.to[0], m.idempotencyKey])).toEqual([
      ["me.inline@example.com", `welcome-${row!.id}`],
    ]);
    expect(row).toMatchObject({ status: "sent" });
    // The same user again: found in the database, nothing more to send.
    await fetch(`http://127.0.0.1:${server.port}/api/me`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await server.idle();
    expect(email.sent).toHaveLength(1);
  });

  it("a linked (pre-registered) profile is welcomed inline too", async () => {
    await preRegister("pre.inline@example.com", "Joaquina Pré", "neon_estrutura");
    const { answer } = await signUp("pre.inline@example.com");
    expect(answer).toMatchObject({ status: 200, outcome: "linked" });
    await server.idle();
    expect(email.sent.map((s) => s.to[0])).toEqual(["pre.inline@example.com"]);
    expect((await allOutbox()).map((r) => r.status)).toEqual(["sent"]);
  });

  it("the answer does not wait for the provider: 200 arrives while the send is still pending", async () => {
    const held = email.hold();
    // If the handler awaited the email, this would never resolve: the provider answers only
    // after release(), which comes after the 200 is in hand.
    const { answer } = await signUp();
    expect(answer).toMatchObject({ status: 200, outcome: "created" });
    await held.arrived;
    expect(email.pending).toBe(1);
    expect(email.sent).toEqual([]);

    // Meanwhile the row is leased to the inline send: a sweep now cannot take it.
    const [leased] = await allOutbox();
    expect(leased).toMatchObject({ status: "pending" });
    expect(leased!.lockedUntil).not.toBeNull();
    expect(await sweep()).toMatchObject({ claimed: 0 });

    held.release();
    await server.idle();
    expect(email.pending).toBe(0);
    expect(email.sent).toHaveLength(1);
    expect((await allOutbox()).map((r) => r.status)).toEqual(["sent"]);
  });

  it("a provider blip is retried in the same invocation, a second later, with the same key", async () => {
    email.faults.push({ status: 503 });
    await signUp();
    await server.idle();
    expect(email.requests.map((r) => r.status)).toEqual([503, 200]);
    expect(new Set(email.requests.map((r) => r.idempotencyKey)).size).toBe(1);
    expect(email.sent).toHaveLength(1);
    const [row] = await allOutbox();
    expect(row).toMatchObject({
      status: "sent",
      attempts: 0,
      providerMessageId: email.sent[0]!.id,
    });
    expect(lines("welcome_email_inline")).toEqual([
      expect.objectContaining({ level: "info", n_sent: 1, n_failed: 0 }),
    ]);
  });

  it("a provider failure leaves the row to the sweeper, which sends it later, exactly once", async () => {
    // Failing on the inline try and on its retry in place.
    email.faults.push({ status: 500 }, { status: 500 });
    const { answer } = await signUp();
    expect(answer).toMatchObject({ status: 200, outcome: "created" });
    await server.idle();
    const [failed] = await allOutbox();
    expect(failed).toMatchObject({
      status: "pending",
      attempts: 1,
      lastError: "http_500_internal_server_error",
      lockedUntil: null,
    });
    expect(email.sent).toEqual([]);
    expect(lines("welcome_email_inline")).toEqual([
      expect.objectContaining({ level: "warn", n_failed: 1, n_sent: 0 }),
    ]);

    await makeAllDue(); // the backoff has passed by the next sweep
    expect(await sweep()).toMatchObject({ claimed: 1, sent: 1 });
    expect(await sweep()).toMatchObject({ claimed: 0 });
    expect(email.sent).toHaveLength(1);
    expect([...email.sendsByKey().values()]).toEqual([1]);
    const [sent] = await allOutbox();
    expect(sent).toMatchObject({
      status: "sent",
      attempts: 1,
      providerMessageId: email.sent[0]!.id,
    });
  });

  it("an answer lost after the provider sent: the retry in place (same key) sends nothing new", async () => {
    email.faults.push({ status: 500, afterSend: true });
    await signUp();
    await server.idle();
    expect(email.sent).toHaveLength(1);
    expect(email.requests.map((r) => [r.status, r.replayed])).toEqual([
      [500, false],
      [200, true],
    ]);
    const [row] = await allOutbox();
    expect(row).toMatchObject({ status: "sent", providerMessageId: email.sent[0]!.id });
    expect(await sweep()).toMatchObject({ claimed: 0 });
    expect(email.sent).toHaveLength(1);
  });

  it("a duplicate delivery (same svix-id) sends nothing", async () => {
    const { d } = await signUp();
    await server.idle();
    expect(email.requests).toHaveLength(1);
    expect(await post(webhookUrl, d)).toMatchObject({ status: 200, outcome: "duplicate" });
    await server.idle();
    expect(email.requests).toHaveLength(1);
    expect(lines("welcome_email_inline")).toHaveLength(1);
  });

  it("sends only the synced user's rows, never another user's due email", async () => {
    // User A's inline send fails (and its retry in place); its row becomes due again (as after
    // the backoff).
    email.faults.push({ status: 503 }, { status: 503 });
    const a = await signUp();
    await server.idle();
    await makeAllDue();

    const b = await signUp();
    await server.idle();
    expect(email.sent.map((s) => s.to[0])).toEqual([b.address]);
    const rows = await allOutbox();
    expect(rows.map((r) => [r.status, r.attempts])).toEqual([
      ["pending", 1],
      ["sent", 0],
    ]);
    expect(await sweep()).toMatchObject({ claimed: 1, sent: 1 });
    expect(email.sent.map((s) => s.to[0])).toEqual([b.address, a.address]);
  });

  it("an invalid email configuration: the webhook answers as usual, the row waits, the log names the variable", async () => {
    delete process.env.EMAIL_FROM;
    const { answer } = await signUp();
    expect(answer).toMatchObject({ status: 200, outcome: "created" });
    await server.idle();
    expect(email.requests).toEqual([]);
    expect((await allOutbox()).map((r) => [r.status, r.attempts, r.lockedUntil])).toEqual([
      ["pending", 0, null],
    ]);
    expect(lines("welcome_email_inline")).toEqual([
      expect.objectContaining({
        level: "error",
        outcome: "skipped",
        error: "misconfigured",
        variables: ["EMAIL_FROM"],
      }),
    ]);

    process.env.EMAIL_FROM = ENV.EMAIL_FROM;
    expect(await sweep()).toMatchObject({ claimed: 1, sent: 1 });
  });
});
