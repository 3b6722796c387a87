// The dry run: reads Clerk's users page by page (by cursor, as the backfill: pages.ts) and compares them with the database, writing
// nothing (no ledger rows, no sync_runs row). Per page, the users' (clerk_id, updated_at, verified
// primary email) travel as ONE jsonb parameter to ONE read-only query that answers the page's
// counts; the counts add up across pages (Clerk never lists a user or an email address twice), and
// one last query reads the database-wide totals.
import { sql } from "drizzle-orm";
import { MAPPING } from "../../drizzle/mapping.js";
import { primaryEmail } from "../../lib/clerk/user.js";
import type { Db } from "../../lib/db.js";
import { namesOf } from "../../lib/mapping.js";
import type { ClerkSource, InvalidUser } from "./clerk.js";
import { listPages } from "./pages.js";
import { DEFAULT_RETRY, type RetryPolicy, withRetry } from "./retry.js";
import { MAX_BATCH } from "./run.js";

export interface ReconciliationReport {
  /** Only users created after this instant were compared (null: all). */
  since: string | null;
  /** Users Clerk listed. */
  clerkUsers: number;
  /** Live rows in `users` (not deleted), whatever `since`. */
  dbUsers: number;
  /** Listed by Clerk and present in the database (live). */
  inBoth: number;
  /** Listed by Clerk, absent from the database: the backfill creates them. */
  missing: number;
  /** In the database with an older clerk_updated_at than Clerk's updated_at: the backfill updates them. */
  stale: number;
  /** Listed by Clerk but deleted in the database (deletion is terminal: left as is). */
  deletedInDb: number;
  /** Live database users Clerk did not list (deleted in Clerk without a webhook?); never deleted by the backfill. Null with `since`. */
  notInClerk: number | null;
  /** Clerk users whose primary email is missing or not verified: they never link a mentorado. */
  noVerifiedEmail: number;
  /** Mentorados without a user whose email is the verified primary email of a Clerk user (not deleted in the database). */
  mentoradosMatchingClerkEmail: number;
  /** Clerk users without a mentorado whose verified email belongs to a mentorado linked to another user. */
  conflicts: number;
  /** All mentorados without a user (pre-registered, waiting for a sign-up), for context. */
  unlinkedMentorados: number;
  /** Users the webhook's schema refuses too (reported by id, never applied). */
  invalid: number;
  /** Nothing a backfill would change: no user missing or stale, no profile waiting for its
   *  user, none invalid. Conflicts and users Clerk no longer lists are for a person to decide. */
  inSync: boolean;
}

export interface DryRunInput {
  db: Db;
  clerk: ClerkSource;
  batch?: number;
  since?: string | null;
  dbRetry?: RetryPolicy;
  onProgress?: (p: { usersSeen: number; total: number; pages: number }) => void;
  onInvalid?: (u: InvalidUser) => void;
  /** A line for the operator (the cursor's fallback to offsets). */
  onNote?: (line: string) => void;
}

type PageCounts = {
  in_both: number;
  missing: number;
  stale: number;
  deleted_in_db: number;
  matching: number;
  conflicts: number;
};

const U = namesOf(MAPPING.users);
const M = namesOf(MAPPING.mentorados);

/** One read-only query: the page's users (as jsonb) against users and mentorados. */
function pageQuery(items: { clerk_id: string; updated_at: string; email: string | null }[]) {
  return sql`with
    page as (
      select * from jsonb_to_recordset(${JSON.stringify(items)}::jsonb)
        as p(clerk_id text, updated_at timestamptz, email text)
    ),
    joined as (
      select p.clerk_id, p.updated_at, p.email, u.${U.id} as user_id,
        u.${U.clerk_updated_at} as clerk_updated_at, u.${U.deleted_at} as deleted_at,
        exists (select 1 from ${M.$} m where m.${M.user_id} = u.${U.id}) as has_mentorado
      from page p left join ${U.$} u on u.${U.clerk_id} = p.clerk_id
    )
    select
      count(*) filter (where user_id is not null and deleted_at is null)::int as in_both,
      count(*) filter (where user_id is null)::int as missing,
      count(*) filter (where user_id is not null and deleted_at is null
        and (clerk_updated_at is null or clerk_updated_at < updated_at))::int as stale,
      count(*) filter (where deleted_at is not null)::int as deleted_in_db,
      (select count(*) from ${M.$} m join joined j on email_key(m.${M.email}) = email_key(j.email)
        where m.${M.user_id} is null and j.deleted_at is null)::int as matching,
      (select count(*) from joined j join ${M.$} m on email_key(m.${M.email}) = email_key(j.email)
        where j.deleted_at is null and not j.has_mentorado
          and m.${M.user_id} is not null and m.${M.user_id} is distinct from j.user_id)::int as conflicts
    from joined`;
}

