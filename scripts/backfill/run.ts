// The backfill: pages through Clerk's users (+created_at, by cursor: pages.ts) and applies each page with the webhook's
// own code (lib/sync/apply.ts applyUsers): ONE batch per page = one SQL round trip = one
// transaction, holding the page's users, their mentorados and outbox rows, their ledger rows AND
// the run's checkpoint in sync_runs (the cursor: the page's last user id, and the users listed so
// far). A page and its checkpoint commit together or not at all, so an interrupted run resumes
// exactly where it stopped and ends equal to an uninterrupted one.
//
// Our own tables (sync_runs, the ledger) are named through their drizzle objects, never as
// literals: the objects carry their schema, clerk_sync.
//
// Each user is one delivery `backfill:<clerk_id>:<updated_at>` of type `backfill`: re-running a
// finished backfill only meets ids already in the ledger (`duplicate`, nothing changes), and the
// `clerk_updated_at` guard keeps whatever newer data a webhook wrote meanwhile (`stale`). Users
// absent from Clerk's list are never touched, let alone deleted.
import { type SQL, sql } from "drizzle-orm";
import { clerkWebhookEvents, syncRuns } from "../../drizzle/schema.js";
import type { Db } from "../../lib/db.js";
import { isSchemaMismatch, schemaMismatchLine } from "../../lib/db-error.js";
import { applyUsers, type Outcome, toUserRecord } from "../../lib/sync/apply.js";
import type { ClerkSource, InvalidUser } from "./clerk.js";
import { listPages, type Position } from "./pages.js";
import { DEFAULT_RETRY, RetriesExhausted, type RetryPolicy, withRetry } from "./retry.js";

export const MAX_BATCH = 500;
export const COUNT_KEYS = [
  "created",
  "linked",
  "claimed",
  "conflict",
  "applied",
  "stale",
  "duplicate",
  "invalid",
] as const;
export type CountKey = (typeof COUNT_KEYS)[number];
export type Counts = Record<CountKey, number>;

export function emptyCounts(): Counts {
  return {
    created: 0,
    linked: 0,
    claimed: 0,
    conflict: 0,
    applied: 0,
    stale: 0,
    duplicate: 0,
    invalid: 0,
  };
}

export interface RunOptions {
  /** Users per page, 1..500. */
  batch: number;
  /** Only users created after this instant (Clerk's created_at_after). */
  since: string | null;
}

export interface RunState {
  runId: number;
  status: "running" | "finished" | "failed";
  options: RunOptions;
  /** Users listed so far: the position for offset paging. */
  nextOffset: number;
  /** The last user id of the last committed page (starting_after); null: page by offset. */
  nextCursor: string | null;
  pages: number;
  usersSeen: number;
  counts: Counts;
  lastError: string | null;
}

export interface Progress {
  runId: number;
  usersSeen: number;
  /** Clerk's count of users for the run's filter when it started, stretched by sign-ups since. */
  total: number;
  pages: number;
  counts: Counts;
  /** Users seen before this process started (a resumed run), for the rate. */
  resumedAt: number;
}

export interface BackfillInput {
  db: Db;
  clerk: ClerkSource;
  defaultTurma: string;
  /** New run options; ignored with `resume` (the run keeps its own). */
  options?: Partial<RunOptions>;
  resume?: boolean;
  /** Retries of a page's SQL batch when the database is unreachable (Clerk's are in the source). */
  dbRetry?: RetryPolicy;
  onProgress?: (p: Progress) => void;
  onInvalid?: (u: InvalidUser) => void;
  /** A line for the operator (the cursor's fallback to offsets). */
  onNote?: (line: string) => void;
  /** Checked between pages: stop cleanly (status failed, "interrupted"), resumable. */
  shouldStop?: () => boolean;
}

export interface BackfillResult extends RunState {
  resumed: boolean;
  interrupted: boolean;
  /** Clerk's count at the start of this process's part of the run. */
  totalCount: number;
}

export class NothingToResume extends Error {
  constructor() {
    super("no unfinished backfill run to resume (start one without --resume)");
    this.name = "NothingToResume";
  }
}

/** A run stopped by a failure after its retries: its checkpoint is saved; --resume continues it. */
export class BackfillStopped extends Error {
  constructor(
    readonly state: RunState,
    readonly reason: string,
  ) {
    super(
      `backfill run #${state.runId} stopped after ${state.usersSeen} users ` +
        `(${state.pages} pages applied): ${reason}. ` +
        "The checkpoint is saved: run again with --resume to continue.",
    );
    this.name = "BackfillStopped";
  }
}

