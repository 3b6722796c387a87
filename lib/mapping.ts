// Where the app's tables and columns are: the one mapping every statement of the sync, the shape
// check, /api/me, the emails and the backfill take their names from (docs/adopting.md).
// drizzle/mapping.ts holds it: the service's own names on a database it created, or what
// `npm run db:adopt -- --apply` found in an app's (camelCase "clerkId", or snake_case clerk_id).
// Statement text is built from it once per instance, so a mapping costs nothing per request.
import { type SQL, sql } from "drizzle-orm";

/** The columns of `users` the sync reads or writes, by the service's own name. */
export const USER_COLUMNS = [
  "id",
  "clerk_id",
  "email",
  "email_verified",
  "first_name",
  "last_name",
  "username",
  "image_url",
  "clerk_created_at",
  "clerk_updated_at",
  "deleted_at",
  "updated_at",
] as const;
export type UserColumn = (typeof USER_COLUMNS)[number];

/** The columns of `mentorados` the sync reads or writes, by the service's own name. */
export const MENTORADO_COLUMNS = [
  "id",
  "user_id",
  "nome_completo",
  "email",
  "turma",
  "origem",
  "updated_at",
] as const;
export type MentoradoColumn = (typeof MENTORADO_COLUMNS)[number];

export interface Mapping {
  /**
   * Set by `db:adopt -- --apply`: the tables are the app's, with people from before the sync.
   * Turns on the claim of legacy users (rows without a Clerk id) and keeps welcome emails from
   * profiles that existed before adoption.
   */
  adopted: boolean;
  users: { table: string; columns: Record<UserColumn, string> };
  mentorados: { table: string; columns: Record<MentoradoColumn, string> };
  /**
   * App-owned personal columns of `users` that `user.deleted` erases (sets to NULL) besides the
   * sync's own, e.g. `name` (db:adopt --erase name).
   */
  erase: { users: string[] };
}

/** The service's own names: a database it created from empty. */
export const IDENTITY_MAPPING: Mapping = {
  adopted: false,
  users: {
    table: "users",
    columns: Object.fromEntries(USER_COLUMNS.map((c) => [c, c])) as Record<UserColumn, string>,
  },
  mentorados: {
    table: "mentorados",
    columns: Object.fromEntries(MENTORADO_COLUMNS.map((c) => [c, c])) as Record<
      MentoradoColumn,
      string
    >,
  },
  erase: { users: [] },
};

/** A quoted identifier (each part of a schema-qualified name quoted on its own). */
export function quoteIdent(name: string): string {
  return name
    .split(".")
    .map((part) => `"${part.replaceAll('"', '""')}"`)
    .join(".");
}

/** The table, schema-qualified (`public` when the mapping gives none), for the catalog. */
export function qualified(table: string): string {
  return table.includes(".") ? table : `public.${table}`;
}

export type Names<C extends string> = Record<C, SQL> & {
  /** The table itself, quoted. */
  $: SQL;
};

/** SQL fragments of a table's quoted names, to interpolate in sql`` templates. */
export function namesOf<C extends string>(m: {
  table: string;
  columns: Record<C, string>;
}): Names<C> {
  const cols = Object.fromEntries(
    Object.entries<string>(m.columns).map(([k, v]) => [k, sql.raw(quoteIdent(v))]),
  ) as Record<C, SQL>;
  return { ...cols, $: sql.raw(quoteIdent(m.table)) };
}