export async function runDryRun(input: DryRunInput): Promise<ReconciliationReport> {
  const { db, clerk } = input;
  const dbRetry = input.dbRetry ?? DEFAULT_RETRY;
  const since = input.since ?? null;
  const createdAfter = since === null ? undefined : Date.parse(since);
  const report: ReconciliationReport = {
    since,
    clerkUsers: 0,
    dbUsers: 0,
    inBoth: 0,
    missing: 0,
    stale: 0,
    deletedInDb: 0,
    notInClerk: null,
    noVerifiedEmail: 0,
    mentoradosMatchingClerkEmail: 0,
    conflicts: 0,
    unlinkedMentorados: 0,
    invalid: 0,
    inSync: false,
  };
  let pages = 0;
  const filter = createdAfter === undefined ? {} : { createdAfter };
  // The progress bar's total only: the report's own figures are what the pages list.
  const total = input.onProgress ? await clerk.countUsers(filter) : 0;
  for await (const page of listPages(clerk, {
    limit: input.batch ?? MAX_BATCH,
    start: { cursor: null, offset: 0 },
    ...filter,
    onCursorRefused: (reason) =>
      input.onNote?.(
        `dry run: Clerk refused the starting_after cursor (${reason}); paging by offset`,
      ),
  })) {
    pages++;
    report.clerkUsers += page.listed;
    report.invalid += page.invalid.length;
    for (const bad of page.invalid) input.onInvalid?.(bad);
    const items = page.users.map((u) => {
      const { email, verified } = primaryEmail(u);
      if (!(email && verified)) report.noVerifiedEmail++;
      return {
        clerk_id: u.id,
        updated_at: new Date(u.updated_at).toISOString(),
        email: email && verified ? email : null,
      };
    });
    if (items.length > 0) {
      const r = await withRetry(
        `compare users after ${page.from.offset}`,
        () => db.execute<PageCounts>(pageQuery(items)),
        dbRetry,
      );
      const c = r.rows[0]!;
      report.inBoth += c.in_both;
      report.missing += c.missing;
      report.stale += c.stale;
      report.deletedInDb += c.deleted_in_db;
      report.mentoradosMatchingClerkEmail += c.matching;
      report.conflicts += c.conflicts;
    }
    input.onProgress?.({
      usersSeen: page.next.offset,
      total: page.last ? page.next.offset : Math.max(total, page.next.offset + 1),
      pages,
    });
  }
  const totals = await withRetry(
    "read the totals",
    () =>
      db.execute<{ live: number; unlinked: number }>(sql`select
        (select count(*) from ${U.$} where ${U.deleted_at} is null)::int as live,
        (select count(*) from ${M.$} where ${M.user_id} is null)::int as unlinked`),
    dbRetry,
  );
  const t = totals.rows[0]!;
  report.dbUsers = t.live;
  report.unlinkedMentorados = t.unlinked;
  report.notInClerk = since === null ? Math.max(0, t.live - report.inBoth) : null;
  report.inSync =
    report.missing === 0 &&
    report.stale === 0 &&
    report.mentoradosMatchingClerkEmail === 0 &&
    report.invalid === 0;
  return report;
}

/** The report as aligned text lines, for a terminal. */
export function formatReport(r: ReconciliationReport): string {
  const rows: [string, number | string][] = [
    ["users in Clerk", r.clerkUsers],
    ["users in the database (live)", r.dbUsers],
    ["in both", r.inBoth],
    ["missing from the database (backfill creates)", r.missing],
    ["stale in the database (backfill updates)", r.stale],
    ["deleted in the database, still in Clerk", r.deletedInDb],
    ["in the database, not listed by Clerk", r.notInClerk ?? "n/a (--since)"],
    ["Clerk users with no verified email", r.noVerifiedEmail],
    ["mentorados without a user matching a verified Clerk email", r.mentoradosMatchingClerkEmail],
    ["conflicts (email's mentorado linked to another user)", r.conflicts],
    ["mentorados without a user (all)", r.unlinkedMentorados],
    ["invalid Clerk users (skipped)", r.invalid],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const head = `reconciliation report${r.since ? ` (users created after ${r.since})` : ""}`;
  const verdict = r.inSync
    ? "in sync"
    : `not in sync: ${r.missing} missing, ${r.stale} stale, ${r.mentoradosMatchingClerkEmail} profiles waiting, ${r.invalid} invalid`;
  return [head, ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`), verdict].join("\n");
}