type RunRow = {
  id: number;
  status: RunState["status"];
  options: unknown;
  next_offset: number;
  next_cursor: string | null;
  pages: number;
  users_seen: number;
  counts: unknown;
  last_error: string | null;
};

const RUN_COLUMNS = sql.raw(
  "id, status, options, next_offset, next_cursor, pages, users_seen, counts, last_error",
);

function toState(row: RunRow): RunState {
  const o = (row.options ?? {}) as Partial<RunOptions>;
  const c = (row.counts ?? {}) as Partial<Counts>;
  const counts = emptyCounts();
  for (const k of COUNT_KEYS) counts[k] = Number(c[k] ?? 0);
  return {
    runId: row.id,
    status: row.status,
    options: {
      batch: typeof o.batch === "number" ? o.batch : MAX_BATCH,
      since: typeof o.since === "string" ? o.since : null,
    },
    nextOffset: row.next_offset,
    nextCursor: row.next_cursor,
    pages: row.pages,
    usersSeen: row.users_seen,
    counts,
    lastError: row.last_error,
  };
}

export function backfillSvixId(clerkId: string, updatedAtMs: number): string {
  return `backfill:${clerkId}:${updatedAtMs}`;
}

const COUNT_KEYS_SQL = sql.raw(`array[${COUNT_KEYS.map((k) => `'${k}'`).join(", ")}]::text[]`);

/**
 * The checkpoint, run in the page's own batch after the sync statements. It counts the page's
 * outcomes from the ledger rows THIS transaction wrote (xmin = our transaction id; Postgres 13+):
 * a delivery id already in the ledger was left untouched, and is a `duplicate`. Guarded on the
 * position the page started at (cursor and offset), so a batch retried after a lost answer cannot
 * advance it twice.
 */
export function advanceCheckpoint(p: {
  runId: number;
  from: Position;
  next: Position;
  svixIds: string[];
  listed: number;
  invalid: number;
  last: boolean;
}): SQL {
  return sql`with
    ids as (select jsonb_array_elements_text(${JSON.stringify(p.svixIds)}::jsonb) as svix_id),
    mine as (
      select e.outcome, count(*)::int as n
      from ${clerkWebhookEvents} e join ids on ids.svix_id = e.svix_id
      where e.xmin = pg_current_xact_id()::xid
      group by e.outcome
    ),
    page as (
      select k, (coalesce((select n from mine where outcome = k), 0)
        + case k
            when 'duplicate' then ${p.svixIds.length}::int - coalesce((select sum(n) from mine), 0)
            when 'invalid' then ${p.invalid}::int
            else 0
          end)::int as n
      from unnest(${COUNT_KEYS_SQL}) as k
    )
    update ${syncRuns} r set
      counts = (select jsonb_object_agg(page.k, coalesce((r.counts ->> page.k)::int, 0) + page.n)
                from page),
      next_offset = ${p.next.offset}::int,
      next_cursor = ${p.next.cursor}::text,
      pages = r.pages + 1,
      users_seen = r.users_seen + ${p.listed}::int,
      status = ${p.last ? "finished" : "running"},
      finished_at = ${p.last ? sql`now()` : sql`null`},
      last_error = null,
      updated_at = now()
    where r.id = ${p.runId} and r.status = 'running' and r.next_offset = ${p.from.offset}::int
      and r.next_cursor is not distinct from ${p.from.cursor}::text`;
}

/** The run to work on; null when resuming and there is nothing to resume. */
async function startRun(db: Db, input: BackfillInput): Promise<RunState | null> {
  if (input.resume) {
    const r = await db.execute<RunRow>(sql`update ${syncRuns}
      set status = 'running', last_error = null, updated_at = now()
      where id = (select id from ${syncRuns} where kind = 'backfill' and status <> 'finished'
                  order by id desc limit 1)
      returning ${RUN_COLUMNS}`);
    const row = r.rows[0];
    return row ? toState(row) : null;
  }
  const options: RunOptions = {
    batch: input.options?.batch ?? MAX_BATCH,
    since: input.options?.since ?? null,
  };
  const r = await db.execute<RunRow>(sql`insert into ${syncRuns} (kind, options, counts)
    values ('backfill', ${JSON.stringify(options)}::jsonb, ${JSON.stringify(emptyCounts())}::jsonb)
    returning ${RUN_COLUMNS}`);
  return toState(r.rows[0]!);
}

async function readRun(db: Db, runId: number): Promise<RunState> {
  const r = await db.execute<RunRow>(
    sql`select ${RUN_COLUMNS} from ${syncRuns} where id = ${runId}`,
  );
  return toState(r.rows[0]!);
}

