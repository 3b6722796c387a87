// What the sync relies on in the database, checked from the catalog in ONE statement: every
// table, column (with a usable type), function and arbiter index its SQL names, and no column of
// the app's that is NOT NULL without a default while the sync inserts rows without it (every such
// row would fail with 23502). /api/health and the build (both modes) run it; it reads only the
// catalog, so the functions' least-privilege role can ask, and it names objects, never rows.
//
// Types are checked by category (pg_type.typcategory), the way the sync uses them: any string
// type will do for text (varchar(320) included), any date/time type for a timestamp (the app's
// `timestamp` without time zone too), any integer for an id.
import { type SQL, sql } from "drizzle-orm";
import { MAPPING } from "../drizzle/mapping.js";
import { OWN_SCHEMA } from "../drizzle/schema.js";
import { type MentoradoColumn, qualified, type UserColumn } from "./mapping.js";
import { ROUTINES } from "./sync/routines.js";

export type Category = "string" | "boolean" | "datetime" | "integer" | "jsonb";
export const TYPCATEGORY: Record<Category, string> = {
  string: "S",
  boolean: "B",
  datetime: "D",
  integer: "N",
  jsonb: "U",
};

interface RequiredTable {
  /** Schema-qualified, as the catalog names it. */
  table: string;
  /** The column's name in the database -> the type category the sync needs. */
  columns: Record<string, Category>;
}

export const USER_TYPES: Record<UserColumn, Category> = {
  id: "integer",
  clerk_id: "string",
  email: "string",
  email_verified: "boolean",
  first_name: "string",
  last_name: "string",
  username: "string",
  image_url: "string",
  clerk_created_at: "datetime",
  clerk_updated_at: "datetime",
  deleted_at: "datetime",
  updated_at: "datetime",
};
export const MENTORADO_TYPES: Record<MentoradoColumn, Category> = {
  id: "integer",
  user_id: "integer",
  nome_completo: "string",
  email: "string",
  turma: "string",
  origem: "string",
  updated_at: "datetime",
};

/** The app's columns under their names in the database (drizzle/mapping.ts). */
function mapped<C extends string>(
  columns: Record<C, string>,
  types: Record<C, Category>,
): Record<string, Category> {
  return Object.fromEntries(
    (Object.keys(types) as C[]).map((c) => [columns[c], types[c]]),
  ) as Record<string, Category>;
}

/** Tables and the columns of each that the sync, /api/me, the backfill and the emails read or write. */
export const REQUIRED_TABLES: readonly RequiredTable[] = [
  {
    table: qualified(MAPPING.users.table),
    columns: mapped(MAPPING.users.columns, USER_TYPES),
  },
  {
    table: qualified(MAPPING.mentorados.table),
    columns: mapped(MAPPING.mentorados.columns, MENTORADO_TYPES),
  },
  {
    table: `${OWN_SCHEMA}.clerk_webhook_events`,
    columns: {
      svix_id: "string",
      type: "string",
      clerk_user_id: "string",
      outcome: "string",
      event_timestamp: "datetime",
    },
  },
  {
    table: `${OWN_SCHEMA}.email_outbox`,
    columns: {
      id: "integer",
      kind: "string",
      mentorado_id: "integer",
      status: "string",
      attempts: "integer",
      next_attempt_at: "datetime",
      locked_until: "datetime",
      last_error: "string",
      provider_message_id: "string",
      sent_at: "datetime",
      updated_at: "datetime",
    },
  },
  {
    table: `${OWN_SCHEMA}.sync_runs`,
    columns: {
      id: "integer",
      kind: "string",
      status: "string",
      options: "jsonb",
      next_offset: "integer",
      next_cursor: "string",
      pages: "integer",
      users_seen: "integer",
      counts: "jsonb",
      last_error: "string",
      updated_at: "datetime",
      finished_at: "datetime",
    },
  },
  {
    table: `${OWN_SCHEMA}.adoption`,
    columns: { id: "integer", welcome_after_mentorado_id: "integer" },
  },
];

/**
 * The functions the sync's SQL calls, as regprocedure signatures: email_key() and this version's
 * routines (lib/sync/routines.ts), which `npm run db:migrate` creates.
 */
export const REQUIRED_FUNCTIONS: readonly string[] = [
  "public.email_key(text)",
  ...ROUTINES.map((r) => r.signature),
];

/** shapeProblems()' words for this version's routines when they are missing. */
const MISSING_ROUTINES = new Set(ROUTINES.map((r) => `function ${r.signature} (missing)`));

/**
 * Whether a problem of shapeProblems() is one of this version's routines missing: the code was
 * deployed where no migration ran with it (`npm run db:migrate` creates them).
 */
export function isMissingRoutine(problem: unknown): boolean {
  return typeof problem === "string" && MISSING_ROUTINES.has(problem);
}

