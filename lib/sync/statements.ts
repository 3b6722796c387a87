// The rules of DESIGN.md as SQL. A sync is ONE batch (one Neon HTTP request, one READ COMMITTED
// transaction) whose statements cannot see each other's results in JavaScript, so each statement
// is gated in SQL on what the earlier ones did, through the delivery's ledger row:
//
//   insert ledger row 'pending'  (ON CONFLICT DO NOTHING: a redelivered svix id stays as it was,
//                                 and a concurrent duplicate waits for the first to commit)
//   -> claim a legacy users row (no Clerk id, same verified email)                 => 'pending_claimed'
//   -> upsert users, only while 'pending' and only when data.updated_at is newer   => 'pending_link'
//                                                                   or nothing written => 'pending_stale'
//   -> link or create the mentorado, only while 'pending_link'; set the final outcome; RETURNING it.
//
// Only this transaction can see a 'pending*' row (it is never committed as such), so a delivery
// whose id was already recorded changes nothing and returns no row: that is `duplicate`.
//
// The statements take a set of users (a jsonb array) so the webhook (one user) and the backfill
// (a page of users, one synthetic delivery id each) run the very same SQL.
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

/** The `input` CTE every statement of a user batch starts from: build it once per batch. */
export function usersInput(records: UserRecord[]): SQL {
  return sql`input as (
    select * from jsonb_to_recordset(${JSON.stringify(records)}::jsonb) as x(${INPUT_COLUMNS})
  )`;
}