async function markStopped(db: Db, runId: number, reason: string): Promise<void> {
  try {
    await db.execute(sql`update ${syncRuns}
      set status = 'failed', last_error = ${reason.slice(0, 500)}, updated_at = now()
      where id = ${runId} and status = 'running'`);
  } catch {
    // The database may be the thing that failed: the checkpoint of the last page still stands.
  }
}

export async function runBackfill(input: BackfillInput): Promise<BackfillResult> {
  const { db, clerk } = input;
  const dbRetry = input.dbRetry ?? DEFAULT_RETRY;
  const batch = input.options?.batch ?? MAX_BATCH;
  if (!Number.isInteger(batch) || batch < 1 || batch > MAX_BATCH)
    throw new RangeError(`batch must be an integer from 1 to ${MAX_BATCH}`);
  const since = input.options?.since;
  if (since != null && Number.isNaN(Date.parse(since)))
    throw new RangeError("since must be an ISO date-time");
  const start = await withRetry("start the run", () => startRun(db, input), dbRetry);
  if (!start) throw new NothingToResume();
  const { runId, options } = start;
  const counts = { ...start.counts };
  let { nextOffset, nextCursor, pages, usersSeen } = start;
  let totalCount = usersSeen;
  let finished = start.status === "finished";
  let interrupted = false;
  const createdAfter = options.since === null ? undefined : Date.parse(options.since);
  const filter = createdAfter === undefined ? {} : { createdAfter };
  const state = (lastError: string | null): RunState => ({
    runId,
    status: "failed",
    options,
    nextOffset,
    nextCursor,
    pages,
    usersSeen,
    counts,
    lastError,
  });

  try {
    // The bar's total: ONE count, here, not one per page (Clerk's rate limit is per request).
    totalCount = await clerk.countUsers(filter);
    for await (const page of listPages(clerk, {
      limit: options.batch,
      start: { cursor: nextCursor, offset: nextOffset },
      ...filter,
      onCursorRefused: (reason) =>
        input.onNote?.(
          `backfill: Clerk refused the starting_after cursor (${reason}); paging by offset for ` +
            "the rest of this run, where a user deleted in Clerk meanwhile can make it miss one " +
            "(the dry run's missing shows it)",
        ),
    })) {
      const records = page.users.map((u) =>
        toUserRecord(
          u,
          { svixId: backfillSvixId(u.id, u.updated_at), type: "backfill", timestampSeconds: null },
          input.defaultTurma,
        ),
      );
      const checkpoint = advanceCheckpoint({
        runId,
        from: page.from,
        next: page.next,
        svixIds: [...new Set(records.map((r) => r.svix_id))],
        listed: page.listed,
        invalid: page.invalid.length,
        last: page.last,
      });
      const where = `after ${page.from.offset} users`;
      if (records.length > 0) {
        const applied = await withRetry(
          `apply users ${where}`,
          () => applyUsers(db, records, [checkpoint]),
          dbRetry,
        );
        for (const outcome of applied.result.values()) {
          if (outcome in counts) counts[outcome as Exclude<Outcome, "deleted" | "ignored">]++;
        }
      } else {
        await withRetry(`checkpoint ${where}`, () => db.execute(checkpoint), dbRetry);
      }
      for (const bad of page.invalid) input.onInvalid?.(bad);
      counts.invalid += page.invalid.length;
      nextOffset = page.next.offset;
      nextCursor = page.next.cursor;
      pages++;
      usersSeen += page.listed;
      finished = page.last;
      input.onProgress?.({
        runId,
        usersSeen,
        // Sign-ups during the run list more users than counted: the bar stretches, below 100%
        // until the last page.
        total: page.last ? usersSeen : Math.max(totalCount, usersSeen + 1),
        pages,
        counts,
        resumedAt: start.usersSeen,
      });
      if (!page.last && input.shouldStop?.()) {
        interrupted = true;
        await markStopped(db, runId, "interrupted");
        break;
      }
    }
  } catch (err) {
    const reason =
      err instanceof RetriesExhausted
        ? err.message
        : isSchemaMismatch(err)
          ? schemaMismatchLine(err)
          : err instanceof Error
            ? err.name
            : "error";
    await markStopped(db, runId, reason);
    throw new BackfillStopped(state(reason), reason);
  }
  // The row is the truth (its counts survive interruptions); one more round trip to read it.
  const row = await withRetry("read the run", () => readRun(db, runId), dbRetry);
  return {
    ...row,
    resumed: Boolean(input.resume),
    interrupted: interrupted || !finished,
    totalCount,
  };
}
