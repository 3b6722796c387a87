// Every object of a schema, one line each, for "the schema is exactly as it was": relations,
// columns (type, NOT NULL, default), constraints, indexes, functions; with `triggers`, also every
// trigger (Postgres's internal ones of a foreign key too) and whether our schema clerk_sync exists.
import { sql } from "drizzle-orm";
import { getDb } from "../../lib/db.js";

export async function schemaObjects(
  schema = "public",
  opts: { triggers?: boolean } = { triggers: true },
): Promise<string[]> {
  const extra = opts.triggers
    ? `union all
    select 'trg ' || c.relname || ' ' || t.tgname from pg_trigger t join pg_class c on c.oid = t.tgrelid
      where c.relnamespace = '${schema}'::regnamespace
    union all
    select 'nsp ' || nspname from pg_namespace where nspname = 'clerk_sync'`
    : "";
  const r = await getDb().execute<{ o: string }>(
    sql.raw(`select o from (
    select 'rel ' || c.relname || ' ' || c.relkind::text as o from pg_class c
      where c.relnamespace = '${schema}'::regnamespace
    union all
    select 'col ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
        || case when a.attnotnull then ' not null' else '' end
        || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
      from pg_attribute a join pg_class c on c.oid = a.attrelid
      left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where c.relnamespace = '${schema}'::regnamespace and a.attnum > 0 and not a.attisdropped
    union all
    select 'con ' || conname || ' ' || pg_get_constraintdef(oid) from pg_constraint
      where connamespace = '${schema}'::regnamespace
    union all
    select 'idx ' || pg_get_indexdef(i.indexrelid) from pg_index i
      join pg_class c on c.oid = i.indrelid where c.relnamespace = '${schema}'::regnamespace
    union all
    select 'fn ' || p.oid::regprocedure::text from pg_proc p
      where p.pronamespace = '${schema}'::regnamespace
    ${extra}
  ) s order by o`),
  );
  return r.rows.map((x) => x.o);
}