/** 1. Record the deliveries. An id already in the ledger is left untouched (duplicate). */
export function insertLedger(input: SQL): SQL {
  return sql`with ${input}
    insert into clerk_sync.clerk_webhook_events (svix_id, type, clerk_user_id, outcome, event_timestamp)
    select svix_id, type, clerk_id, 'pending', event_timestamp from input
    on conflict (svix_id) do nothing`;
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
 * 1b. Claim a legacy user: a `users` row from before Clerk (no Clerk id) whose email has the same
 * email_key() as the delivery's VERIFIED primary email, when it is the only such row and this Clerk
 * user has no row yet. Its Clerk id is set and nothing else (the app's own columns are kept);
 * statement 2 then writes Clerk's data into it as into any row, and its profile stays linked. A
 * concurrent claim of the same row waits for the first, re-checks `clerk_id is null` on the row's
 * newest version and finds it set: one row is never claimed twice. An unverified email never
 * claims (anyone can type an address). Two legacy rows with one identity: neither is claimed.
 */
export function claimLegacyUsers(input: SQL): SQL {
  return sql`with ${input},
    candidates as (
      select i.svix_id, i.clerk_id, email_key(i.email) as key
      from input i
      join clerk_sync.clerk_webhook_events e on e.svix_id = i.svix_id and e.outcome = 'pending'
      where i.email_verified and email_key(i.email) <> ''
        and not exists (select 1 from ${U.$} x where x.${U.clerk_id} = i.clerk_id)
    ),
    legacy as (
      select c.svix_id, c.clerk_id, min(u.${U.id}) as id
      from candidates c
      join ${U.$} u on email_key(u.${U.email}) = c.key and u.${U.clerk_id} is null
      group by c.svix_id, c.clerk_id
      having count(*) = 1
    ),
    claimed as (
      update ${U.$} u set ${U.clerk_id} = l.clerk_id
      from legacy l
      where u.${U.id} = l.id and u.${U.clerk_id} is null
      returning l.svix_id
    )
    update clerk_sync.clerk_webhook_events e set outcome = 'pending_claimed'
    where e.svix_id in (select svix_id from claimed) and e.outcome = 'pending'`;
}

/**
 * 2. Upsert users by clerk_id. Order-safe: an existing row is only overwritten by a newer version,
 * ordered by (data.updated_at, versionHash), and never after deletion (deleted_at is terminal; a
 * tombstone blocks a late creation).
 */
export function upsertUsers(input: SQL): SQL {
  return sql`with ${input},
    written as (
      insert into ${U.$} as u (${U.clerk_id}, ${U.email}, ${U.email_verified}, ${U.first_name},
        ${U.last_name}, ${U.username}, ${U.image_url}, ${U.clerk_created_at}, ${U.clerk_updated_at})
      select i.clerk_id, i.email, i.email_verified, i.first_name, i.last_name, i.username,
        i.image_url, i.clerk_created_at, i.clerk_updated_at
      from input i
      join clerk_sync.clerk_webhook_events e on e.svix_id = i.svix_id
        and e.outcome in ('pending', 'pending_claimed')
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
    -- "in (select ...)" rather than a join with the CTE: the planner estimates one row for CTEs
    -- over jsonb_to_recordset and would nest-loop them (quadratic in a backfill page of 500); a
    -- hashed subplan stays linear. A claimed legacy row had no Clerk data: always written.
    update clerk_sync.clerk_webhook_events e
    set outcome = case when e.outcome = 'pending_claimed' then 'pending_claimed'
                       when i.clerk_id in (select clerk_id from written) then 'pending_link'
                       else 'pending_stale' end
    from input i
    where e.svix_id = i.svix_id and e.outcome in ('pending', 'pending_claimed')`;
}

/**
 * 3. Link or create the mentorado of each user just written that has a verified email and no
 * mentorado yet, queue its welcome email once, and settle every delivery's outcome.
 *
 * One upsert does both: a pre-registered profile with the same email and no user is claimed
 * (ON CONFLICT DO UPDATE ... WHERE user_id IS NULL: under a concurrent claim Postgres re-checks
 * that condition on the newest row version, so only one user ever wins); otherwise a new profile
 * is inserted. A profile already linked to someone else is left alone: `conflict`.
 */
export function claimMentorados(input: SQL): SQL {
  return sql`with ${input},
    -- Users just written (or claimed); and, for a stale delivery, the STORED user when an unlinked
    -- profile with its stored email exists (pre-registered after the sign-up was synced): claiming
    -- it uses only newer data, so it is order-safe, and a backfill or resync repairs such profiles.
    eligible as (
      select u.${U.id} as user_id, u.${U.email} as email, i.nome_completo, i.turma
      from input i
      join clerk_sync.clerk_webhook_events e on e.svix_id = i.svix_id
        and e.outcome in ('pending_link', 'pending_stale', 'pending_claimed')
      join ${U.$} u on u.${U.clerk_id} = i.clerk_id
      -- A lateral probe of the unique email_key index, one per stale user. Its gate is inside:
      -- as the join's ON condition it was a filter applied after the probe ran, for every
      -- delivery. Its only other condition is the email key, so that index is the only one that
      -- can answer it. Each of these was measured to cost a scan computing email_key() (NFC
      -- twice) over every unlinked profile: an EXISTS (a hashed subplan: ~20 ms of PostgreSQL
      -- CPU per delivery with a few hundred profiles), "and m.user_id is null" here (the user_id
      -- index walked over every unlinked profile: 5 ms with 800).
      left join lateral (
        select m.${M.user_id} is null as found from ${M.$} m
        where e.outcome = 'pending_stale' and email_key(m.${M.email}) = email_key(u.${U.email})
        limit 1
      ) unlinked on true
      where u.${U.deleted_at} is null and u.${U.email_verified} and email_key(u.${U.email}) <> ''
        and i.nome_completo is not null
        and not exists (select 1 from ${M.$} m where m.${M.user_id} = u.${U.id})
        and (e.outcome <> 'pending_stale' or unlinked.found)
    ),
    -- Two users of one page with the same email: the older account claims, the other is a conflict.
    claimants as (
      select distinct on (email_key(email)) * from eligible order by email_key(email), user_id
    ),
    claimed as (
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
      select 'welcome', id from claimed${WELCOME_GATE}
      on conflict (kind, mentorado_id) do nothing
    ),
    settled as (
      -- Hashed subplans, not joins with the CTEs (see upsertUsers): linear in the page size.
      select i.svix_id,
        case
          when e.outcome = 'pending_claimed' then 'claimed'
          when u.${U.id} in (select user_id from claimed where created) then 'created'
          when u.${U.id} in (select user_id from claimed) then 'linked'
          when e.outcome = 'pending_stale' then 'stale'
          when u.${U.id} in (select user_id from eligible) then 'conflict'
          else 'applied'
        end as outcome
      from input i
      join clerk_sync.clerk_webhook_events e on e.svix_id = i.svix_id
        and e.outcome in ('pending_link', 'pending_stale', 'pending_claimed')
      left join ${U.$} u on u.${U.clerk_id} = i.clerk_id
    )
    update clerk_sync.clerk_webhook_events e set outcome = s.outcome
    from settled s
    where e.svix_id = s.svix_id
    returning e.svix_id, e.outcome`;
}

export interface DeletionRecord {
  svix_id: string;
  clerk_id: string;
  event_timestamp: string | null;
}

/** 1. (deletion) Record the delivery. */
export function insertDeletionLedger(d: DeletionRecord): SQL {
  return sql`insert into clerk_sync.clerk_webhook_events (svix_id, type, clerk_user_id, outcome, event_timestamp)
    values (${d.svix_id}, 'user.deleted', ${d.clerk_id}, 'pending', ${d.event_timestamp}::timestamptz)
    on conflict (svix_id) do nothing`;
}

/**
 * 2. (deletion) Terminal: erase the personal fields, keep the row as a tombstone (created if the
 * deletion arrives first, so a late creation cannot revive it). Settles the outcome, returns it.
 */
export function deleteUser(d: DeletionRecord): SQL {
  return sql`with
    pending as (
      select 1 from clerk_sync.clerk_webhook_events where svix_id = ${d.svix_id} and outcome = 'pending'
    ),
    gone as (
      insert into ${U.$} as u (${U.clerk_id}, ${U.deleted_at})
      select ${d.clerk_id}, now() from pending
      on conflict (${U.clerk_id}) do update set
        ${U.deleted_at} = now(), ${U.email} = null, ${U.email_verified} = null,
        ${U.first_name} = null, ${U.last_name} = null, ${U.username} = null,
        ${U.image_url} = null, ${U.updated_at} = now()${ERASE_ALSO}
      where u.${U.deleted_at} is null
    )
    update clerk_sync.clerk_webhook_events set outcome = 'deleted'
    where svix_id = ${d.svix_id} and outcome = 'pending'
    returning svix_id, outcome`;
}

/**
 * 3. (deletion) Unlink the deleted user's mentorado so the profile survives and can be claimed
 * again. A statement of its own on purpose: it must see a link committed by a concurrent
 * user.created that held the users row while statement 2 waited for it (one statement reads one
 * snapshot, taken before that wait). Harmless when repeated: a deleted user never owns a profile.
 */
export function unlinkDeletedUser(d: DeletionRecord): SQL {
  return sql`update ${M.$} set ${M.user_id} = null, ${M.updated_at} = now()
    where ${M.user_id} = (select ${U.id} from ${U.$}
      where ${U.clerk_id} = ${d.clerk_id} and ${U.deleted_at} is not null)`;
}
