// What db:adopt reads from an app's database: the catalog of `users` and `mentorados` (columns,
// unique indexes, triggers, row-level security), whether email_key() and our schema exist, the
// app's journal's row count, and, once the columns are resolved (plan.ts), counts and ids of
// people: never an email or a name, so the report can be printed and pasted.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import type { Db } from "../../../lib/db.js";
import { quoteIdent } from "../../../lib/mapping.js";

export const APP_TABLES = ["users", "mentorados"] as const;
export type AppTable = (typeof APP_TABLES)[number];

export interface CatalogColumn {
  name: string;
  /** format_type(), e.g. `character varying(320)`. */
  type: string;
  /** pg_type.typcategory: S string, N numeric, B boolean, D date/time, U user-defined (jsonb). */
  category: string;
  notNull: boolean;
  hasDefault: boolean;
  /** Identity or generated: filled by Postgres, never by an INSERT. */
  generated: boolean;
}

export interface UniqueIndex {
  name: string;
  /** What the index is on, as pg_get_indexdef prints it: `email`, `"clerkId"`, `email_key((email)::text)`. */
  on: string;
  /** The plain columns, when the index has no expression. */
  columns: string[] | null;
  partial: boolean;
  constraint: string | null;
}

export interface TableCatalog {
  exists: boolean;
  columns: CatalogColumn[];
  uniques: UniqueIndex[];
  triggers: string[];
  rowSecurity: boolean;
  forceRowSecurity: boolean;
  policies: number;
}

export interface Catalog {
  tables: Record<AppTable, TableCatalog>;
  emailKeyExists: boolean;
  ourSchemaExists: boolean;
  /** Rows of drizzle.__drizzle_migrations (the app's journal), or null when it has none. */
  appJournalRows: number | null;
  /** Names of every relation in public (indexes included), so ours do not collide. */
  publicRelations: string[];
  /** The stored adoption, when this database was adopted already. */
  adoption: StoredAdoption | null;
}

export interface StoredAdoption {
  adoptedAt: string;
  welcomeAfterMentoradoId: number;
  mapping: unknown;
  migration: string;
  inverse: string;
}

const EMAIL_KEY_FILE = fileURLToPath(
  new URL("../../../drizzle/0001_email_key.sql", import.meta.url),
);

/** The first statement of drizzle/0001_email_key.sql: `CREATE FUNCTION email_key(address text) …`. */
export function emailKeyFunctionSql(): string {
  const first = readFileSync(EMAIL_KEY_FILE, "utf8").split("--> statement-breakpoint")[0] ?? "";
  // The comments above the function belong to the file; the statement starts at CREATE.
  return first.slice(first.indexOf("CREATE FUNCTION")).trim().replace(/;$/, "");
}

/**
 * email_key(<expr>) as SQL: the function when the database has it, else its body inlined (the
 * report is read-only, so it cannot create the function to ask it).
 */
export function emailKeyOf(expr: string, functionExists: boolean): string {
  if (functionExists) return `email_key(${expr})`;
  const fn = emailKeyFunctionSql();
  const body = fn
    .slice(fn.indexOf("$$") + 2, fn.lastIndexOf("$$"))
    .trim()
    .replace(/^SELECT\s+/i, "");
  return `(${body.replace(/\baddress\b/g, `(${expr})::text`)})`;
}