/**
 * The ON CONFLICT arbiters: a unique, non-partial index on exactly these columns (or this
 * expression), or Postgres answers 42P10. An expression is matched as pg_get_expr renders it,
 * with or without the schema and a cast of the column (a varchar email is `(email)::text`).
 */
export const REQUIRED_ARBITERS: readonly { table: string; on: string; pattern: string }[] = [
  {
    table: qualified(MAPPING.users.table),
    on: MAPPING.users.columns.clerk_id,
    pattern: `^${identPattern(MAPPING.users.columns.clerk_id)}$`,
  },
  {
    table: qualified(MAPPING.mentorados.table),
    on: `email_key(${MAPPING.mentorados.columns.email})`,
    pattern: `^(public\\.)?email_key\\(\\(?${identPattern(MAPPING.mentorados.columns.email)}\\)?(::text)?\\)$`,
  },
  { table: `${OWN_SCHEMA}.clerk_webhook_events`, on: "svix_id", pattern: "^svix_id$" },
  {
    table: `${OWN_SCHEMA}.email_outbox`,
    on: "kind, mentorado_id",
    pattern: "^kind, mentorado_id$",
  },
];

/** A column name as pg_get_indexdef may print it: bare, or quoted (camelCase "clerkId"). */
function identPattern(name: string): string {
  return `"?${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"?`;
}

/** Columns the sync's INSERTs fill (or leave to their default), per app table. */
const U = MAPPING.users.columns;
const M = MAPPING.mentorados.columns;
const INSERTED: Record<string, readonly string[]> = {
  [qualified(MAPPING.users.table)]: [
    U.clerk_id,
    U.email,
    U.email_verified,
    U.first_name,
    U.last_name,
    U.username,
    U.image_url,
    U.clerk_created_at,
    U.clerk_updated_at,
    U.deleted_at,
  ],
  [qualified(MAPPING.mentorados.table)]: [M.user_id, M.nome_completo, M.email, M.turma, M.origem],
};

const values = (rows: string[][]): SQL =>
  sql.join(
    rows.map(
      (r) =>
        sql`(${sql.join(
          r.map((v) => sql`${v}`),
          sql`, `,
        )})`,
    ),
    sql`, `,
  );

/**
 * One select of a jsonb array naming each missing or unusable object (empty: the shape is right),
 * e.g. "column public.users.clerk_id (missing)". Built once per instance: its text never changes.
 */
export function shapeProblems(): SQL {
  const columns = REQUIRED_TABLES.flatMap((t) =>
    Object.entries(t.columns).map(([c, cat]) => [t.table, c, TYPCATEGORY[cat], cat]),
  );
  const inserted = Object.entries(INSERTED).map(([t, cols]) => [t, `{${cols.join(",")}}`]);
  return sql`(select coalesce(jsonb_agg(problem order by problem), '[]'::jsonb) from (
    select 'table ' || t.name || ' (missing)' as problem
    from (values ${values(REQUIRED_TABLES.map((t) => [t.table]))}) as t(name)
    where to_regclass(t.name) is null
    union all
    select 'column ' || c.tbl || '.' || c.col || case when a.attname is null then ' (missing)'
      else ' (type ' || format_type(a.atttypid, a.atttypmod) || ', needs ' || c.needs || ')' end
    from (values ${values(columns)}) as c(tbl, col, cat, needs)
    left join pg_attribute a on a.attrelid = to_regclass(c.tbl) and a.attname = c.col
      and a.attnum > 0 and not a.attisdropped
    left join pg_type ty on ty.oid = a.atttypid
    where to_regclass(c.tbl) is not null
      and (a.attname is null or ty.typcategory is distinct from c.cat)
    union all
    select 'function ' || f.sig || ' (missing)'
    from (values ${values(REQUIRED_FUNCTIONS.map((f) => [f]))}) as f(sig)
    where to_regprocedure(f.sig) is null
    union all
    select 'unique index on ' || x.tbl || ' (' || x.cols || ') (missing)'
    from (values ${values(REQUIRED_ARBITERS.map((x) => [x.table, x.on, x.pattern]))}) as x(tbl, cols, pattern)
    where to_regclass(x.tbl) is not null and not exists (
      select 1 from pg_index i
      where i.indrelid = to_regclass(x.tbl) and i.indisunique and i.indisvalid and i.indpred is null
        and regexp_replace(pg_get_indexdef(i.indexrelid), '^.* USING \\w+ \\((.*)\\)( INCLUDE .*)?$', '\\1')
          ~ x.pattern)
    union all
    select 'column ' || n.tbl || '.' || a.attname || ' (NOT NULL without a default; the sync does not fill it)'
    from (values ${values(inserted)}) as n(tbl, cols)
    join pg_attribute a on a.attrelid = to_regclass(n.tbl) and a.attnum > 0 and not a.attisdropped
    where a.attnotnull and not a.atthasdef and a.attidentity = '' and a.attgenerated = ''
      and a.attname <> all (n.cols::text[])
  ) as problems)`;
}
