// At-least-once delivery under concurrency: every event of N users delivered 3 to 5 times, the
// deliveries of one user interleaved, >= 32 requests in flight, through HTTP -> handler -> Neon
// driver -> local SQL endpoint -> the database.
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "../../lib/db.js";
import { buildUser, clerkId, userEvent } from "../fixtures/clerk.js";
import { stats } from "../helpers/endpoint-control.js";
import {
  type Delivery,
  delivery,
  inPool,
  peakInFlight,
  post,
  report,
  rng,
  shuffle,
  size,
  useWebhookServer,
} from "../helpers/http.js";
import { preRegister } from "../helpers/webhook.js";

const server = useWebhookServer();

describe("duplicates under concurrency", () => {
  it("leaves exactly one user, one mentorado, one welcome per person and one ledger row per svix id", async () => {
    const n = size(120, 2000);
    const seed = Date.now() % 1_000_000;
    const random = rng(seed);
    const deliveries: Delivery[] = [];
    let distinct = 0;
    for (let i = 0; i < n; i++) {
      const email = `dup${i}@example.com`;
      // A third of the people were pre-registered by the app.
      if (i % 3 === 0) await preRegister(email.toUpperCase(), `Pessoa ${i}`, "turma_pre");
      const user = buildUser({
        email,
        firstName: `P${i}`,
        lastName: "Teste",
        updatedAt: 1_780_000_000_000 + i,
      });
      const events = [
        delivery(userEvent("user.created", user), clerkId("msg")),
        delivery(
          userEvent("user.updated", {
            ...user,
            username: `p${i}`,
            updated_at: user.updated_at + 1000,
          }),
          clerkId("msg"),
        ),
      ];
      distinct += events.length;
      for (const d of events) {
        const copies = 3 + Math.floor(random() * 3);
        for (let c = 0; c < copies; c++) deliveries.push(d);
      }
    }
    const order = shuffle(deliveries, random);
    const before = await stats();
    const answers = await inPool(order, 32, (d) => post(server.url, d));
    const after = await stats();

    const byStatus = new Map<number, number>();
    for (const a of answers) byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1);
    const duplicates = answers.filter((a) => a.outcome === "duplicate").length;
    report("duplicates-under-concurrency", {
      seed,
      users: n,
      requests: order.length,
      distinct_svix_ids: distinct,
      duplicate_answers: duplicates,
      peak_in_flight: peakInFlight(),
      sql_requests: after.requests - before.requests,
    });

    expect([...byStatus.keys()], `seed ${seed}`).toEqual([200]);
    expect(peakInFlight()).toBeGreaterThanOrEqual(32);
    expect(duplicates).toBe(order.length - distinct);
    expect(after.requests - before.requests).toBe(order.length);

    const r = await getDb().execute<{
      users: number;
      mentorados: number;
      linked: number;
      welcome: number;
      ledger: number;
      usernames: number;
    }>(sql`select
      (select count(*)::int from users) as users,
      (select count(*)::int from mentorados) as mentorados,
      (select count(distinct user_id)::int from mentorados where user_id is not null) as linked,
      (select count(*)::int from clerk_sync.email_outbox where kind = 'welcome') as welcome,
      (select count(*)::int from clerk_sync.clerk_webhook_events) as ledger,
      (select count(*)::int from users where username like 'p%') as usernames`);
    expect(r.rows[0], `seed ${seed}`).toEqual({
      users: n,
      mentorados: n,
      linked: n,
      welcome: n,
      ledger: distinct,
      usernames: n,
    });
  });
});
