// The rules of DESIGN.md as SQL. A sync is ONE call of a PL/pgSQL function that runs these
// statements in order (lib/sync/routines.ts: one Neon HTTP request, one READ COMMITTED
// transaction, each statement with its own snapshot). Nothing is decided outside SQL: what a
// statement did is handed to the next ones in the function's variables (B.fresh, B.claimed,
// B.written below), and the delivery's ledger row is written twice, 'pending' and then its outcome:
//
//   record the deliveries 'pending'    (ON CONFLICT DO NOTHING: a redelivered svix id stays as it
//                                       was, and a concurrent duplicate waits for the first to
//                                       commit)                                  => B.fresh: the new ids
//   -> claim a legacy users row (no Clerk id, same verified email)               => B.claimed
//   -> upsert users, only for fresh deliveries and only when data.updated_at is newer => B.written
//   -> link or create the mentorado of each written (or claimed) user; settle every fresh
//      delivery's outcome in its ledger row; RETURNING it.
//
// 'pending' is never committed (the last statement settles every fresh row), so a delivery whose
// id was already recorded changes nothing and returns no row: that is `duplicate`.
//
// The statements take a set of users (a jsonb array, the routine's $1) so the webhook (one user)
// and the backfill (a page of users, one synthetic delivery id each) run the very same SQL.
//
// Plans: the routine keeps each statement's plan for the connection's life, so every read of
// `users`, `mentorados` and the ledger is a lookup that no plan can turn into a scan, whatever the
// statistics said when it was made: by a unique key given as a correlated subquery (LIMIT 1
// subqueries are never flattened into joins), by `= any(array)` on a unique index, or by an ON
// CONFLICT arbiter; never a join the planner may answer by reading a table whole
// (tests/plans.test.ts).
//
// The app's table and column names come from the one mapping (drizzle/mapping.ts, lib/mapping.ts):
// U.x and M.x are the quoted names of `users` and `mentorados` columns, however the app spells them.
import { type SQL, sql } from "drizzle-orm";
import { MAPPING } from "../../drizzle/mapping.js";
import { namesOf, quoteIdent } from "../mapping.js";

const U = namesOf(MAPPING.users);
const M = namesOf(MAPPING.mentorados);
/**
 * On an adopted database, profiles that existed before adoption were welcomed by the app itself:
 * linking one queues no welcome email (clerk_sync.adoption, docs/adopting.md). Not in the text at
 * all on a database the service created.
 */
const WELCOME_GATE = MAPPING.adopted
  ? sql` where id > (select welcome_after_mentorado_id from clerk_sync.adoption where id = 1)`
  : sql``;

/** App-owned personal columns that a deletion erases too (db:adopt --erase). */
const ERASE_ALSO = sql.raw(MAPPING.erase.users.map((c) => `, ${quoteIdent(c)} = null`).join(""));

/** One user to apply: the facts the rules need, already validated and normalised. */
export interface UserRecord {
  /** The delivery: the svix-id, or a deterministic id for backfills. */
  svix_id: string;
  type: string;
  clerk_id: string;
  email: string | null;
  email_verified: boolean;
  first_name: string | null;
  last_name: string | null;
  username: string | null;
  image_url: string | null;
  clerk_created_at: string;
  clerk_updated_at: string;
  /** nome_completo and turma for a profile created at sign-up. */
  nome_completo: string | null;
  turma: string;
  /** The svix-timestamp header (seconds since epoch), as an ISO string. */
  event_timestamp: string | null;
}

const INPUT_COLUMNS = sql.raw(`svix_id text, type text, clerk_id text, email text,
  email_verified boolean, first_name text, last_name text, username text, image_url text,
  clerk_created_at timestamptz, clerk_updated_at timestamptz, nome_completo text, turma text,
  event_timestamp timestamptz`);

/**
 * What a user batch's statements name: the users ($1), and what earlier statements did, as
 * variables of the routine (the plan tests bind them as $2..$4 instead).
 */
export interface BatchNames {
  /** jsonb array of UserRecord. */
  users: SQL;
  /** text[]: svix ids recorded by statement 1 (not seen before). */
  fresh: SQL;
  /** text[]: svix ids whose legacy users row statement 2 claimed. */
  claimed: SQL;
  /** text[]: Clerk ids whose users row statement 3 wrote. */
  written: SQL;
}

