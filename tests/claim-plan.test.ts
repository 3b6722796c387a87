// Guards the claim statement's cost with counts, not timings: a delivery that creates or links a
// profile computes email_key() (NFC twice) over no stored profile, and a stale one over exactly
// one (an index probe), however many pre-registered profiles wait. Two shapes of this statement once did it over every unlinked
// profile (an EXISTS turned into a hashed subplan; a probe the planner answered by walking the
// user_id index), costing PostgreSQL milliseconds of CPU per delivery. Read off EXPLAIN ANALYZE of
// the real statement, run in the real batch, on both databases.
import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { getDb } from "../lib/db.js";
import { USERS_ROUTINE } from "../lib/sync/routines.js";
import type { UserRecord } from "../lib/sync/statements.js";
import { clerkId } from "./fixtures/clerk.js";
import { allMentorados, preRegister } from "./helpers/webhook.js";

const WAITING = 300;

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Cond"?: string;
  Filter?: string;
  "Join Filter"?: string;
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  "Rows Removed by Filter"?: number;
  "Rows Removed by Index Recheck"?: number;
  Plans?: PlanNode[];
}

/** Rows of `mentorados` read by plan nodes that compute email_key() on them. */
function keyedProfileRows(node: PlanNode): number {
  const cond = `${node["Index Cond"] ?? ""} ${node.Filter ?? ""}`.toLowerCase();
  const own =
    node["Relation Name"] === "mentorados" && cond.includes("normalize")
      ? ((node["Actual Rows"] ?? 0) + (node["Rows Removed by Filter"] ?? 0)) *
        (node["Actual Loops"] ?? 0)
      : 0;
  return own + (node.Plans ?? []).reduce((sum, child) => sum + keyedProfileRows(child), 0);
}

function record(over: Partial<UserRecord> & { clerk_id: string; email: string }): UserRecord {
  return {
    svix_id: `msg_${over.clerk_id}_${over.clerk_updated_at ?? "1"}`,
    type: "user.created",
    email_verified: true,
    first_name: "Plan",
    last_name: "Test",
    username: null,
    image_url: null,
    clerk_created_at: "2026-01-01T00:00:00.000Z",
    clerk_updated_at: "2026-01-01T00:00:00.000Z",
    nome_completo: "Plan Test",
    turma: "turma_plan",
    event_timestamp: null,
    ...over,
  };
}

/**
 * Runs the user routine's statements as PREPARE would take them (lib/sync/routines.ts), in one
 * transaction, committed, with EXPLAIN ANALYZE on the last (the claim). What statements 1 and 3
 * hand on is given (`written`: whether the upsert writes this version) and checked against what
 * they returned.
 */
async function explainClaim(
  r: UserRecord,
  written: boolean,
): Promise<{ rows: number; plan: string }> {
  const params = [JSON.stringify([r]), `{${r.svix_id}}`, "{}", written ? `{${r.clerk_id}}` : "{}"];
  const [record, upsert, claim] = USERS_ROUTINE.prepared;
  const uses = (text = "") =>
    params.slice(0, Math.max(...[...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]))));
  const client = getDb().$client;
  const results = await client.transaction((t) => [
    t.query(record ?? "", uses(record)),
    t.query(upsert ?? "", uses(upsert)),
    t.query(`explain (analyze, format json) ${claim}`, uses(claim)),
  ]);
  const handed = (i: number) =>
    Object.values((results[i] as Record<string, unknown>[])[0] ?? {})[0];
  expect(handed(0)).toEqual([r.svix_id]);
  expect(handed(1)).toEqual(written ? [r.clerk_id] : []);
  const cell = Object.values((results[2] as Record<string, unknown>[])[0] ?? {})[0];
  const doc = (typeof cell === "string" ? JSON.parse(cell) : cell) as [{ Plan: PlanNode }];
  return { rows: keyedProfileRows(doc[0].Plan), plan: JSON.stringify(doc[0].Plan) };
}

beforeEach(async () => {
  // Statistics taken while the table was empty, then the profiles: what a plan made before an
  // import, or an autovacuum that has not caught up, works from. Plans chosen on such estimates
  // are the ones that once keyed every profile.
  await getDb().execute(sql`analyze mentorados`);
  await getDb().execute(sql`insert into mentorados (nome_completo, email, turma, origem)
    select 'Espera ' || n, 'espera' || n || '@example.com', 'turma_plan', 'pre_registered'
    from generate_series(1, ${WAITING}) n`);
});

describe(`the claim, with ${WAITING} pre-registered profiles waiting`, () => {
  it("creates a profile without keying any stored profile", async () => {
    const r = record({ clerk_id: clerkId("user"), email: "nova@example.com" });
    const { rows, plan } = await explainClaim(r, true);
    expect(rows, plan).toBe(0);
    const created = (await allMentorados()).filter((m) => m.email === "nova@example.com");
    expect(created).toHaveLength(1);
    expect(created[0]?.origem).toBe("clerk_signup");
  });

  it("links a pre-registered profile without keying any stored profile", async () => {
    const id = await preRegister("Ligada@Example.com");
    const r = record({ clerk_id: clerkId("user"), email: "ligada@example.com" });
    const { rows, plan } = await explainClaim(r, true);
    expect(rows, plan).toBe(0);
    const linked = (await allMentorados()).find((m) => m.id === id);
    expect(linked?.userId).not.toBeNull();
  });

  it("keys exactly one profile for a stale delivery of a user without one", async () => {
    // A owns the address; B (same verified address) is a conflict, stored without a profile.
    const a = record({ clerk_id: clerkId("user"), email: "dupla@example.com" });
    const b = record({
      clerk_id: clerkId("user"),
      email: "dupla@example.com",
      clerk_created_at: "2026-01-02T00:00:00.000Z",
    });
    await explainClaim(a, true);
    await explainClaim(
      { ...b, clerk_updated_at: "2026-01-03T00:00:00.000Z", svix_id: "msg_b2" },
      true,
    );
    const before = await allMentorados();
    // An older version of B: stale, so the probe for an unlinked profile with its email runs.
    const { rows, plan } = await explainClaim({ ...b, svix_id: "msg_b1" }, false);
    // One index probe: A's profile, found linked, so nothing is claimed.
    expect(rows, plan).toBe(1);
    expect(await allMentorados()).toEqual(before);
  });
});
