// Races on linking, through the whole HTTP stack: the decisions are taken by Postgres (unique
// indexes, ON CONFLICT ... WHERE user_id IS NULL re-checked on the newest row), never by a read in
// JavaScript followed by a write.
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "../../lib/db.js";
import { buildUser, clerkId, userEvent } from "../fixtures/clerk.js";
import { delivery, post, report, size, useWebhookServer } from "../helpers/http.js";
import { preRegister } from "../helpers/webhook.js";

const server = useWebhookServer();

async function profileRows() {
  const r = await getDb().execute<{ email: string; owner: string | null; welcomes: number }>(sql`
    select lower(m.email) as email, u.clerk_id as owner,
      (select count(*)::int from clerk_sync.email_outbox o where o.mentorado_id = m.id) as welcomes
    from mentorados m left join users u on u.id = m.user_id order by 1`);
  return r.rows;
}

describe("races on linking", () => {
  it("links a pre-registered profile exactly once under concurrent user.created + user.updated", async () => {
    const n = size(40, 400);
    const people = [];
    for (let i = 0; i < n; i++) {
      const email = `corrida${i}@example.com`;
      await preRegister(email);
      const user = buildUser({ email, updatedAt: 1_800_000_000_000 + i });
      people.push({
        email,
        user,
        events: [
          delivery(userEvent("user.created", user), clerkId("msg")),
          delivery(
            userEvent("user.updated", { ...user, username: "x", updated_at: user.updated_at + 1 }),
            clerkId("msg"),
          ),
          delivery(
            userEvent("user.updated", { ...user, username: "y", updated_at: user.updated_at + 2 }),
            clerkId("msg"),
          ),
        ],
      });
    }
    const answers = await Promise.all(
      people.flatMap((p) => p.events.map((d) => post(server.url, d))),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const outcomes = answers.map((a) => a.outcome);
    // Per person, exactly one delivery did the linking; the others applied or were stale.
    expect(outcomes.filter((o) => o === "linked")).toHaveLength(n);
    expect(outcomes.filter((o) => o === "created" || o === "conflict")).toHaveLength(0);
    const rows = await profileRows();
    expect(rows).toHaveLength(n);
    for (const p of people) {
      expect(rows.find((r) => r.email === p.email)).toEqual({
        email: p.email,
        owner: p.user.id,
        welcomes: 1,
      });
    }
    report("race-same-person", { people: n, concurrent_requests: answers.length });
  });

  it("lets exactly one of two users with the same verified email win; the other is a conflict", async () => {
    const pairs = size(30, 300);
    const cases = [];
    for (let i = 0; i < pairs; i++) {
      const email = `disputa${i}@example.com`;
      const preRegistered = i % 2 === 0;
      if (preRegistered) await preRegister(email);
      const a = buildUser({ email });
      const b = buildUser({ email: email.toUpperCase() });
      cases.push({ email, preRegistered, a, b });
    }
    const answers = await Promise.all(
      cases.flatMap((c) => [
        post(server.url, delivery(userEvent("user.created", c.a), clerkId("msg"))),
        post(server.url, delivery(userEvent("user.created", c.b), clerkId("msg"))),
      ]),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const rows = await profileRows();
    expect(rows).toHaveLength(pairs);
    for (const [i, c] of cases.entries()) {
      const pair = [answers[2 * i]?.outcome, answers[2 * i + 1]?.outcome];
      const win = c.preRegistered ? "linked" : "created";
      expect(pair.sort()).toEqual([win, "conflict"].sort());
      const winner = pair[0] === win ? c.a.id : c.b.id;
      const row = rows.find((r) => r.email === c.email);
      expect(row).toEqual({
        email: c.email,
        owner: answers[2 * i]?.outcome === win ? c.a.id : c.b.id,
        welcomes: 1,
      });
      expect(winner).toBeDefined();
    }
    const users = await getDb().execute<{ n: number }>(sql`select count(*)::int as n from users`);
    expect(users.rows[0]?.n).toBe(2 * pairs);
    report("race-same-email", { pairs, concurrent_requests: answers.length });
  });
});