/** The `input` CTE every statement of a user batch starts from. */
function input(B: BatchNames): SQL {
  return sql`input as (
    select * from jsonb_to_recordset(${B.users}::jsonb) as x(${INPUT_COLUMNS})
  )`;
}

/** 1. Record the deliveries; the ids not seen before are the batch's `fresh` deliveries. */
export function recordDeliveries(B: BatchNames): SQL {
  return sql`with ${input(B)},
    recorded as (
      insert into clerk_sync.clerk_webhook_events (svix_id, type, clerk_user_id, outcome, event_timestamp)
      select svix_id, type, clerk_id, 'pending', event_timestamp from input
      on conflict (svix_id) do nothing
      returning svix_id
    )
    select coalesce(array_agg(svix_id), '{}') from recorded`;
}

/**
 * The version of a user's content, for ties: two different versions with the same
 * data.updated_at are ordered by this hash of what the sync stores, so every delivery order ends
 * in the same row, and a redelivered identical version compares equal (no write: `stale`).
 * row(...)::text is a canonical rendering (NULLs included); md5 is a tie-break, not a secret.
 */
function versionHash(t: string): SQL {
  const r = sql.raw(t);
  return sql`md5(row(${r}.${U.email}, ${r}.${U.email_verified}, ${r}.${U.first_name},
    ${r}.${U.last_name}, ${r}.${U.username}, ${r}.${U.image_url})::text) collate "C"`;
}

/**
 * 2. Claim a legacy user (adopted databases only): a `users` row from before Clerk (no Clerk id)
 * whose email has the same email_key() as the delivery's VERIFIED primary email, when it is the
 * only such row and this Clerk user has no row yet. Its Clerk id is set and nothing else (the
 * app's own columns are kept); statement 3 then writes Clerk's data into it as into any row, and
 * its profile stays linked. A concurrent claim of the same row waits for the first, re-checks
 * `clerk_id is null` on the row's newest version and finds it set: one row is never claimed
 * twice. An unverified email never claims (anyone can type an address). Two legacy rows with one
 * identity: neither is claimed. Returns the claimed deliveries' svix ids.
 */
export function claimLegacyUsers(B: BatchNames): SQL {
  return sql`with ${input(B)},
    candidates as (
      select i.svix_id, i.clerk_id, email_key(i.email) as key
      from input i
      where i.svix_id = any(${B.fresh}) and i.email_verified and email_key(i.email) <> ''
        and (select x.${U.id} from ${U.$} x where x.${U.clerk_id} = i.clerk_id limit 1) is null
    ),
    -- A probe of db:adopt's partial index on legacy rows' email keys, per candidate (an aggregate
    -- subquery is never flattened into a join that could read that index whole).
    legacy as (
      select c.svix_id, c.clerk_id, l.id
      from candidates c
      cross join lateral (
        select min(u.${U.id}) as id, count(*) as n from ${U.$} u
        where email_key(u.${U.email}) = c.key and u.${U.clerk_id} is null
      ) l
      where l.n = 1
    ),
    claimed as (
      update ${U.$} u set ${U.clerk_id} = l.clerk_id
      from legacy l
      where u.${U.id} = l.id and u.${U.clerk_id} is null
      returning l.svix_id
    )
    select coalesce(array_agg(svix_id), '{}') from claimed`;
}

/**
 * 3. Upsert the fresh deliveries' users by clerk_id. Order-safe: an existing row is only
 * overwritten by a newer version, ordered by (data.updated_at, versionHash), and never after
 * deletion (deleted_at is terminal; a tombstone blocks a late creation). A claimed legacy row has
 * no Clerk data yet: always written. Returns the Clerk ids written.
 */
