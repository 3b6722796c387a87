// The backfill and resync against the local Clerk Backend API stand-in (scripts/local/clerk-api.ts)
// and the run's database, through @clerk/backend's client and the production Neon driver.
// Sizes stay modest for `npm test` (1,000 users: ~15 s on PGlite, most of it delivering the
// webhooks one by one); STRESS=1 runs the equivalence test with 10,000 users.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createClerkClient } from "@clerk/backend";
import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { syncRuns } from "../drizzle/schema.js";
import { getDb } from "../lib/db.js";
import { clerkSource } from "../scripts/backfill/clerk.js";
import { CLERK_RATE_LIMITS, runLimit } from "../scripts/backfill/rate-limit.js";
import { runDryRun } from "../scripts/backfill/report.js";
import { DEFAULT_RETRY, type RetryPolicy } from "../scripts/backfill/retry.js";
import { BackfillStopped, NothingToResume, runBackfill } from "../scripts/backfill/run.js";
import { type ClerkApi, generateUsers, startClerkApi } from "../scripts/local/clerk-api.js";
import { resyncUser } from "../scripts/resync.js";
import { buildUser, type ClerkUserJson, deletedEvent, userEvent } from "./fixtures/clerk.js";
import { LOCAL_DATABASE_URL } from "./helpers/constants.js";
import { countRoundTrips } from "./helpers/endpoint-control.js";
import { inject } from "./helpers/provided.js";
import { deliver, preRegister, snapshot, userByClerkId } from "./helpers/webhook.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TURMA = "neon_estrutura";
const EQUIVALENCE_USERS = process.env.STRESS ? 10_000 : 1_000;
/** Backoff in milliseconds instead of seconds: tests survive faults without waiting for them. */
const FAST: RetryPolicy = { ...DEFAULT_RETRY, baseMs: 5, maxMs: 20 };

let api: ClerkApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

async function standIn(
  users: ClerkUserJson[],
  rateLimit?: { requests: number; windowMs: number },
  more: Omit<Parameters<typeof startClerkApi>[0] & {}, "users" | "rateLimit"> = {},
) {
  api = await startClerkApi({ users, rateLimit: rateLimit ?? null, ...more });
  return api;
}

function source(a: ClerkApi, retry: RetryPolicy = FAST) {
  return clerkSource({ secretKey: a.secretKey, apiUrl: a.url, retry });
}

async function dbClerkIds(): Promise<Set<string>> {
  const r = await getDb().execute<{ clerk_id: string }>(sql`select clerk_id from users`);
  return new Set(r.rows.map((row) => row.clerk_id));
}

function backfill(a: ClerkApi, extra: Partial<Parameters<typeof runBackfill>[0]> = {}) {
  return runBackfill({
    db: getDb(),
    clerk: source(a),
    defaultTurma: TURMA,
    dbRetry: FAST,
    ...extra,
  });
}

async function truncate(): Promise<void> {
  await getDb().execute(
    sql`truncate users, mentorados, clerk_sync.clerk_webhook_events, clerk_sync.email_outbox, clerk_sync.sync_runs restart identity cascade`,
  );
}

/** The synced state without surrogate ids and now() timestamps: users by clerk id, mentorados
 *  and outbox rows by email, links by clerk id, and the ledger's outcomes as counts. */