export async function readCatalog(db: Db): Promise<Catalog> {
  const r = await db.execute<{ catalog: Catalog }>(sql`select jsonb_build_object(
    'tables', (select jsonb_object_agg(t.name, jsonb_build_object(
      'exists', c.oid is not null,
      'columns', coalesce((select jsonb_agg(jsonb_build_object(
          'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'category', ty.typcategory,
          'notNull', a.attnotnull, 'hasDefault', a.atthasdef,
          'generated', a.attidentity <> '' or a.attgenerated <> '') order by a.attnum)
        from pg_attribute a join pg_type ty on ty.oid = a.atttypid
        where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped), '[]'::jsonb),
      'uniques', coalesce((select jsonb_agg(jsonb_build_object(
          'name', ic.relname,
          'on', regexp_replace(pg_get_indexdef(i.indexrelid), '^.* USING \\w+ \\((.*)\\)( INCLUDE .*)?( WHERE .*)?$', '\\1'),
          'columns', case when i.indexprs is null then (select jsonb_agg(a.attname order by k.n)
              from unnest(i.indkey::int2[]) with ordinality as k(attnum, n)
              join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum) end,
          'partial', i.indpred is not null,
          'constraint', (select conname from pg_constraint where conindid = i.indexrelid and conrelid = c.oid limit 1))
          order by ic.relname)
        from pg_index i join pg_class ic on ic.oid = i.indexrelid
        where i.indrelid = c.oid and i.indisunique), '[]'::jsonb),
      'triggers', coalesce((select jsonb_agg(tg.tgname order by tg.tgname) from pg_trigger tg
        where tg.tgrelid = c.oid and not tg.tgisinternal), '[]'::jsonb),
      'rowSecurity', coalesce(c.relrowsecurity, false),
      'forceRowSecurity', coalesce(c.relforcerowsecurity, false),
      'policies', (select count(*) from pg_policy p where p.polrelid = c.oid)))
      from (values ('users'), ('mentorados')) as t(name)
      left join pg_class c on c.oid = to_regclass('public.' || t.name)),
    'emailKeyExists', to_regprocedure('public.email_key(text)') is not null,
    'ourSchemaExists', exists (select 1 from pg_namespace where nspname = 'clerk_sync'),
    'appJournal', to_regclass('drizzle.__drizzle_migrations') is not null,
    'adoptionTable', to_regclass('clerk_sync.adoption') is not null,
    'publicRelations', coalesce((select jsonb_agg(relname order by relname) from pg_class
      where relnamespace = 'public'::regnamespace), '[]'::jsonb)
  ) as catalog`);
  const raw = r.rows[0]?.catalog as unknown as Catalog & {
    appJournal: boolean;
    adoptionTable: boolean;
  };
  let appJournalRows: number | null = null;
  if (raw.appJournal) {
    const j = await db.execute<{ n: number }>(
      sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
    );
    appJournalRows = Number(j.rows[0]?.n ?? 0);
  }
  let adoption: StoredAdoption | null = null;
  if (raw.adoptionTable) {
    const a = await db.execute<{
      adopted_at: string;
      welcome_after_mentorado_id: number;
      mapping: unknown;
      migration: string;
      inverse: string;
    }>(sql`select adopted_at::text as adopted_at, welcome_after_mentorado_id, mapping, migration, inverse
      from clerk_sync.adoption where id = 1`);
    const row = a.rows[0];
    if (row)
      adoption = {
        adoptedAt: row.adopted_at,
        welcomeAfterMentoradoId: Number(row.welcome_after_mentorado_id),
        mapping: row.mapping,
        migration: row.migration,
        inverse: row.inverse,
      };
  }
  return {
    tables: raw.tables,
    emailKeyExists: raw.emailKeyExists,
    ourSchemaExists: raw.ourSchemaExists,
    appJournalRows,
    publicRelations: raw.publicRelations,
    adoption,
  };
}

/** The app's columns db:adopt's people queries need, by their names in the database (or absent). */
export interface PeopleColumns {
  users: { id?: string; clerkId?: string; email?: string };
  mentorados: { id?: string; userId?: string; email?: string };
}

export interface People {
  users: number;
  /** users rows without a Clerk id (all of them when the table has no Clerk id column yet). */
  legacyUsers: number;
  legacyWithoutEmail: number;
  /** Legacy users sharing one email identity: groups of ids (neither is claimed). */
  legacyIdentityGroups: number[][];
  /** users rows sharing one Clerk id (the unique index cannot be built). */
  clerkIdGroups: number[][];
  /** Legacy users linked to a profile. */
  legacyLinked: number;
  mentorados: number;
  linked: number;
  withoutEmail: number;
  /** Profiles sharing one email identity: groups of ids. */
  emailIdentityGroups: number[][];
  /** A user linked to more than one profile: [user id, ...profile ids]. */
  multiLinked: { userId: number; mentoradoIds: number[] }[];
  maxMentoradoId: number;
}

