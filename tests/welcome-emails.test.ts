// The welcome-email outbox, end to end: real webhooks write the rows, the real cron handler drains
// them through the real Resend provider code into a local stand-in of Resend's HTTP API.
import { sql } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as cronRoute from "../api/cron/welcome-emails.js";
import { getDb } from "../lib/db.js";
import { dispatchWelcomeEmails } from "../lib/email/dispatch.js";
import { createLogProvider, type OutgoingEmail } from "../lib/email/providers.js";
import { welcomeEmail } from "../lib/email/welcome-template.js";
import { ConfigError, getEmailEnv } from "../lib/env.js";
import { type EmailApi, startEmailApi } from "../scripts/local/email-api.js";
import { buildUser, deletedEvent, userEvent } from "./fixtures/clerk.js";
import { control, countRoundTrips } from "./helpers/endpoint-control.js";
import { captured, sensitive } from "./helpers/log-capture.js";
import { allOutbox, deliver, preRegister } from "./helpers/webhook.js";

const CRON_SECRET = "cron-secret-for-tests-0123456789";
const ENV = {
  CRON_SECRET,
  EMAIL_PROVIDER: "resend",
  RESEND_API_KEY: "re_test_0123456789abcdef",
  EMAIL_FROM: "Mentoria Neon <boas-vindas@mentoria.example>",
  EMAIL_MAX_ATTEMPTS: "3",
  EMAIL_SENDS_PER_SECOND: "1000",
};
const ENV_KEYS = [...Object.keys(ENV), "RESEND_API_URL", "VERCEL_ENV"];

sensitive.add(CRON_SECRET);
sensitive.add(ENV.RESEND_API_KEY);
sensitive.add("Joaquina");
sensitive.add("Valadares");

let api: EmailApi;
/** Where this test's log lines start in `captured` (it holds the whole file's lines). */
let mark = 0;
const logged = () => captured.slice(mark);

beforeAll(async () => {
  api = await startEmailApi({ apiKey: ENV.RESEND_API_KEY });
});
beforeEach(() => {
  mark = captured.length;
  for (const k of ENV_KEYS) delete process.env[k];
  Object.assign(process.env, ENV, { RESEND_API_URL: api.url });
});
afterEach(async () => {
  delete process.env.VERCEL_ENV; // the database env refuses the local endpoint in production
  api.reset();
  await control({ faults: {} });
});
afterAll(async () => {
  for (const k of ENV_KEYS) delete process.env[k];
  await api.close();
});

type Handler = (r: Request) => Promise<Response>;
const routes = cronRoute as unknown as Record<string, Handler>;

interface RunAnswer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

async function runCron(
  authorization: string | null = `Bearer ${CRON_SECRET}`,
  method = "GET",
): Promise<RunAnswer> {
  const headers: Record<string, string> = { "user-agent": "vercel-cron/1.0" };
  if (authorization !== null) headers.authorization = authorization;
  const res = await routes[method]!(
    new Request("https://sync.example.test/api/cron/welcome-emails", { method, headers }),
  );
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
    headers: res.headers,
  };
}

let seq = 0;
/** A new Clerk sign-up delivered through the real webhook handler (a `created` mentorado). */
async function signUp(opts: { email?: string; turma?: string } = {}) {
  seq++;
  const email = opts.email ?? `joaquina.${seq}@example.com`;
  const user = buildUser({
    email,
    firstName: "Joaquina",
    lastName: "Valadares",
    ...(opts.turma ? { turma: opts.turma } : {}),
  });
  const event = userEvent("user.created", user);
  const answer = await deliver(event, { svixId: `msg_signup_${seq}` });
  expect(answer.body.outcome).toBe("created");
  return { user, event, email, svixId: `msg_signup_${seq}` };
}

/** "Advances time" for due rows: every pending row becomes due now (no sleeping). */
async function makeAllDue() {
  await getDb().execute(
    sql`update clerk_sync.email_outbox set next_attempt_at = now() - interval '1 second' where status = 'pending'`,
  );
}

async function outboxFacts(id: number) {
  const r = await getDb().execute<{ later: boolean; leased: boolean }>(sql`
    select next_attempt_at > now() + interval '1 minute' as later,
           coalesce(locked_until > now(), false) as leased
    from clerk_sync.email_outbox where id = ${id}`);
  return r.rows[0]!;
}

