// Faults, through the whole HTTP stack: a database that is unreachable, unavailable, or failing at
// the batch's last statement answers 503 and writes nothing; redelivery (as Svix does for any
// non-2xx) then converges to the correct state. Serialization failures are retried in-request.
import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { getDb } from "../../lib/db.js";
import { buildUser, clerkId, userEvent } from "../fixtures/clerk.js";
import { control, stats } from "../helpers/endpoint-control.js";
import {
  type Delivery,
  delivery,
  type HttpAnswer,
  inPool,
  post,
  report,
  size,
  useWebhookServer,
} from "../helpers/http.js";
import { preRegister, snapshot } from "../helpers/webhook.js";

const server = useWebhookServer();
afterEach(async () => {
  await control({ faults: {} });
});

function people(n: number, prefix: string): Delivery[] {
  return Array.from({ length: n }, (_, i) =>
    delivery(
      userEvent("user.created", buildUser({ email: `${prefix}${i}@example.com` })),
      clerkId("msg"),
    ),
  );
}

/** Delivers like Svix: anything that is not 2xx is sent again, until all succeed. */
async function deliverUntilAccepted(url: string, deliveries: Delivery[], concurrency = 16) {
  let pending = deliveries;
  let attempts = 0;
  let rounds = 0;
  const failures = new Map<number, number>();
  while (pending.length > 0 && rounds < 20) {
    rounds++;
    const answers: HttpAnswer[] = await inPool(pending, concurrency, (d) => post(url, d));
    attempts += answers.length;
    for (const a of answers)
      if (a.status !== 200) failures.set(a.status, (failures.get(a.status) ?? 0) + 1);
    pending = pending.filter((_, i) => answers[i]?.status !== 200);
  }
  return { attempts, rounds, failures, left: pending.length };
}

async function counts() {
  const r = await getDb().execute<{
    users: number;
    mentorados: number;
    welcome: number;
    ledger: number;
  }>(sql`select
    (select count(*)::int from users) as users, (select count(*)::int from mentorados) as mentorados,
    (select count(*)::int from clerk_sync.email_outbox) as welcome, (select count(*)::int from clerk_sync.clerk_webhook_events) as ledger`);
  return r.rows[0];
}

describe("faults", () => {
  it("answers 503 and writes nothing while the SQL endpoint is unreachable, then converges", async () => {
    const batch = people(size(20, 200), "offline");
    const saved = process.env.NEON_LOCAL_FETCH_ENDPOINT;
    process.env.NEON_LOCAL_FETCH_ENDPOINT = "http://127.0.0.1:9/sql";
    let answers: HttpAnswer[];
    try {
      answers = await inPool(batch, 16, (d) => post(server.url, d));
    } finally {
      process.env.NEON_LOCAL_FETCH_ENDPOINT = saved;
    }
    expect(new Set(answers.map((a) => `${a.status} ${a.error}`))).toEqual(
      new Set(["503 database_unavailable"]),
    );
    expect(await counts()).toEqual({ users: 0, mentorados: 0, welcome: 0, ledger: 0 });
    const run = await deliverUntilAccepted(server.url, batch);
    expect(run.left).toBe(0);
    expect(await counts()).toEqual({
      users: batch.length,
      mentorados: batch.length,
      welcome: batch.length,
      ledger: batch.length,
    });
    report("fault-unreachable", { requests: batch.length + run.attempts, faults: batch.length });
  });

  it("answers 503 and writes nothing while the database answers errors", async () => {
    await control({ faults: { unavailable: true } });
    const batch = people(10, "down");
    const answers = await inPool(batch, 10, (d) => post(server.url, d));
    expect(answers.every((a) => a.status === 503)).toBe(true);
    await control({ faults: {} });
    expect(await counts()).toEqual({ users: 0, mentorados: 0, welcome: 0, ledger: 0 });
  });

  it("rolls back batches failing at their last statement under load, and redelivery converges", async () => {
    const n = size(60, 600);
    const batch = people(n, "falha");
    for (let i = 0; i < n; i += 4) await preRegister(`falha${i}@example.com`);
    const injected = Math.floor(n / 3);
    await control({ faults: { failLastStatementOfNextBatches: injected } });
    const first = await inPool(batch, 32, (d) => post(server.url, d));
    const failed = first.filter((a) => a.status === 503).length;
    expect(failed).toBe(injected);
    // Nothing of a failed delivery was written: no user, no profile, no ledger row.
    const mid = await counts();
    expect(mid?.users).toBe(n - injected);
    expect(mid?.ledger).toBe(n - injected);
    const run = await deliverUntilAccepted(
      server.url,
      batch.filter((_, i) => first[i]?.status !== 200),
    );
    expect(run.left).toBe(0);
    expect(await counts()).toEqual({ users: n, mentorados: n, welcome: n, ledger: n });
    const linked = await getDb().execute<{ n: number }>(
      sql`select count(*)::int as n from mentorados where origem = 'pre_registered' and user_id is not null`,
    );
    expect(linked.rows[0]?.n).toBe(Math.ceil(n / 4));
    report("fault-last-statement", {
      requests: n + run.attempts,
      faults_injected: injected,
      rounds: run.rounds,
    });
  });

  it("retries serialization failures inside the request (at most three attempts)", async () => {
    const before = await stats();
    await control({ faults: { serializationFailures: 2 } });
    const [d] = people(1, "serial");
    expect((await post(server.url, d!)).outcome).toBe("created");
    expect((await stats()).requests - before.requests).toBe(3);

    await control({ faults: { serializationFailures: 3 } });
    const [e] = people(1, "serial-b");
    const snap = await snapshot();
    expect((await post(server.url, e!)).status).toBe(503);
    expect(await snapshot()).toBe(snap);
  });
});