async function canonical(): Promise<unknown> {
  const r = await getDb().execute<{ s: unknown }>(sql`select json_build_object(
    'users', (select coalesce(json_agg(json_build_object('clerk_id', clerk_id, 'email', email,
        'email_verified', email_verified, 'first_name', first_name, 'last_name', last_name,
        'username', username, 'image_url', image_url, 'clerk_created_at', clerk_created_at,
        'clerk_updated_at', clerk_updated_at, 'deleted', deleted_at is not null)
        order by clerk_id), '[]') from users),
    'mentorados', (select coalesce(json_agg(json_build_object('email', m.email,
        'nome_completo', m.nome_completo, 'turma', m.turma, 'origem', m.origem, 'user', u.clerk_id)
        order by m.email), '[]') from mentorados m left join users u on u.id = m.user_id),
    'outbox', (select coalesce(json_agg(json_build_object('kind', o.kind, 'status', o.status,
        'attempts', o.attempts, 'mentorado', m.email) order by m.email), '[]')
        from clerk_sync.email_outbox o join mentorados m on m.id = o.mentorado_id),
    'outcomes', (select coalesce(json_object_agg(outcome, n), '{}') from (
        select outcome, count(*) as n from clerk_sync.clerk_webhook_events
        where type in ('user.created', 'backfill') group by outcome) x)
  ) as s`);
  return r.rows[0]!.s;
}

/** A digest of every row of every table (timestamps included): "nothing changed" at any size. */
async function fingerprint(): Promise<string> {
  const r = await getDb().execute<{ h: string }>(sql`select md5(json_build_array(
    (select coalesce(json_agg(u order by id), '[]') from users u),
    (select coalesce(json_agg(m order by id), '[]') from mentorados m),
    (select coalesce(json_agg(o order by id), '[]') from clerk_sync.email_outbox o),
    (select coalesce(json_agg(l order by svix_id), '[]') from clerk_sync.clerk_webhook_events l)
  )::text) as h`);
  return r.rows[0]!.h;
}

async function ledger(): Promise<unknown> {
  const r = await getDb().execute(
    sql`select svix_id, type, clerk_user_id, outcome from clerk_sync.clerk_webhook_events order by svix_id`,
  );
  return r.rows;
}

async function runs() {
  const r = await getDb().execute<{
    status: string;
    next_offset: number;
    next_cursor: string | null;
    pages: number;
    users_seen: number;
    counts: Record<string, number>;
    last_error: string | null;
  }>(
    sql`select status, next_offset, next_cursor, pages, users_seen, counts, last_error
        from ${syncRuns} order by id`,
  );
  return r.rows;
}

async function pool<T>(items: T[], size: number, fn: (item: T) => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: size }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** Mentorados and a conflict the data set meets: the same pre-state for both ways of syncing. */
async function preState(users: ClerkUserJson[], holder: ClerkUserJson): Promise<void> {
  for (let i = 0; i < users.length; i += 37) {
    const email = (users[i]!.email_addresses as { email_address: string }[])[0]?.email_address;
    if (email) await preRegister(` ${email.toUpperCase()} `, `Pré ${i}`, "turma_pre");
  }
  // A user unknown to Clerk's list (deleted there without a webhook) holds the profile of an email
  // that a listed user now has: that listed user is a conflict, whichever way it arrives.
  expect((await deliver(userEvent("user.created", holder))).body.outcome).toBe("created");
}