function runLines(): Record<string, unknown>[] {
  return logged()
    .filter((l) => l.includes('"event":"welcome_emails"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("authorisation", () => {
  it.each([
    ["no Authorization header", null],
    ["a wrong secret", "Bearer not-the-cron-secret-at-all"],
    ["the secret without Bearer", CRON_SECRET],
    ["another scheme", `Basic ${CRON_SECRET}`],
  ])("401 with %s: no SQL, nothing claimed, nothing sent", async (_, auth) => {
    await signUp();
    let answer: RunAnswer | undefined;
    const trips = await countRoundTrips(async () => {
      answer = await runCron(auth);
    });
    expect(answer!.status).toBe(401);
    expect(answer!.body).toMatchObject({ ok: false, error: "unauthorized" });
    expect(answer!.headers.get("content-type")).toMatch(/^application\/json/);
    expect(trips).toBe(0);
    expect(api.requests).toEqual([]);
    const [row] = await allOutbox();
    expect(row).toMatchObject({ status: "pending", attempts: 0, lockedUntil: null });
  });

  it("500 (logged with the variable's name) when CRON_SECRET is unset; 405 for POST", async () => {
    delete process.env.CRON_SECRET;
    const r = await runCron(`Bearer ${CRON_SECRET}`);
    expect(r.status).toBe(500);
    expect(r.body).toMatchObject({ ok: false, error: "misconfigured" });
    expect(runLines().at(-1)).toMatchObject({ level: "error", variables: ["CRON_SECRET"] });

    process.env.CRON_SECRET = CRON_SECRET;
    const post = await runCron(`Bearer ${CRON_SECRET}`, "POST");
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET");
  });
});

describe("exactly once", () => {
  it("one email per new mentorado, even with duplicate webhooks; the email is the template", async () => {
    const a = await signUp({ turma: "turma_2026" });
    await preRegister("pre.joaquina@example.com", "Joaquina Valadares Pré", "neon_estrutura");
    const linked = userEvent(
      "user.created",
      buildUser({
        email: "pre.joaquina@example.com",
        firstName: "Joaquina",
        lastName: "Valadares",
      }),
    );
    expect((await deliver(linked, { svixId: "msg_link" })).body.outcome).toBe("linked");
    // Svix redeliveries (same svix-id), and a later update of the same user.
    expect((await deliver(a.event, { svixId: a.svixId })).body.outcome).toBe("duplicate");
    expect((await deliver(linked, { svixId: "msg_link" })).body.outcome).toBe("duplicate");
    const updated = {
      ...a.user,
      updated_at: a.user.updated_at + 1000,
      last_name: "Valadares Neta",
    };
    expect((await deliver(userEvent("user.updated", updated))).body.outcome).toBe("applied");

    const first = await runCron();
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ ok: true, claimed: 2, sent: 2, failed: 0, dead: 0, released: 0 });
    const again = await runCron();
    expect(again.body).toMatchObject({ claimed: 0, sent: 0 });

    expect(api.sent).toHaveLength(2);
    expect([...api.sendsByKey().values()]).toEqual([1, 1]);
    const rows = await allOutbox();
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      const email = api.sent.find((s) => s.idempotencyKey === `welcome-${row.id}`);
      expect(email, `row ${row.id} sent under its key`).toBeDefined();
      expect(row).toMatchObject({
        status: "sent",
        attempts: 0,
        providerMessageId: email!.id,
        lastError: null,
        lockedUntil: null,
      });
      expect(row.sentAt).toBeInstanceOf(Date);
    }
    const toA = api.sent.find((s) => s.to[0] === a.email);
    const expected = welcomeEmail({ nomeCompleto: "Joaquina Valadares", turma: "turma_2026" });
    expect(toA).toMatchObject({
      from: ENV.EMAIL_FROM,
      subject: "Boas-vindas à mentoria, Joaquina!",
      text: expected.text,
      html: expected.html,
    });
    expect(toA!.text).toContain("turma Turma 2026");
    const toPre = api.sent.find((s) => s.to[0] === "pre.joaquina@example.com");
    expect(toPre!.text).toContain("turma Neon Estrutura");

    // One log line per run, counts only.
    const lines = runLines();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: "info",
      status: 200,
      type: "resend",
      n_claimed: 2,
      n_sent: 2,
      n_failed: 0,
      n_dead: 0,
    });
  });

  it("two overlapping cron runs send each row exactly once", async () => {
    for (let i = 0; i < 6; i++) await signUp();
    api.delayMs = 30; // each send takes a while: the runs really overlap
    const [r1, r2] = await Promise.all([runCron(), runCron()]);
    expect(r1.status).toBe(200);
    expect(r2.status).toBe(200);
    expect(Number(r1.body.claimed) + Number(r2.body.claimed)).toBe(6);
    expect(Number(r1.body.sent) + Number(r2.body.sent)).toBe(6);
    // Exactly once at the provider, by the claim itself: no request was even repeated.
    expect(api.requests).toHaveLength(6);
    expect(api.requests.every((r) => r.status === 200 && !r.replayed)).toBe(true);
    expect([...api.sendsByKey().values()]).toEqual([1, 1, 1, 1, 1, 1]);
    expect((await allOutbox()).every((r) => r.status === "sent")).toBe(true);
  });

  it("three concurrent dispatches with small batches split the rows, none twice", async () => {
    for (let i = 0; i < 7; i++) await signUp();
    api.delayMs = 20;
    const { createResendProvider } = await import("../lib/email/providers.js");
    const provider = createResendProvider({ apiKey: ENV.RESEND_API_KEY, apiUrl: api.url });
    const dispatch = () =>
      dispatchWelcomeEmails({ db: getDb(), provider, from: ENV.EMAIL_FROM, batchSize: 3 });
    const counts = await Promise.all([dispatch(), dispatch(), dispatch()]);
    const claimed = counts.reduce((n, c) => n + c.claimed, 0);
    const sent = counts.reduce((n, c) => n + c.sent, 0);
    expect(claimed).toBe(sent);
    expect(sent).toBeGreaterThanOrEqual(6); // 3 batches of 3; 7 rows: at most one left
    await dispatch();
    expect(api.sent).toHaveLength(7);
    expect(api.requests).toHaveLength(7);
    expect(new Set(api.sent.map((s) => s.idempotencyKey)).size).toBe(7);
  });

  it("one sweep drains batch after batch (a daily run is not limited to one batch)", async () => {
    for (let i = 0; i < 5; i++) await signUp();
    const { createWelcomeCronHandler } = await import("../lib/email/cron.js");
    const res = await createWelcomeCronHandler({ batchSize: 2 })(
      new Request("https://sync.example.test/api/cron/welcome-emails", {
        headers: { authorization: `Bearer ${CRON_SECRET}` },
      }),
    );
    expect(await res.json()).toEqual({
      ok: true,
      claimed: 5,
      sent: 5,
      failed: 0,
      dead: 0,
      released: 0,
    });
    // Three batches (2 + 2 + 1): a claim per batch and a mark per email.
    expect(runLines().at(-1)).toMatchObject({ n_sent: 5, sql_round_trips: 8 });
    expect([...api.sendsByKey().values()]).toEqual([1, 1, 1, 1, 1]);
    expect((await allOutbox()).every((r) => r.status === "sent")).toBe(true);
  });

  it("a sweep stops at a batch that sends nothing (provider down): the rest keeps its attempts", async () => {
    for (let i = 0; i < 3; i++) await signUp();
    api.faults.push({ status: 503 }, { status: 503 });
    const { createWelcomeCronHandler } = await import("../lib/email/cron.js");
    const res = await createWelcomeCronHandler({ batchSize: 2 })(
      new Request("https://sync.example.test/api/cron/welcome-emails", {
        headers: { authorization: `Bearer ${CRON_SECRET}` },
      }),
    );
    expect(await res.json()).toMatchObject({ claimed: 2, sent: 0, failed: 2 });
    const rows = await allOutbox();
    expect(rows.map((r) => [r.status, r.attempts])).toEqual([
      ["pending", 1],
      ["pending", 1],
      ["pending", 0],
    ]);
  });

  it("a crash between the send and the mark does not send twice (idempotency key)", async () => {
    await signUp();
    // The provider accepts the email, then the database goes away before the row is marked.
    api.afterSend = async () => {
      await control({ faults: { unavailable: true } });
    };
    const crashed = await runCron();
    expect(crashed.status).toBe(503);
    expect(crashed.body).toMatchObject({ ok: false, error: "database_unavailable" });
    expect(api.sent).toHaveLength(1);
    api.afterSend = undefined;
    await control({ faults: {} });

    const [row] = await allOutbox();
    expect(row).toMatchObject({ status: "pending", attempts: 0, providerMessageId: null });
    // The lease still holds the row: a run now does not touch it.
    expect((await outboxFacts(row!.id)).leased).toBe(true);
    expect((await runCron()).body).toMatchObject({ claimed: 0 });

    // The lease runs out (as it would after `leaseSeconds`); the next run sends with the same key.
    await getDb().execute(
      sql`update clerk_sync.email_outbox set locked_until = now() - interval '1 second'`,
    );
    const recovered = await runCron();
    expect(recovered.body).toMatchObject({ claimed: 1, sent: 1 });
    expect(api.sent).toHaveLength(1); // Resend answered the original response: nothing re-sent
    expect(api.requests.map((r) => [r.status, r.replayed])).toEqual([
      [200, false],
      [200, true],
    ]);
    const [after] = await allOutbox();
    expect(after).toMatchObject({ status: "sent", providerMessageId: api.sent[0]!.id });
  });

  it("a lost answer (5xx after the provider sent) is retried with the same key: one email", async () => {
    await signUp();
    api.faults.push({ status: 500, afterSend: true });
    expect((await runCron()).body).toMatchObject({ claimed: 1, sent: 0, failed: 1 });
    await makeAllDue();
    expect((await runCron()).body).toMatchObject({ claimed: 1, sent: 1 });
    expect(api.sent).toHaveLength(1);
    const [row] = await allOutbox();
    expect(row).toMatchObject({ status: "sent", attempts: 1, providerMessageId: api.sent[0]!.id });
  });

  it("a profile unlinked by user.deleted is held, not welcomed", async () => {
    const { user } = await signUp();
    expect((await deliver(deletedEvent(user.id))).body.outcome).toBe("deleted");
    expect((await runCron()).body).toMatchObject({ claimed: 0 });
    expect(api.requests).toEqual([]);
    const [row] = await allOutbox();
    expect(row).toMatchObject({ status: "pending", attempts: 0 });
  });
});

