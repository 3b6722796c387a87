// Plans that cannot go bad as tables grow: every statement of a user batch and of a deletion,
// planned by the database under test on seeded tables in each statistics state (never analyzed,
// analyzed while small then grown, freshly analyzed), reads users, mentorados and the ledger only
// through indexes: no sequential scan of them, and no email_key() computed per stored row. The
// plans are read off EXPLAIN (a plan, not a timing), so a regression fails in review.
import { sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import { describe, expect, it } from "vitest";
import { getDb } from "../lib/db.js";
import { userBatchTexts } from "../lib/sync/apply.js";
import { deleteUser, insertDeletionLedger, unlinkDeletedUser } from "../lib/sync/statements.js";

const dialect = new PgDialect();
const WATCHED = new Set(["users", "mentorados", "clerk_webhook_events"]);

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  Filter?: string;
  Plans?: PlanNode[];
}

/** What is wrong with a plan: sequential scans of a watched table, email keys per stored row. */
function problems(node: PlanNode, out: string[] = []): string[] {
  const rel = node["Relation Name"];
  if (rel && WATCHED.has(rel)) {
    if (node["Node Type"] === "Seq Scan") out.push(`Seq Scan on ${rel}`);
    if ((node.Filter ?? "").includes("normalize(")) out.push(`email_key() per row of ${rel}`);
  }
  for (const child of node.Plans ?? []) problems(child, out);
  return out;
}

function oneUser(n: number): string {
  return JSON.stringify([
    {
      svix_id: `msg_plan_${n}`,
      type: "user.created",
      clerk_id: `user_plan_${n}`,
      email: `plan${n}@example.com`,
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
    },
  ]);
}

async function seed(n: number): Promise<void> {
  if (n === 0) return;
  const db = getDb();
  await db.execute(sql`insert into users (clerk_id, email, email_verified, clerk_updated_at)
    select 'user_seed_' || g, 'seed' || g || '@example.com', true, now() from generate_series(1, ${n}) g`);
  await db.execute(sql`insert into mentorados (user_id, nome_completo, email, turma, origem)
    select case when g % 2 = 0 then g end, 'Seed ' || g, 'seed' || g || '@example.com', 't', 'pre_registered'
    from generate_series(1, ${n}) g`);
  await db.execute(sql`insert into clerk_sync.clerk_webhook_events (svix_id, type, clerk_user_id, outcome)
    select 'msg_seed_' || g, 'user.created', 'user_seed_' || g, 'created' from generate_series(1, ${n}) g`);
}

async function plansOf(): Promise<Record<string, string[]>> {
  const client = getDb().$client;
  const out: Record<string, string[]> = {};
  const explain = async (label: string, text: string, params: unknown[]) => {
    const r = (await client.query(`explain (format json) ${text}`, params)) as Record<
      string,
      unknown
    >[];
    const cell = Object.values(r[0] ?? {})[0];
    const doc = (typeof cell === "string" ? JSON.parse(cell) : cell) as [{ Plan: PlanNode }];
    out[label] = problems(doc[0].Plan);
  };
  const texts = userBatchTexts();
  for (const [i, text] of texts.entries())
    await explain(`user batch #${i + 1}`, text, [oneUser(1)]);
  const d = { svix_id: "msg_plan_del", clerk_id: "user_seed_2", event_timestamp: null };
  for (const [label, s] of [
    ["deletion ledger", insertDeletionLedger(d)],
    ["deletion", deleteUser(d)],
    ["unlink", unlinkDeletedUser(d)],
  ] as const) {
    const q = dialect.sqlToQuery(s);
    await explain(label, q.sql, q.params);
  }
  return out;
}

const clean = (plans: Record<string, string[]>) =>
  Object.fromEntries(Object.keys(plans).map((k) => [k, [] as string[]]));

describe("plans of the sync's statements", () => {
  it("on empty tables", async () => {
    const plans = await plansOf();
    expect(plans).toEqual(clean(plans));
  });

  for (const n of [10_000, 100_000]) {
    it(`on ${n.toLocaleString("en")} rows never analyzed, analyzed when small, and freshly analyzed`, async () => {
      const db = getDb();
      await db.execute(sql`analyze users, mentorados, clerk_sync.clerk_webhook_events`);
      await seed(n);
      const stale = await plansOf();
      expect(stale).toEqual(clean(stale));
      await db.execute(sql`analyze users, mentorados, clerk_sync.clerk_webhook_events`);
      const fresh = await plansOf();
      expect(fresh).toEqual(clean(fresh));
    }, 300_000);
  }
});