const q = quoteIdent;

async function one<T>(db: Db, text: string): Promise<T> {
  const r = await db.execute(sql.raw(text));
  return r.rows[0] as T;
}

/** Counts and ids of people, read with the names the plan resolved. Ids and counts only. */
export async function readPeople(
  db: Db,
  cols: PeopleColumns,
  emailKeyExists: boolean,
): Promise<People> {
  const U = cols.users;
  const M = cols.mentorados;
  const ukey = U.email ? emailKeyOf(`u.${q(U.email)}`, emailKeyExists) : null;
  const mkey = M.email ? emailKeyOf(`m.${q(M.email)}`, emailKeyExists) : null;
  const uid = U.id ? q(U.id) : "null";
  const legacy = U.clerkId ? `u.${q(U.clerkId)} is null` : "true";
  const groups = (from: string, id: string, key: string, where: string) =>
    `coalesce((select jsonb_agg(ids order by ids) from (select jsonb_agg(${id} order by ${id}) as ids
      from ${from} where ${where} group by ${key} having count(*) > 1) g), '[]'::jsonb)`;
  const u = await one<{
    users: number;
    legacy: number;
    legacy_without_email: number;
    legacy_groups: number[][];
    clerk_groups: number[][];
  }>(
    db,
    `select count(*)::int as users,
      count(*) filter (where ${legacy})::int as legacy,
      count(*) filter (where ${legacy} and ${U.email ? `u.${q(U.email)} is null` : "true"})::int as legacy_without_email,
      ${ukey && U.id ? groups(`public.users u`, `u.${uid}`, ukey, `${legacy} and u.${q(U.email ?? "")} is not null`) : "'[]'::jsonb"} as legacy_groups,
      ${U.clerkId && U.id ? groups(`public.users u`, `u.${uid}`, `u.${q(U.clerkId)}`, `u.${q(U.clerkId)} is not null`) : "'[]'::jsonb"} as clerk_groups
    from public.users u`,
  );
  const m = await one<{
    mentorados: number;
    linked: number;
    without_email: number;
    max_id: number;
    email_groups: number[][];
    multi: { userId: number; mentoradoIds: number[] }[];
    legacy_linked: number;
  }>(
    db,
    `select count(*)::int as mentorados,
      ${M.userId ? `count(*) filter (where m.${q(M.userId)} is not null)::int` : "0"} as linked,
      ${M.email ? `count(*) filter (where m.${q(M.email)} is null)::int` : "count(*)::int"} as without_email,
      ${M.id ? `coalesce(max(m.${q(M.id)}), 0)::int` : "0"} as max_id,
      ${mkey && M.id && M.email ? groups(`public.mentorados m`, `m.${q(M.id)}`, mkey, `m.${q(M.email)} is not null`) : "'[]'::jsonb"} as email_groups,
      ${
        M.userId && M.id
          ? `coalesce((select jsonb_agg(jsonb_build_object('userId', uid, 'mentoradoIds', ids) order by uid) from (
          select m2.${q(M.userId)} as uid, jsonb_agg(m2.${q(M.id)} order by m2.${q(M.id)}) as ids from public.mentorados m2
          where m2.${q(M.userId)} is not null group by 1 having count(*) > 1) g), '[]'::jsonb)`
          : "'[]'::jsonb"
      } as multi,
      ${
        M.userId && U.id
          ? `(select count(*)::int from public.users u where ${legacy}
          and exists (select 1 from public.mentorados m3 where m3.${q(M.userId)} = u.${uid}))`
          : "0"
      } as legacy_linked
    from public.mentorados m`,
  );
  return {
    users: u.users,
    legacyUsers: u.legacy,
    legacyWithoutEmail: u.legacy_without_email,
    legacyIdentityGroups: u.legacy_groups,
    clerkIdGroups: u.clerk_groups,
    legacyLinked: m.legacy_linked,
    mentorados: m.mentorados,
    linked: m.linked,
    withoutEmail: m.without_email,
    emailIdentityGroups: m.email_groups,
    multiLinked: m.multi,
    maxMentoradoId: m.max_id,
  };
}