describe("failures", () => {
  it("provider 5xx: pending with attempts=1 and a later next_attempt_at; sent on a later run", async () => {
    await signUp();
    api.faults.push({ status: 500 });
    const failed = await runCron();
    expect(failed.body).toMatchObject({ claimed: 1, sent: 0, failed: 1, dead: 0 });
    const [row] = await allOutbox();
    expect(row).toMatchObject({
      status: "pending",
      attempts: 1,
      lastError: "http_500_internal_server_error",
      lockedUntil: null,
    });
    expect((await outboxFacts(row!.id)).later).toBe(true);
    expect(runLines().at(-1)).toMatchObject({ level: "warn", n_failed: 1 });

    // Not due yet: the next run leaves it alone.
    expect((await runCron()).body).toMatchObject({ claimed: 0 });
    expect(api.requests).toHaveLength(1);

    await makeAllDue();
    expect((await runCron()).body).toMatchObject({ claimed: 1, sent: 1 });
    expect(api.sent).toHaveLength(1);
    const [sent] = await allOutbox();
    expect(sent).toMatchObject({ status: "sent", attempts: 1, providerMessageId: api.sent[0]!.id });
  });

  it("4xx (validation_error): dead at once, logged loudly with the outbox id only, never retried", async () => {
    await signUp();
    api.faults.push({ status: 422, name: "validation_error", message: "Invalid `to` field." });
    expect((await runCron()).body).toMatchObject({ claimed: 1, sent: 0, failed: 0, dead: 1 });
    const [row] = await allOutbox();
    expect(row).toMatchObject({
      status: "dead",
      attempts: 1,
      lastError: "http_422_validation_error",
      lockedUntil: null,
    });
    const dead = logged().filter((l) => l.includes('"event":"welcome_email_dead"'));
    expect(dead.map((l) => JSON.parse(l))).toEqual([
      {
        level: "error",
        event: "welcome_email_dead",
        outbox_id: row!.id,
        error: "http_422_validation_error",
        n_attempts: 1,
      },
    ]);
    expect(runLines().at(-1)).toMatchObject({ level: "error", n_dead: 1 });

    await makeAllDue();
    expect((await runCron()).body).toMatchObject({ claimed: 0 });
    expect(api.requests).toHaveLength(1);
  });

  it.each([
    [403, "invalid_api_key"],
    [409, "concurrent_idempotent_requests"],
  ])("%i %s is retried later, not dead", async (status, name) => {
    await signUp();
    api.faults.push({ status, name });
    expect((await runCron()).body).toMatchObject({ failed: 1, dead: 0 });
    const [row] = await allOutbox();
    expect(row).toMatchObject({
      status: "pending",
      attempts: 1,
      lastError: `http_${status}_${name}`,
    });
  });

  it("429 stops the run: that row waits for Retry-After, the rest is untouched, no attempt counted", async () => {
    await signUp();
    await signUp();
    api.faults.push({ status: 429, name: "daily_quota_exceeded", retryAfterSeconds: 3600 });
    expect((await runCron()).body).toMatchObject({
      claimed: 2,
      sent: 0,
      failed: 1,
      dead: 0,
      released: 1,
    });
    // One request reached Resend: the second email was not tried against a spent quota.
    expect(api.requests).toHaveLength(1);
    const rows = await allOutbox();
    expect(rows.map((r) => [r.status, r.attempts, r.lastError, r.lockedUntil])).toEqual([
      ["pending", 0, "http_429_daily_quota_exceeded", null],
      ["pending", 0, null, null],
    ]);
    const r = await getDb().execute<{ id: number; honoured: boolean }>(
      sql`select id, next_attempt_at > now() + interval '55 minutes' as honoured from clerk_sync.email_outbox order by id`,
    );
    expect(r.rows.map((x) => x.honoured)).toEqual([true, false]);
  });

  it("a quota that stays spent delays the email, never kills it (more 429s than EMAIL_MAX_ATTEMPTS)", async () => {
    await signUp();
    for (let run = 1; run <= 5; run++) {
      // No Retry-After: the row waits for the first backoff step.
      api.faults.push({ status: 429, name: "monthly_quota_exceeded" });
      expect((await runCron()).body).toMatchObject({ failed: 1, dead: 0 });
      await makeAllDue();
    }
    const [row] = await allOutbox();
    expect(row).toMatchObject({ status: "pending", attempts: 0 });
    expect((await runCron()).body).toMatchObject({ sent: 1 });
    expect(api.sent).toHaveLength(1);
  });

  it("after EMAIL_MAX_ATTEMPTS failures the row is dead (and a re-queue sends it)", async () => {
    await signUp();
    for (let attempt = 1; attempt <= 3; attempt++) {
      api.faults.push({ status: 503 });
      const r = await runCron();
      expect(r.body).toMatchObject(attempt < 3 ? { failed: 1, dead: 0 } : { failed: 0, dead: 1 });
      await makeAllDue();
    }
    const [row] = await allOutbox();
    expect(row).toMatchObject({
      status: "dead",
      attempts: 3,
      lastError: "http_503_application_error",
    });
    expect(logged().filter((l) => l.includes('"event":"welcome_email_dead"'))).toHaveLength(1);
    expect((await runCron()).body).toMatchObject({ claimed: 0 });

    // The README's retry statement brings it back.
    await getDb().execute(
      sql`update clerk_sync.email_outbox set status = 'pending', attempts = 0, next_attempt_at = now(), last_error = null, updated_at = now() where status = 'dead'`,
    );
    expect((await runCron()).body).toMatchObject({ claimed: 1, sent: 1 });
    expect(api.sent).toHaveLength(1);
  });

  it("a payload changed under the same key (409 invalid_idempotent_request) is dead, not re-sent", async () => {
    await signUp();
    api.faults.push({ status: 500, afterSend: true }); // sent, answer lost
    await runCron();
    await getDb().execute(sql`update mentorados set nome_completo = 'Benedita Valadares'`);
    await makeAllDue();
    expect((await runCron()).body).toMatchObject({ dead: 1 });
    expect(api.sent).toHaveLength(1);
    const [row] = await allOutbox();
    expect(row).toMatchObject({ status: "dead", lastError: "http_409_invalid_idempotent_request" });
  });

  it("a run past its time budget releases the rest of its batch for the next run", async () => {
    await signUp();
    await signUp();
    const provider = createLogProvider();
    const counts = await dispatchWelcomeEmails({
      db: getDb(),
      provider,
      from: ENV.EMAIL_FROM,
      timeBudgetMs: 0,
    });
    expect(counts).toMatchObject({ claimed: 2, sent: 0, released: 2 });
    const rows = await allOutbox();
    expect(rows.map((r) => [r.status, r.attempts, r.lockedUntil])).toEqual([
      ["pending", 0, null],
      ["pending", 0, null],
    ]);
  });
});