describe("backfill", () => {
  it(`gives the same rows as delivering the users' user.created webhooks (${EQUIVALENCE_USERS} users), one SQL round trip per page`, {
    timeout: process.env.STRESS ? 600_000 : 60_000,
  }, async () => {
    const users = generateUsers(EQUIVALENCE_USERS);
    const listed = users[5]!;
    const email = (listed.email_addresses as { email_address: string }[])[0]!.email_address;
    const holder = buildUser({ email, createdAt: listed.created_at - 1 });
    await preState(users, holder);
    await pool(users, 8, async (u) => {
      expect((await deliver(userEvent("user.created", u))).status).toBe(200);
    });
    const viaWebhooks = await canonical();

    await truncate();
    await preState(users, holder);
    const a = await standIn(users);
    let result: Awaited<ReturnType<typeof backfill>> | undefined;
    const trips = await countRoundTrips(async () => {
      result = await backfill(a);
    });
    expect(await canonical()).toEqual(viaWebhooks);
    const pages = Math.floor(EQUIVALENCE_USERS / 500) + 1; // the last one is short or empty
    expect(result!.pages).toBe(pages);
    expect(result!.status).toBe("finished");
    expect(result!.usersSeen).toBe(EQUIVALENCE_USERS);
    // One round trip per page, plus the run's start and the final read of its row.
    expect(trips).toBe(pages + 2);
    // One Clerk request per page (by cursor after the first) and ONE count for the whole run.
    expect(a.stats).toMatchObject({
      listRequests: pages,
      cursorPages: pages - 1,
      countRequests: 1,
    });
    const { created, linked, conflict, applied } = result!.counts;
    expect(created + linked + conflict + applied).toBe(EQUIVALENCE_USERS);
    expect(conflict).toBe(1);
    expect(linked).toBeGreaterThan(0);

    // Re-running a finished backfill changes nothing: every delivery id is already recorded.
    const before = await fingerprint();
    const again = await backfill(a);
    expect(again.counts.duplicate).toBe(EQUIVALENCE_USERS);
    expect(await fingerprint()).toBe(before);
  });

  it("leaves the newest data when webhooks update users during the backfill", async () => {
    const users = generateUsers(1000);
    const a = await standIn(users);
    const newer = (u: ClerkUserJson, n: number): ClerkUserJson => ({
      ...u,
      first_name: `Atualizada${n}`,
      updated_at: u.updated_at + 600_000 * n,
    });
    // Some updates arrive before the backfill reads their page, some while it runs, and Clerk's
    // list already holds the newer version of some of them (the page may be read before or after).
    const early = users.slice(0, 100).map((u) => newer(u, 1));
    const during = users.filter((_, i) => i % 7 === 3).map((u) => newer(u, 2));
    a.putUsers(during.filter((_, i) => i % 2 === 0));
    await pool(early, 4, (u) => deliver(userEvent("user.updated", u)));

    const run = backfill(a, { options: { batch: 100 } });
    await pool(during, 4, (u) => deliver(userEvent("user.updated", u)));
    const result = await run;
    expect(result.status).toBe("finished");

    const newest = new Map(users.map((u) => [u.id, u]));
    for (const u of [...early, ...during]) newest.set(u.id, u);
    const rows = await getDb().execute<{
      clerk_id: string;
      first_name: string;
      clerk_updated_at: string;
    }>(sql`select clerk_id, first_name, clerk_updated_at::text from users`);
    expect(rows.rows).toHaveLength(1000);
    for (const row of rows.rows) {
      const u = newest.get(row.clerk_id)!;
      expect(row.first_name).toBe(u.first_name);
      expect(new Date(row.clerk_updated_at).getTime()).toBe(u.updated_at);
    }
    const counts = await getDb().execute<{ m: number; o: number; linked: number }>(sql`select
      (select count(*) from mentorados)::int as m, (select count(*) from clerk_sync.email_outbox)::int as o,
      (select count(distinct user_id) from mentorados)::int as linked`);
    const verified = users.filter((_, i) => i % 20 < 18).length;
    expect(counts.rows[0]).toEqual({ m: verified, o: verified, linked: verified });
  });

  it("stops on a persistent 5xx with its checkpoint saved, resumes from the CLI, and ends equal to an uninterrupted run", async () => {
    const users = generateUsers(2000);
    const a = await standIn(users);
    a.faults.failAfterListRequests = 3;
    a.faults.status = 503;
    const env = {
      CLERK_SECRET_KEY: a.secretKey,
      CLERK_API_URL: a.url,
      DATABASE_URL: LOCAL_DATABASE_URL,
      NEON_LOCAL_FETCH_ENDPOINT: inject("sqlEndpoint"),
    };
    const stopped = await cli("scripts/backfill.ts", ["--batch", "250", "--retries", "1"], env);
    expect(stopped.code).toBe(2);
    expect(stopped.stderr).toContain("HTTP 503");
    expect(stopped.stderr).toContain("--resume");
    expect(await runs()).toMatchObject([
      { status: "failed", next_offset: 750, pages: 3, users_seen: 750 },
    ]);
    expect((await getDb().execute(sql`select 1 from users`)).rows).toHaveLength(750);

    a.faults.failAfterListRequests = undefined;
    const resumed = await cli("scripts/backfill.ts", ["--resume", "--json"], env);
    expect(resumed.code).toBe(0);
    const summary = JSON.parse(resumed.stdout) as { status: string; usersSeen: number };
    expect(summary).toMatchObject({ status: "finished", usersSeen: 2000, resumed: true });
    for (const out of [stopped, resumed]) expect(`${out.stdout}${out.stderr}`).not.toMatch(/@/);
    const interrupted = { state: await canonical(), ledger: await ledger(), runs: await runs() };

    await truncate();
    await backfill(a, { options: { batch: 250 } });
    expect({ state: await canonical(), ledger: await ledger(), runs: await runs() }).toEqual(
      interrupted,
    );
    await expect(backfill(a, { resume: true })).rejects.toBeInstanceOf(NothingToResume);
  });

  it("stops after the retries of a transient 5xx at the page it could not read (direct call)", async () => {
    const a = await standIn(generateUsers(300));
    a.faults.failAfterListRequests = 1;
    const err = await backfill(a, { options: { batch: 100 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackfillStopped);
    expect((err as BackfillStopped).state).toMatchObject({ nextOffset: 100, pages: 1 });
    // FAST allows 5 retries: 6 attempts at the failing page.
    expect(a.stats.faulted).toBeGreaterThanOrEqual(6);
    a.faults.failAfterListRequests = undefined;
    const done = await backfill(a, { resume: true });
    expect(done).toMatchObject({ status: "finished", usersSeen: 300, resumed: true });
  });

  it("survives 429 with Retry-After, transient 5xx and network errors", async () => {
    const users = generateUsers(600);
    // 7 pages of 100 and a count = 8 requests: the limit answers 429 at least once.
    const a = await standIn(users, { requests: 3, windowMs: 1000 });
    a.faults.failNext = 3;
    a.faults.status = 502;
    a.faults.resetNext = 0;
    const reasons: string[] = [];
    const clerk = source(a, {
      ...FAST,
      onWait: ({ reason }) => {
        reasons.push(reason);
        // A network failure too, once the 502s are through.
        // Bun's fetch retries a request once after a reset keep-alive connection (Node's does not),
        // so there more resets are needed for one to reach the client as a network error.
        if (reason.includes("502") && a.faults.failNext === 0) {
          a.faults.resetNext = "Bun" in globalThis ? 3 : 2;
        }
      },
    });
    const result = await backfill(a, { clerk, options: { batch: 100 } });
    expect(result).toMatchObject({ status: "finished", usersSeen: 600 });
    expect((await getDb().execute(sql`select 1 from users`)).rows).toHaveLength(600);
    expect(a.stats.rateLimited).toBeGreaterThan(0);
    expect(reasons.some((r) => r.includes("429"))).toBe(true);
    expect(reasons.some((r) => r.includes("HTTP 502"))).toBe(true);
    expect(reasons.some((r) => r.startsWith("network error"))).toBe(true);
  });

  it("honours --since (created_at_after) and never deletes users Clerk does not list", async () => {
    const users = generateUsers(50);
    const a = await standIn(users);
    const absent = buildUser({ email: "fora.da.lista@example.test" });
    await deliver(userEvent("user.created", absent));
    const since = new Date(users[29]!.created_at).toISOString();
    const result = await backfill(a, { options: { since, batch: 500 } });
    expect(result.usersSeen).toBe(20);
    expect(result.options.since).toBe(since);
    const ids = (await getDb().execute<{ clerk_id: string }>(sql`select clerk_id from users`)).rows;
    expect(ids.map((r) => r.clerk_id).sort()).toEqual(
      [absent.id, ...users.slice(30).map((u) => u.id)].sort(),
    );
    expect((await userByClerkId(absent.id))?.deletedAt).toBeNull();
  });

  it("lists with the Clerk-API-Version @clerk/backend sends, by starting_after on +created_at", async () => {
    const a = await standIn(generateUsers(30));
    const client = createClerkClient({ secretKey: a.secretKey, apiUrl: a.url });
    await client.users.getUserList({ limit: 1, orderBy: "+created_at" });
    const sdkVersion = a.stats.lastApiVersion;
    expect(sdkVersion).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    a.resetStats();
    const result = await backfill(a, { options: { batch: 10 } });
    expect(result).toMatchObject({ status: "finished", usersSeen: 30, pages: 4 });
    expect(a.stats).toMatchObject({
      lastApiVersion: sdkVersion,
      listRequests: 4,
      cursorPages: 3,
      offsetPages: 0,
      countRequests: 1,
    });
    expect((await runs())[0]).toMatchObject({ next_offset: 30, next_cursor: expect.any(String) });
  });
});

/** Deletes, at the 3rd, 5th and 7th page request of a run of 100-user pages, users around page
 *  boundaries: the cursor's own user, one already synced (which shifts every later offset), and
 *  the first and last users of the page about to be listed. */
function deleteAroundBoundaries(users: ClerkUserJson[]) {
  const deleted = new Set<string>();
  let requests = 0;
  const onList = (q: URLSearchParams) => {
    requests++;
    if (![3, 5, 7].includes(requests)) return;
    const cursor = q.get("starting_after");
    const at =
      cursor === null ? Number(q.get("offset")) : users.findIndex((u) => u.id === cursor) + 1;
    const doomed = [users[at - 1], users[at - 150], users[at], users[at + 99]];
    for (const u of doomed) if (u && api?.removeUser(u.id)) deleted.add(u.id);
  };
  return { deleted, onList };
}

describe("Clerk's rate limit", () => {
  it("keeps a run under the instance's limit: no 429 at all", async () => {
    expect(runLimit("production")).toEqual({ requests: 900, windowMs: 10_000 });
    expect(runLimit("development")).toEqual({ requests: 90, windowMs: 10_000 });
    expect(CLERK_RATE_LIMITS.production.requests).toBe(1000);
    // The same proportions on a 1 s window: 50 pages and a count, over two windows and more.
    const a = await standIn(generateUsers(1000), { requests: 20, windowMs: 1000 });
    const clerk = clerkSource({
      secretKey: a.secretKey,
      apiUrl: a.url,
      retry: FAST,
      rateLimit: { requests: 18, windowMs: 1000 },
    });
    const result = await backfill(a, { clerk, options: { batch: 20 } });
    expect(result).toMatchObject({ status: "finished", usersSeen: 1000, pages: 51 });
    expect(a.stats).toMatchObject({ rateLimited: 0, listRequests: 51, countRequests: 1 });
  });

  it("waits out each 429 for its Retry-After without spending an attempt (--retries 0 finishes)", async () => {
    const a = await standIn(generateUsers(500), { requests: 3, windowMs: 1000 });
    const waits: { reason: string; ms: number }[] = [];
    const clerk = clerkSource({
      secretKey: a.secretKey,
      apiUrl: a.url,
      retry: { ...FAST, retries: 0, onWait: (w) => waits.push(w) },
      rateLimit: null,
    });
    const result = await backfill(a, { clerk, options: { batch: 50 } });
    expect(result).toMatchObject({ status: "finished", usersSeen: 500 });
    expect(a.stats.rateLimited).toBeGreaterThan(0);
    const limited = waits.filter((w) => w.reason.includes("429"));
    expect(limited.length).toBe(a.stats.rateLimited);
    // The stand-in says Retry-After: 1 (whole seconds, as Clerk): never retried sooner.
    for (const w of limited) expect(w.ms).toBeGreaterThanOrEqual(1000);
  });

  it("takes --instance development, refuses another kind", async () => {
    const a = await standIn(generateUsers(10));
    const env = {
      CLERK_SECRET_KEY: a.secretKey,
      CLERK_API_URL: a.url,
      DATABASE_URL: LOCAL_DATABASE_URL,
      NEON_LOCAL_FETCH_ENDPOINT: inject("sqlEndpoint"),
    };
    const bad = await cli("scripts/backfill.ts", ["--instance", "staging"], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("--instance must be production or development");
    const ok = await cli("scripts/backfill.ts", ["--instance", "development", "--json"], env);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ status: "finished", usersSeen: 10 });
  });
});

describe("a deletion in Clerk during the run", () => {
  it("misses no one with the cursor: every user still in Clerk is synced in one run", async () => {
    const users = generateUsers(1000);
    const { deleted, onList } = deleteAroundBoundaries(users);
    const a = await standIn(users, undefined, { onList });
    const result = await backfill(a, { options: { batch: 100 } });
    expect(result.status).toBe("finished");
    expect(deleted.size).toBe(12);
    expect(a.stats.offsetPages).toBe(0);
    const synced = await dbClerkIds();
    const remaining = users.filter((u) => !deleted.has(u.id));
    expect(remaining.filter((u) => !synced.has(u.id))).toEqual([]);
    expect(result.usersSeen).toBe(synced.size);
  });

  it("by offset (an API that refuses the cursor, said once) the same deletions do miss users", async () => {
    const users = generateUsers(1000);
    const { deleted, onList } = deleteAroundBoundaries(users);
    const a = await standIn(users, undefined, { onList, cursor: "refused" });
    const notes: string[] = [];
    const result = await backfill(a, { options: { batch: 100 }, onNote: (l) => notes.push(l) });
    expect(result.status).toBe("finished");
    expect(notes).toHaveLength(1);
    expect(notes[0]).toContain("HTTP 422 form_param_unknown");
    expect(a.stats.cursorPages).toBe(0);
    const synced = await dbClerkIds();
    const missed = users.filter((u) => !deleted.has(u.id) && !synced.has(u.id));
    // Why the cursor matters: the users that the shifts carried over a page boundary.
    expect(missed.length).toBeGreaterThan(0);
    expect((await runs())[0]).toMatchObject({ status: "finished", next_cursor: null });
  });

  it("falls back to offsets when the API ignores starting_after (answers the first page again)", async () => {
    const users = generateUsers(450);
    const a = await standIn(users, undefined, { cursor: "ignored" });
    const notes: string[] = [];
    const result = await backfill(a, { options: { batch: 100 }, onNote: (l) => notes.push(l) });
    expect(result).toMatchObject({ status: "finished", usersSeen: 450 });
    expect(notes).toHaveLength(1);
    expect(notes[0]).toContain("ignored");
    expect((await dbClerkIds()).size).toBe(450);
  });
});

describe("resume", () => {
  it("continues a run checkpointed by offset (before cursor paging) and ends equal to an uninterrupted run", async () => {
    const users = generateUsers(1000);
    const a = await standIn(users);
    let pagesSeen = 0;
    const first = await backfill(a, {
      options: { batch: 100 },
      onProgress: () => {
        pagesSeen++;
      },
      shouldStop: () => pagesSeen >= 3,
    });
    expect(first).toMatchObject({ interrupted: true, usersSeen: 300, status: "failed" });
    // What the code before cursor paging left: the offset only.
    await getDb().execute(sql`update ${syncRuns} set next_cursor = null`);
    expect(await runs()).toMatchObject([
      { status: "failed", next_offset: 300, next_cursor: null, last_error: "interrupted" },
    ]);
    a.resetStats();
    const resumed = await backfill(a, { resume: true });
    expect(resumed).toMatchObject({ status: "finished", usersSeen: 1000, resumed: true });
    // The checkpointed offset once, then the cursor of that page's last user.
    expect(a.stats).toMatchObject({ offsetPages: 1, cursorPages: 7, countRequests: 1 });
    const after = { state: await canonical(), ledger: await ledger(), runs: await runs() };

    await truncate();
    await backfill(a, { options: { batch: 100 } });
    expect({ state: await canonical(), ledger: await ledger(), runs: await runs() }).toEqual(after);
  });

  it("continues a cursor checkpoint from its cursor", async () => {
    const users = generateUsers(500);
    const a = await standIn(users);
    let pagesSeen = 0;
    await backfill(a, {
      options: { batch: 100 },
      onProgress: () => {
        pagesSeen++;
      },
      shouldStop: () => pagesSeen >= 2,
    });
    expect((await runs())[0]).toMatchObject({ next_offset: 200, next_cursor: users[199]!.id });
    a.resetStats();
    expect(await backfill(a, { resume: true })).toMatchObject({
      status: "finished",
      usersSeen: 500,
    });
    expect(a.stats).toMatchObject({ offsetPages: 0, cursorPages: 4 });
    expect((await dbClerkIds()).size).toBe(500);
  });
});

describe("dry run", () => {
  it("writes nothing and reports exact counts for a crafted data set (function and CLI --json)", async () => {
    const at = Date.UTC(2024, 5, 1);
    const mk = (i: number, spec: Parameters<typeof buildUser>[0] = {}) =>
      buildUser({
        email: `dry+${i}@example.test`,
        createdAt: at + i * 1000,
        updatedAt: at + i * 1000 + 10,
        ...spec,
      });
    const current = [0, 1, 2, 3, 4].map((i) => mk(i));
    const stale = [5, 6, 7].map((i) => mk(i));
    const missing = [8, 9, 10, 11].map((i) => mk(i));
    const unverified = [12, 13].map((i) => mk(i, { verified: false }));
    const phoneOnly = mk(14, { email: null, phone: "+5511988887777" });
    const conflicting = mk(15);
    const tombstoned = mk(16);
    const invalid = mk(17, { firstName: "bad\u0000name" });
    const clerkList = [
      ...current,
      ...stale,
      ...missing,
      ...unverified,
      phoneOnly,
      conflicting,
      tombstoned,
      invalid,
    ];

    for (const u of current) await deliver(userEvent("user.created", u));
    for (const u of stale)
      await deliver(userEvent("user.created", { ...u, updated_at: u.updated_at - 5 }));
    await preRegister("dry+8@example.test"); // missing, verified: matches
    await preRegister("DRY+9@example.test "); // missing, verified: matches
    await preRegister("dry+12@example.test"); // unverified: does not match
    await preRegister("ninguem@example.test"); // no Clerk user at all
    // Z (not listed by Clerk) holds the profile of the conflicting user's email; Y is DB-only too.
    await deliver(userEvent("user.created", buildUser({ email: "dry+15@example.test" })));
    await deliver(userEvent("user.created", buildUser({ email: "somente.no.banco@example.test" })));
    await deliver(userEvent("user.created", tombstoned));
    await deliver(deletedEvent(tombstoned.id));

    const a = await standIn(clerkList);
    const expected = {
      since: null,
      clerkUsers: 18,
      dbUsers: 10,
      inBoth: 8,
      missing: 8,
      stale: 3,
      deletedInDb: 1,
      notInClerk: 2,
      noVerifiedEmail: 3,
      mentoradosMatchingClerkEmail: 2,
      conflicts: 1,
      // dry+8, dry+9, dry+12, ninguem, and the tombstoned user's profile (unlinked by deletion).
      unlinkedMentorados: 5,
      invalid: 1,
      inSync: false,
    };

    const before = await snapshot();
    const report = await runDryRun({ db: getDb(), clerk: source(a), batch: 4, dbRetry: FAST });
    expect(report).toEqual(expected);
    const cliRun = await cli("scripts/backfill.ts", ["--dry-run", "--json", "--batch", "5"], {
      CLERK_SECRET_KEY: a.secretKey,
      CLERK_API_URL: a.url,
      DATABASE_URL: LOCAL_DATABASE_URL,
      NEON_LOCAL_FETCH_ENDPOINT: inject("sqlEndpoint"),
    });
    expect(cliRun.code).toBe(0);
    expect(JSON.parse(cliRun.stdout)).toEqual(expected);
    expect(cliRun.stderr).toContain("skipped Clerk user");
    expect(`${cliRun.stdout}${cliRun.stderr}`).not.toMatch(/@/);
    expect(await snapshot()).toBe(before);
    expect(await runs()).toEqual([]);

    // The backfill then repairs what the report showed, and the report says so.
    const result = await backfill(a, { options: { batch: 4 } });
    // current (5, same data via webhook) and the tombstone are stale; the 3 stale ones, the
    // unverified and the phone-only are applied; 2 missing are created and 2 link their profile.
    expect(result.counts).toEqual({
      created: 2,
      linked: 2,
      claimed: 0,
      conflict: 1,
      applied: 6,
      stale: 6,
      duplicate: 0,
      invalid: 1,
    });
    const after = await runDryRun({ db: getDb(), clerk: source(a), dbRetry: FAST });
    expect(after).toMatchObject({
      missing: 0,
      stale: 0,
      inBoth: 16,
      dbUsers: 18,
      notInClerk: 2,
      mentoradosMatchingClerkEmail: 0,
      conflicts: 1,
    });
  });
});

describe("resync", () => {
  it("fetches one user and applies it with the webhook's rules", async () => {
    const u = buildUser({ email: "resync@example.test", turma: "turma_r" });
    const a = await standIn([u]);
    await deliver(
      userEvent("user.created", { ...u, first_name: "Antiga", updated_at: u.updated_at - 1 }),
    );
    const clerk = source(a);
    const first = await resyncUser(getDb(), clerk, u.id, TURMA);
    expect(first).toMatchObject({ found: true, outcome: "applied", roundTrips: 1 });
    expect((await userByClerkId(u.id))?.firstName).toBe("Ana");
    const before = await snapshot();
    expect(await resyncUser(getDb(), clerk, u.id, TURMA)).toMatchObject({ outcome: "duplicate" });
    expect(await resyncUser(getDb(), clerk, "user_doesnotexist", TURMA)).toEqual({
      found: false,
      clerkId: "user_doesnotexist",
    });
    expect(await snapshot()).toBe(before);

    const other = buildUser({ email: "resync.cli@example.test" });
    a.putUsers([other]);
    const env = {
      CLERK_SECRET_KEY: a.secretKey,
      CLERK_API_URL: a.url,
      DATABASE_URL: LOCAL_DATABASE_URL,
      NEON_LOCAL_FETCH_ENDPOINT: inject("sqlEndpoint"),
    };
    const out = await cli("scripts/resync.ts", [other.id], env);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`${other.id}: created`);
    expect((await userByClerkId(other.id))?.email).toBe("resync.cli@example.test");
  });

  it("retries Clerk's 5xx, 429 and resets on a single-user read; a wrong key is not retried", async () => {
    const u = buildUser({ email: "resync.retry@example.test" });
    const a = await standIn([u]);
    a.faults.failNext = 2;
    a.faults.status = 502;
    a.faults.resetNext = 1;
    a.resetStats();
    expect(await resyncUser(getDb(), source(a), u.id, TURMA)).toMatchObject({ outcome: "created" });
    expect(a.stats.getRequests).toBe(1);
    expect(a.stats.faulted).toBe(3);

    a.setRateLimit({ requests: 0, windowMs: 1000 });
    const waits: string[] = [];
    const limited = resyncUser(
      getDb(),
      source(a, { ...FAST, onWait: (w) => waits.push(w.reason) }),
      u.id,
      TURMA,
    );
    setTimeout(() => a.setRateLimit(null), 50);
    expect(await limited).toMatchObject({ outcome: "duplicate" });
    expect(waits[0]).toBe("HTTP 429 (rate limited)");

    const wrongKey = clerkSource({ secretKey: "sk_test_wrong", apiUrl: a.url, retry: FAST });
    a.resetStats();
    await expect(resyncUser(getDb(), wrongKey, u.id, TURMA)).rejects.toThrow(/HTTP 401/);
    expect(a.stats.requests).toBe(1);
  });
});

function cli(
  script: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
