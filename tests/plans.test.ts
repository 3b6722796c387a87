// Plans that cannot go bad as tables grow: every statement of a user batch and of a deletion,
// planned by the database under test on seeded tables in each statistics state (never analyzed,
// analyzed while small then grown, freshly analyzed), reads users, mentorados and the ledger only
// through indexes: no sequential scan of them, and no email_key() computed per stored row. The
// plans are read off EXPLAIN (a plan, not a timing), so a regression fails in review.
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "../lib/db.js";
import { applyUsers } from "../lib/sync/apply.js";
import { DELETION_ROUTINE, ROUTINES, USERS_ROUTINE } from "../lib/sync/routines.js";
import type { UserRecord } from "../lib/sync/statements.js";
import { freshDatabase } from "./helpers/fresh-database.js";

const WATCHED = new Set(["users", "mentorados", "clerk_webhook_events"]);

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Cond"?: string;
  Filter?: string;
  Plans?: PlanNode[];
}

/**
 * What is wrong with a plan: a watched table read whole (a sequential scan, or an index walked
 * end to end without a condition), email_key() (inlined: NORMALIZE) computed per stored row.
 */
function problems(node: PlanNode, out: string[] = []): string[] {
  const rel = node["Relation Name"];
  if (rel && WATCHED.has(rel)) {
    const type = node["Node Type"];
    if (type === "Seq Scan") out.push(`Seq Scan on ${rel}`);
    if ((type === "Index Scan" || type === "Index Only Scan") && !node["Index Cond"])
      out.push(`${type} of all of ${rel}`);
    // A filter runs on the rows the index condition found: computing email_key() there is fine
    // when that condition pins a key (a user by clerk_id), not when it walks many rows (no
    // condition, or `user_id IS NULL`: every unlinked profile, as a plan once did).
    const cond = node["Index Cond"] ?? "";
    if (/normalize\(/i.test(node.Filter ?? "") && (cond === "" || /is null/i.test(cond)))
      out.push(`email_key() per row of ${rel}`);
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

/**
 * The problems of each routine statement's plan, prepared with the routine's parameter types as
 * PL/pgSQL prepares it, and planned both ways it may be: a custom plan for the values given (what
 * a routine runs on its first calls in a connection) and the generic plan (what it keeps for the
 * connection's later calls).
 */
async function plansOf(): Promise<Record<string, string[]>> {
  const client = getDb().$client;
  const out: Record<string, string[]> = {};
  const planOf = (rows: unknown): PlanNode => {
    const cell = Object.values((rows as Record<string, unknown>[])[0] ?? {})[0];
    return ((typeof cell === "string" ? JSON.parse(cell) : cell) as [{ Plan: PlanNode }])[0].Plan;
  };
  // The users, and what statements 1-3 would hand on (a fresh delivery, written).
  const values: Record<string, unknown[]> = {
    [USERS_ROUTINE.name]: [oneUser(1), "{msg_plan_1}", "{}", "{user_plan_1}"],
    [DELETION_ROUTINE.name]: ["msg_plan_del", "user_seed_2", null],
  };
  for (const routine of ROUTINES) {
    const params = values[routine.name] ?? [];
    // EXECUTE takes no bound parameters (a utility statement): the values go in as literals.
    const args = params
      .map((v) => (v === null ? "null" : `'${String(v).replaceAll("'", "''")}'`))
      .join(", ");
    for (const [i, text] of routine.prepared.entries()) {
      const label = `${routine.name.replace(/_[0-9a-f]+$/, "")} #${i + 1}`;
      const results = await client.transaction((t) => [
        t.query(`prepare plan_check (${routine.parameterTypes.join(", ")}) as ${text}`),
        // The routine's own settings: its statements are planned under them.
        ...Object.entries(routine.settings).map(([k, v]) => t.query(`set local ${k} = ${v}`)),
        t.query("set local plan_cache_mode = force_custom_plan"),
        t.query(`explain (format json) execute plan_check (${args})`),
        t.query("set local plan_cache_mode = force_generic_plan"),
        t.query(`explain (format json) execute plan_check (${args})`),
        t.query("deallocate plan_check"),
      ]);
      // ..., explain (custom), set, explain (generic), deallocate.
      out[`${label} custom`] = problems(planOf(results.at(-4)));
      out[`${label} generic`] = problems(planOf(results.at(-2)));
    }
  }
  return out;
}

const clean = (plans: Record<string, string[]>) =>
  Object.fromEntries(Object.keys(plans).map((k) => [k, [] as string[]]));

describe("plans of the sync's statements", () => {
  it("on empty tables, never analyzed and analyzed while empty", async () => {
    const never = await plansOf();
    expect(never).toEqual(clean(never));
    // What a connection plans before the first sign-up, and keeps as the tables grow.
    await getDb().execute(sql`analyze users, mentorados, clerk_sync.clerk_webhook_events`);
    const empty = await plansOf();
    expect(empty).toEqual(clean(empty));
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

describe("the routines' plans outlive Neon's per-request reset", () => {
  it("a later request on the same connection finds the user routine's statements planned, once", async () => {
    // One pooled connection, statements sent as Neon's proxy sends them, reset as it resets
    // (CLOSE ALL, RESET ALL, DEALLOCATE ALL, DISCARD TEMP...): every request below reaches the
    // same backend after a reset.
    const fresh = await freshDatabase({ poolSize: 1, statements: "unnamed" });
    const saved = process.env.NEON_LOCAL_FETCH_ENDPOINT;
    try {
      await fresh.migrate();
      process.env.NEON_LOCAL_FETCH_ENDPOINT = fresh.endpoint.url;
      const db = getDb();
      const plans = async () => {
        const r = await db.execute<{ name: string; n: number }>(sql`select name, count(*)::int as n
          from pg_backend_memory_contexts
          where ident like '%jsonb_to_recordset%' and ident not like '%pg_backend_memory_contexts%'
          group by name`);
        return Object.fromEntries(r.rows.map((x) => [x.name, x.n]));
      };
      expect(await plans()).toEqual({});
      for (let i = 1; i <= 8; i++) {
        const user = JSON.parse(oneUser(i))[0] as UserRecord;
        const { result } = await applyUsers(db, [user]);
        expect(result.get(user.svix_id)).toBe("created");
      }
      // Each of its statements once, with its generic plan: kept, not re-made per request.
      const statements = USERS_ROUTINE.prepared.length;
      expect(await plans()).toEqual({ CachedPlanSource: statements, CachedPlan: statements });
    } finally {
      process.env.NEON_LOCAL_FETCH_ENDPOINT = saved;
      await fresh.close();
    }
  }, 120_000);
});