describe("configuration and the log provider", () => {
  it("EMAIL_PROVIDER: log by default locally, refused in production; production needs a key", () => {
    for (const k of ENV_KEYS) delete process.env[k];
    expect(getEmailEnv()).toMatchObject({ provider: "log", maxAttempts: 8, sendsPerSecond: 2 });

    process.env.RESEND_API_KEY = ENV.RESEND_API_KEY;
    process.env.EMAIL_FROM = ENV.EMAIL_FROM;
    expect(getEmailEnv()).toMatchObject({ provider: "resend", apiUrl: "https://api.resend.com" });

    const refused = (vars: Record<string, string | undefined>): string[] => {
      for (const k of ENV_KEYS) delete process.env[k];
      for (const [k, v] of Object.entries(vars)) if (v !== undefined) process.env[k] = v;
      try {
        getEmailEnv();
        return [];
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).variables;
      }
    };
    expect(refused({ VERCEL_ENV: "production", EMAIL_PROVIDER: "log" })).toContain(
      "EMAIL_PROVIDER",
    );
    expect(refused({ VERCEL_ENV: "production", EMAIL_FROM: ENV.EMAIL_FROM })).toEqual([
      "RESEND_API_KEY",
    ]);
    expect(
      refused({
        VERCEL_ENV: "production",
        RESEND_API_KEY: ENV.RESEND_API_KEY,
        EMAIL_FROM: ENV.EMAIL_FROM,
        RESEND_API_URL: "http://127.0.0.1:1",
      }),
    ).toEqual(["RESEND_API_URL"]);
    expect(refused({ EMAIL_PROVIDER: "resend", RESEND_API_KEY: ENV.RESEND_API_KEY })).toEqual([
      "EMAIL_FROM",
    ]);
    expect(refused({ VERCEL_ENV: "preview" })).toEqual([]);
  });

  it("the cron answers 500 in production with EMAIL_PROVIDER=log, and claims nothing", async () => {
    await signUp();
    process.env.VERCEL_ENV = "production";
    process.env.EMAIL_PROVIDER = "log";
    delete process.env.RESEND_API_URL;
    const r = await runCron();
    delete process.env.VERCEL_ENV;
    expect(r.status).toBe(500);
    expect(runLines().at(-1)).toMatchObject({ level: "error", variables: ["EMAIL_PROVIDER"] });
    const [row] = await allOutbox();
    expect(row).toMatchObject({ status: "pending", lockedUntil: null });
  });

  it("the log provider hands the email to its sink only; logs carry counts", async () => {
    await signUp({ email: "log.joaquina@example.com" });
    const printed: OutgoingEmail[] = [];
    const before = captured.length;
    const counts = await dispatchWelcomeEmails({
      db: getDb(),
      provider: createLogProvider((email) => printed.push(email)),
      from: ENV.EMAIL_FROM,
    });
    expect(counts).toMatchObject({ claimed: 1, sent: 1 });
    expect(printed.map((e) => e.to)).toEqual(["log.joaquina@example.com"]);
    expect(captured.slice(before)).toEqual([]);
    const [row] = await allOutbox();
    expect(row).toMatchObject({ status: "sent", providerMessageId: `log_welcome-${row!.id}` });
  });

  it("the template escapes HTML and tolerates odd names", () => {
    const e = welcomeEmail({ nomeCompleto: "  <b>Zé</b>\n da Silva ", turma: "neon_estrutura" });
    expect(e.subject).toBe("Boas-vindas à mentoria, <b>Zé</b>!");
    expect(e.html).toContain("&lt;b&gt;Zé&lt;/b&gt;");
    expect(e.html).not.toContain("<b>Zé");
    expect(e.text).toContain("turma Neon Estrutura.");
    expect(welcomeEmail({ nomeCompleto: "", turma: "x" }).subject).toBe("Boas-vindas à mentoria!");
  });
});
