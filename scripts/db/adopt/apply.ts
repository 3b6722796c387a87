// What db:adopt does with a plan: read it from the database (inspect), --apply it (our migrations,
// then the additive migration, the adoption row and our journal row in ONE transaction, then the
// mapping file), or --undo (print the stored inverse). Exported for the tests and the CLI alike.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../../../lib/db.js";
import { type Mapping, MENTORADO_COLUMNS, USER_COLUMNS } from "../../../lib/mapping.js";
import { migrate } from "../migrate.js";
import type { AdoptOptions } from "./args.js";
import { readCatalog, readPeople } from "./introspect.js";
import {
  buildPlan,
  type Plan,
  peopleColumns,
  resolveTable,
  sqlScript,
  sqlStatements,
} from "./plan.js";

export const DEFAULT_MAPPING_FILE = fileURLToPath(
  new URL("../../../drizzle/mapping.ts", import.meta.url),
);
const MAPPING_MODULE = fileURLToPath(new URL("../../../lib/mapping.js", import.meta.url));
const LOCK_KEY = 7_243_114_021; // arbitrary, constant: "clerk-neon-sync db:adopt"

type PlanOptions = Pick<AdoptOptions, "overrides" | "erase" | "welcomeExisting">;

/** Read-only: the catalog, then counts and ids of people under the resolved names. */
export async function inspect(db: Db, options: PlanOptions): Promise<Plan> {
  const catalog = await readCatalog(db);
  const users = resolveTable("users", catalog.tables.users, options.overrides.users);
  const mentorados = resolveTable(
    "mentorados",
    catalog.tables.mentorados,
    options.overrides.mentorados,
  );
  const people =
    catalog.tables.users.exists && catalog.tables.mentorados.exists
      ? await readPeople(db, peopleColumns(users, mentorados), catalog.emailKeyExists)
      : null;
  const plan = buildPlan(catalog, users, mentorados, people, options);
  if (catalog.adoption) {
    // After --apply the catalog finds what the adoption added: the stored mapping and SQL are the
    // adoption's, and what --apply would write again.
    const stored = catalog.adoption;
    return {
      ...plan,
      mapping: storedMapping(stored.mapping),
      migration: [],
      inverse: sqlStatements(stored.inverse),
      alreadyAdopted: { adoptedAt: stored.adoptedAt },
    };
  }
  return plan;
}

const names = <C extends string>(cols: readonly C[]) =>
  z.object(Object.fromEntries(cols.map((c) => [c, z.string().min(1)])) as Record<C, z.ZodString>);
/** The mapping clerk_sync.adoption holds, checked: it is what the mapping file is written from. */
const MappingSchema = z.object({
  adopted: z.boolean(),
  users: z.object({ table: z.string().min(1), columns: names(USER_COLUMNS) }),
  mentorados: z.object({ table: z.string().min(1), columns: names(MENTORADO_COLUMNS) }),
  erase: z.object({ users: z.array(z.string().min(1)) }),
});
function storedMapping(value: unknown): Mapping {
  return MappingSchema.parse(value) as Mapping;
}

export type ApplyResult =
  | { kind: "blocked"; plan: Plan }
  | { kind: "already"; plan: Plan; mappingFile: string }
  | {
      kind: "applied";
      plan: Plan;
      mappingFile: string;
      migrations: string[];
      welcomeAfter: number;
      /** The sync's routines created for the new mapping (empty when it was written elsewhere). */
      routines: string[];
    };

export async function apply(
  db: Db,
  options: PlanOptions & { mappingFile?: string | undefined },
): Promise<ApplyResult> {
  const file = options.mappingFile ?? DEFAULT_MAPPING_FILE;
  const plan = await inspect(db, options);
  if (plan.alreadyAdopted) {
    writeMappingFile(file, plan.mapping);
    return { kind: "already", plan, mappingFile: file };
  }
  if (plan.blockers.length > 0 || plan.argumentProblems.length > 0)
    return { kind: "blocked", plan };
  // (1) Our schema and its migrations (on an app's database: only clerk_sync's objects).
  const migrated = await migrate(db);
  // (2) The adoption, in one transaction.
  const migration = sqlScript(plan.migration);
  const inverse = sqlScript(plan.inverse);
  const hash = createHash("sha256").update(migration).digest("hex");
  const welcomeAfter = options.welcomeExisting
    ? sql`0`
    : sql`(select coalesce(max(${sql.raw(`"${plan.mapping.mentorados.columns.id.replaceAll('"', '""')}"`)}), 0) from "public"."mentorados")`;
  const statements = [
    sql`select pg_advisory_xact_lock(${LOCK_KEY})`,
    ...plan.migration.map((s) => sql.raw(s)),
    sql`insert into clerk_sync.adoption (id, welcome_after_mentorado_id, mapping, migration, inverse)
      values (1, ${welcomeAfter}, ${JSON.stringify(plan.mapping)}::jsonb, ${migration}, ${inverse})`,
    sql`insert into clerk_sync.__drizzle_migrations (hash, created_at, tag, origin)
      values (${hash}, null, 'adopt', 'db:adopt')`,
  ];
  try {
    const [first, ...rest] = statements.map((s) => db.execute(s));
    if (first) await db.batch([first, ...rest]);
  } catch (err) {
    // Nothing of the adoption was written. If our schema was created just now (step 1), take it
    // away again, unless someone else's adoption committed meanwhile: the next run starts from
    // the same database, and its inverse still drops the schema.
    if (plan.createsOurSchema)
      await db
        .execute(
          sql.raw(`do $$ begin
            if not exists (select 1 from clerk_sync.adoption) then drop schema clerk_sync cascade; end if;
          end $$`),
        )
        .catch(() => undefined);
    throw err;
  }
  const row = await db.execute<{ n: number }>(
    sql`select welcome_after_mentorado_id as n from clerk_sync.adoption where id = 1`,
  );
  // Fresh statistics for the tables the sync's routines will plan against once per connection:
  // the new columns (all legacy rows' Clerk ids are null) and indexes have none yet, and a plan
  // made on none may walk every legacy row for the claim. Only an optimisation: the adoption has
  // committed, so a refusal (not the owner) changes nothing of it.
  await db.execute(sql`analyze "public"."users", "public"."mentorados"`).catch(() => undefined);
  writeMappingFile(file, plan.mapping);
  return {
    kind: "applied",
    plan,
    mappingFile: file,
    migrations: migrated.applied,
    welcomeAfter: Number(row.rows[0]?.n ?? 0),
    routines: resolve(file) === DEFAULT_MAPPING_FILE ? routinesForWrittenMapping() : [],
  };
}