export function upsertUsers(B: BatchNames): SQL {
  return sql`with ${input(B)},
    written as (
      insert into ${U.$} as u (${U.clerk_id}, ${U.email}, ${U.email_verified}, ${U.first_name},
        ${U.last_name}, ${U.username}, ${U.image_url}, ${U.clerk_created_at}, ${U.clerk_updated_at})
      select i.clerk_id, i.email, i.email_verified, i.first_name, i.last_name, i.username,
        i.image_url, i.clerk_created_at, i.clerk_updated_at
      from input i
      where i.svix_id = any(${B.fresh})
      on conflict (${U.clerk_id}) do update set
        ${U.email} = excluded.${U.email},
        ${U.email_verified} = excluded.${U.email_verified},
        ${U.first_name} = excluded.${U.first_name},
        ${U.last_name} = excluded.${U.last_name},
        ${U.username} = excluded.${U.username},
        ${U.image_url} = excluded.${U.image_url},
        ${U.clerk_created_at} = coalesce(u.${U.clerk_created_at}, excluded.${U.clerk_created_at}),
        ${U.clerk_updated_at} = excluded.${U.clerk_updated_at},
        ${U.updated_at} = now()
      where u.${U.deleted_at} is null
        and (u.${U.clerk_updated_at} is null or u.${U.clerk_updated_at} < excluded.${U.clerk_updated_at}
          or (u.${U.clerk_updated_at} = excluded.${U.clerk_updated_at}
            and ${versionHash("u")} < ${versionHash("excluded")}))
      returning u.${U.clerk_id} as clerk_id
    )
    select coalesce(array_agg(clerk_id), '{}') from written`;
}

/**
 * 4. Link or create the mentorado of each user just written (or claimed) that has a verified
 * email and no mentorado yet, queue its welcome email once, and settle every fresh delivery's
 * outcome.
 *
 * One upsert does both: a pre-registered profile with the same email and no user is claimed
 * (ON CONFLICT DO UPDATE ... WHERE user_id IS NULL: under a concurrent claim Postgres re-checks
 * that condition on the newest row version, so only one user ever wins); otherwise a new profile
 * is inserted. A profile already linked to someone else is left alone: `conflict`.
 */
export function claimMentorados(B: BatchNames): SQL {
  return sql`with ${input(B)},
    -- Each fresh delivery, how statements 2 and 3 left it, and its stored user (read by its
    -- unique Clerk id, after the upsert).
    deliveries as (
      select i.*, u.id as user_id, u.email as stored_email, u.usable,
        case when i.svix_id = any(${B.claimed}) then 'claimed'
             when i.clerk_id = any(${B.written}) then 'written'
             else 'stale' end as step
      from input i
      left join lateral (
        select u.${U.id} as id, u.${U.email} as email,
          u.${U.deleted_at} is null and u.${U.email_verified} and email_key(u.${U.email}) <> '' as usable
        from ${U.$} u where u.${U.clerk_id} = i.clerk_id limit 1
      ) u on true
      where i.svix_id = any(${B.fresh})
    ),
    -- Users just written (or claimed); and, for a stale delivery, the STORED user when an unlinked
    -- profile with its stored email exists (pre-registered after the sign-up was synced): claiming
    -- it uses only newer data, so it is order-safe, and a backfill or resync repairs such profiles.
    eligible as (
      select d.user_id, d.stored_email as email, d.nome_completo, d.turma
      from deliveries d
      -- A probe of the unique email_key index, one per stale user; its gate is inside, so a
      -- creation or a link never probes. Measured shapes that instead computed email_key() (NFC
      -- twice) over every unlinked profile: an EXISTS (a hashed subplan: ~20 ms of PostgreSQL CPU
      -- per delivery with a few hundred profiles), "and m.user_id is null" here (the user_id index
      -- walked over every unlinked profile: 5 ms with 800).
      left join lateral (
        select m.${M.user_id} is null as found from ${M.$} m
        where d.step = 'stale' and email_key(m.${M.email}) = email_key(d.stored_email)
        limit 1
      ) unlinked on true
      where d.usable and d.nome_completo is not null
        and (select m.${M.id} from ${M.$} m where m.${M.user_id} = d.user_id limit 1) is null
        and (d.step <> 'stale' or unlinked.found)
    ),
    -- Two users of one page with the same email: the older account claims, the other is a conflict.
    claimants as (
      select distinct on (email_key(email)) * from eligible order by email_key(email), user_id
    ),
    profiled as (
      insert into ${M.$} as m (${M.user_id}, ${M.nome_completo}, ${M.email}, ${M.turma}, ${M.origem})
      select user_id, nome_completo, email, turma, 'clerk_signup' from claimants
      on conflict ((email_key(${M.email}))) do update
        set ${M.user_id} = excluded.${M.user_id}, ${M.updated_at} = now()
      where m.${M.user_id} is null
      returning m.${M.id} as id, m.${M.user_id} as user_id, (m.xmax = 0) as created
    ),
    welcomed as (
      -- At most one welcome per profile, ever: re-claiming after a deletion sends none.
      insert into clerk_sync.email_outbox (kind, mentorado_id)
      select 'welcome', id from profiled${WELCOME_GATE}
      on conflict (kind, mentorado_id) do nothing
    ),
    settled as (
      -- "in (select ...)": hashed subplans over the CTEs, linear in a backfill page of 500 (the
      -- planner estimates one row for CTEs over jsonb_to_recordset and would nest-loop joins).
      select d.svix_id,
        case
          when d.step = 'claimed' then 'claimed'
          when d.user_id in (select user_id from profiled where created) then 'created'
          when d.user_id in (select user_id from profiled) then 'linked'
          when d.step = 'stale' then 'stale'
          when d.user_id in (select user_id from eligible) then 'conflict'
          else 'applied'
        end as outcome
      from deliveries d
    )
    update clerk_sync.clerk_webhook_events e set outcome = s.outcome
    from settled s
    where e.svix_id = any(${B.fresh}) and e.svix_id = s.svix_id
    returning e.svix_id, e.outcome`;
}