const MIGRATE_SCRIPT = fileURLToPath(new URL("../migrate.ts", import.meta.url));

/**
 * The sync's routines are built from drizzle/mapping.ts (lib/sync/routines.ts), which this process
 * loaded before the adoption rewrote it: a new process, with the same environment, creates the
 * ones for the mapping just written (`npm run db:migrate -- --routines-only`).
 */
function routinesForWrittenMapping(): string[] {
  const out = execFileSync(
    process.execPath,
    ["--import", "tsx", MIGRATE_SCRIPT, "--routines-only"],
    {
      env: process.env,
      encoding: "utf8",
    },
  );
  const last = out.trim().split("\n").at(-1) ?? "{}";
  return z.object({ routines: z.array(z.string()) }).parse(JSON.parse(last)).routines;
}

/** The stored inverse, or null when this database was not adopted. Reads only. */
export async function storedInverse(db: Db): Promise<string | null> {
  const catalog = await readCatalog(db);
  return catalog.adoption?.inverse ?? null;
}

/** What running the inverse loses, as SQL comment lines (the printed script stays runnable). */
export function undoWarning(inverse: string): string {
  const lines = [
    "WARNING: this undoes the adoption. Run it as the database owner, in one transaction",
    '(psql --single-transaction -f undo.sql "$DATABASE_URL"), before going live if you can.',
  ];
  if (/DROP COLUMN/.test(inverse))
    lines.push(
      "It drops the columns the adoption added, with what the sync wrote into them since:",
      "the Clerk ids of claimed legacy users and of every user the sync created, their Clerk",
      "names and dates. Rows the sync inserted into users and mentorados stay, without them.",
    );
  if (/DROP SCHEMA clerk_sync/.test(inverse))
    lines.push(
      "It drops the schema clerk_sync: the ledger of deliveries, the welcome-email outbox,",
      "the backfill checkpoints and our migration journal.",
    );
  else lines.push("It removes the adoption row and our journal's 'adopt' row; clerk_sync stays.");
  lines.push("Then restore drizzle/mapping.ts (git checkout) and deploy without the adoption.");
  return lines.map((l) => `-- ${l}`).join("\n");
}

/** drizzle/mapping.ts as db:adopt writes it: formatted as Biome formats it, so lint passes. */
export function mappingModule(mapping: Mapping, file: string): string {
  let from = relative(dirname(file), MAPPING_MODULE).replaceAll("\\", "/");
  if (!from.startsWith(".")) from = `./${from}`;
  // In lib/mapping.ts's order, whatever order the stored jsonb gives back.
  const cols = (c: Record<string, string>, order: readonly string[]) =>
    order.map((k) => `      ${k}: ${JSON.stringify(c[k])},`).join("\n");
  const erase = mapping.erase.users.map((c) => JSON.stringify(c)).join(", ");
  return `// Written by \`npm run db:adopt -- --apply\`: the names of the app's tables and columns in the
// database it adopted (lib/mapping.ts). Commit this file: the build, every function, the backfill
// and resync take their SQL names from it. To go back: run the SQL \`npm run db:adopt -- --undo\`
// prints, then restore the previous version of this file (docs/adopting.md).
import type { Mapping } from "${from}";

export const MAPPING: Mapping = {
  adopted: ${mapping.adopted},
  users: {
    table: ${JSON.stringify(mapping.users.table)},
    columns: {
${cols(mapping.users.columns, USER_COLUMNS)}
    },
  },
  mentorados: {
    table: ${JSON.stringify(mapping.mentorados.table)},
    columns: {
${cols(mapping.mentorados.columns, MENTORADO_COLUMNS)}
    },
  },
  erase: { users: [${erase}] },
};
`;
}

export function writeMappingFile(file: string, mapping: Mapping): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, mappingModule(mapping, file));
}