export interface DeletionRecord {
  svix_id: string;
  clerk_id: string;
  event_timestamp: string | null;
}

/**
 * A deletion's facts as the deletion routine's parameters (lib/sync/routines.ts): $1 the delivery,
 * $2 the Clerk user id, $3 the svix-timestamp (or null). The statements below name them so.
 */
const D = {
  svix_id: sql.raw("$1"),
  clerk_id: sql.raw("$2"),
  event_timestamp: sql.raw("$3"),
} as const;

/** 1. (deletion) Record the delivery. */
export function insertDeletionLedger(): SQL {
  return sql`insert into clerk_sync.clerk_webhook_events (svix_id, type, clerk_user_id, outcome, event_timestamp)
    values (${D.svix_id}, 'user.deleted', ${D.clerk_id}, 'pending', ${D.event_timestamp})
    on conflict (svix_id) do nothing`;
}

/**
 * 2. (deletion) Terminal: erase the personal fields, keep the row as a tombstone (created if the
 * deletion arrives first, so a late creation cannot revive it). Settles the outcome, returns it.
 */
export function deleteUser(): SQL {
  return sql`with
    pending as (
      select 1 from clerk_sync.clerk_webhook_events where svix_id = ${D.svix_id} and outcome = 'pending'
    ),
    gone as (
      insert into ${U.$} as u (${U.clerk_id}, ${U.deleted_at})
      select ${D.clerk_id}, now() from pending
      on conflict (${U.clerk_id}) do update set
        ${U.deleted_at} = now(), ${U.email} = null, ${U.email_verified} = null,
        ${U.first_name} = null, ${U.last_name} = null, ${U.username} = null,
        ${U.image_url} = null, ${U.updated_at} = now()${ERASE_ALSO}
      where u.${U.deleted_at} is null
    )
    update clerk_sync.clerk_webhook_events set outcome = 'deleted'
    where svix_id = ${D.svix_id} and outcome = 'pending'
    returning svix_id, outcome`;
}

/**
 * 3. (deletion) Unlink the deleted user's mentorado so the profile survives and can be claimed
 * again. A statement of its own on purpose: it must see a link committed by a concurrent
 * user.created that held the users row while statement 2 waited for it (one statement reads one
 * snapshot, taken before that wait; in the routine, each statement takes its own). Harmless when
 * repeated: a deleted user never owns a profile.
 */
export function unlinkDeletedUser(): SQL {
  return sql`update ${M.$} set ${M.user_id} = null, ${M.updated_at} = now()
    where ${M.user_id} = (select ${U.id} from ${U.$}
      where ${U.clerk_id} = ${D.clerk_id} and ${U.deleted_at} is not null)`;
}
