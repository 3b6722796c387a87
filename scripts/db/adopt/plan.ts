// From what introspect.ts read to what db:adopt reports and would do: each sync column found
// (under which name), missing (added, in the table's naming) or incompatible; the blockers, each
// with what a person must do; the facts; the mapping; and the one additive migration with its
// exact inverse. Pure: no database access, so every rule is testable on a real catalog read once.
import {
  type Mapping,
  MENTORADO_COLUMNS,
  type MentoradoColumn,
  quoteIdent,
  USER_COLUMNS,
} from "../../../lib/mapping.js";
import {
  type Category,
  MENTORADO_TYPES,
  TYPCATEGORY,
  USER_TYPES,
} from "../../../lib/schema-shape.js";
import type { AdoptOptions } from "./args.js";
import {
  type AppTable,
  type Catalog,
  type CatalogColumn,
  emailKeyFunctionSql,
  type People,
  type PeopleColumns,
  type TableCatalog,
} from "./introspect.js";

export type Naming = "snake_case" | "camelCase";

export type ColumnStatus =
  | { ours: string; status: "found"; name: string; type: string; via: Naming | "--column" }
  | { ours: string; status: "missing"; name: string; via: Naming | "--column"; addType: string }
  | { ours: string; status: "incompatible"; name: string; type: string; needs: Category }
  | { ours: string; status: "ambiguous"; names: [string, string] }
  | { ours: string; status: "unaddable"; name: string };

export interface TableResolution {
  table: AppTable;
  exists: boolean;
  naming: Naming;
  columns: ColumnStatus[];
}

export interface Blocker {
  problem: string;
  fix: string;
}

export interface Plan {
  tables: Record<AppTable, TableResolution>;
  blockers: Blocker[];
  /** Lines of facts, for the operator; ids and counts, never an email or a name. */
  facts: string[];
  warnings: string[];
  erase: { erased: string[]; notErased: string[]; profileKept: string[] };
  mapping: Mapping;
  /** The additive migration, one statement each (empty: nothing of the app's changes). */
  migration: string[];
  /** Its exact inverse, in order. */
  inverse: string[];
  /** Our schema does not exist yet: --apply creates it (migrations), the inverse drops it. */
  createsOurSchema: boolean;
  alreadyAdopted: { adoptedAt: string } | null;
  /** --column / --erase naming something this database does not allow: exit 2. */
  argumentProblems: string[];
}

const TYPES: Record<AppTable, Record<string, Category>> = {
  users: USER_TYPES,
  mentorados: MENTORADO_TYPES,
};
const OURS: Record<AppTable, readonly string[]> = {
  users: USER_COLUMNS,
  mentorados: MENTORADO_COLUMNS,
};

/** The type db:adopt adds a missing column with: nullable, or a constant default (no rewrite). */
function addType(table: AppTable, ours: string, names: (c: string) => string): string | null {
  if (ours === "id") return null;
  if (table === "mentorados" && ours === "user_id")
    return `integer REFERENCES "public"."users" (${quoteIdent(names("id"))}) ON DELETE SET NULL`;
  if (table === "mentorados" && ours === "origem") return `text DEFAULT 'pre_registered'`;
  // now() is evaluated once by ADD COLUMN (it is not volatile): existing rows are not rewritten.
  if (ours === "updated_at") return "timestamp with time zone DEFAULT now()";
  const cat = TYPES[table][ours];
  return cat === "boolean" ? "boolean" : cat === "datetime" ? "timestamp with time zone" : "text";
}

export const camel = (snake: string): string =>
  snake.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const isMultiWord = (ours: string) => ours.includes("_");

/** camelCase when the table's recognised multi-word columns (else all of its columns) are. */
function namingOf(t: TableCatalog, recognised: { ours: string; name: string }[]): Naming {
  const multi = recognised.filter((r) => isMultiWord(r.ours));
  const sample = multi.length > 0 ? multi.map((r) => r.name) : t.columns.map((c) => c.name);
  const camels = sample.filter((n) => /[a-z][A-Z]/.test(n)).length;
  const snakes = sample.filter((n) => n.includes("_")).length;
  return camels > snakes ? "camelCase" : "snake_case";
}

export function resolveTable(
  table: AppTable,
  t: TableCatalog,
  overrides: Partial<Record<string, string>>,
): TableResolution {
  const byName = new Map(t.columns.map((c) => [c.name, c]));
  const seen: { ours: string; name: string; col?: CatalogColumn; via: Naming | "--column" }[] = [];
  const ambiguous: ColumnStatus[] = [];
  for (const ours of OURS[table]) {
    const explicit = overrides[ours];
    if (explicit) {
      seen.push({ ours, name: explicit, col: byName.get(explicit), via: "--column" });
      continue;
    }
    const snake = byName.get(ours);
    const cam = isMultiWord(ours) ? byName.get(camel(ours)) : undefined;
    if (snake && cam) ambiguous.push({ ours, status: "ambiguous", names: [snake.name, cam.name] });
    else if (snake) seen.push({ ours, name: ours, col: snake, via: "snake_case" });
    else if (cam) seen.push({ ours, name: cam.name, col: cam, via: "camelCase" });
    else seen.push({ ours, name: "", via: "snake_case" });
  }
  const naming = namingOf(
    t,
    seen.filter((s) => s.col && s.via !== "--column"),
  );
  const nameOf = (ours: string) =>
    seen.find((s) => s.ours === ours)?.name || (naming === "camelCase" ? camel(ours) : ours);
  const columns: ColumnStatus[] = OURS[table].map((ours) => {
    const amb = ambiguous.find((a) => a.ours === ours);
    if (amb) return amb;
    const s = seen.find((x) => x.ours === ours);
    const name = nameOf(ours);
    const via: Naming | "--column" = s?.via === "--column" ? "--column" : naming;
    if (!s?.col) {
      const type = addType(table, ours, nameOf);
      return type
        ? { ours, status: "missing", name, via, addType: type }
        : { ours, status: "unaddable", name };
    }
    const needs = TYPES[table][ours] as Category;
    if (s.col.category !== TYPCATEGORY[needs])
      return { ours, status: "incompatible", name, type: s.col.type, needs };
    return { ours, status: "found", name, type: s.col.type, via: s.via };
  });
  return { table, exists: t.exists, naming, columns };
}

/** The app's names of one table's sync columns (found or to be added). */
export function namesIn(r: TableResolution): Record<string, string> {
  return Object.fromEntries(
    r.columns.map((c) => [c.ours, c.status === "ambiguous" ? c.names[0] : c.name]),
  );
}

/** Which columns readPeople may query: only those that exist under a usable type. */
export function peopleColumns(u: TableResolution, m: TableResolution): PeopleColumns {
  const ok = (r: TableResolution, ours: string) => {
    const c = r.columns.find((x) => x.ours === ours);
    return c && r.exists && c.status === "found" ? c.name : undefined;
  };
  return {
    users: { id: ok(u, "id"), clerkId: ok(u, "clerk_id"), email: ok(u, "email") },
    mentorados: { id: ok(m, "id"), userId: ok(m, "user_id"), email: ok(m, "email") },
  };
}

/** Columns the sync's users INSERT fills; every other NOT NULL column needs a default. */
const USERS_FILLED = USER_COLUMNS.filter((c) => c !== "id" && c !== "updated_at");
const MENTORADOS_FILLED: readonly MentoradoColumn[] = [
  "user_id",
  "nome_completo",
  "email",
  "turma",
  "origem",
];
/**
 * Columns the sync writes NULL into: user.deleted erases them (and its tombstone row, inserted when
 * the deletion arrives first, has only the Clerk id); the deletion unlinks the profile.
 */
const USERS_NULLED = USERS_FILLED.filter((c) => c !== "clerk_id");
/** Personal-looking names of app columns, for "what user.deleted will not erase". */
const PERSONAL =
  /name|nome|mail|phone|fone|celular|whatsapp|cpf|document|address|endereco|cep|birth|nascimento|avatar|photo|foto|image|imagem|cidade|city/i;

const list = (ids: number[]) => ids.join(", ");

function uniqueIndex(name: string, used: Set<string>): string {
  let n = name;
  for (let i = 2; used.has(n); i++) n = `${name}_${i}`;
  used.add(n);
  return n;
}

export function buildPlan(
  catalog: Catalog,
  users: TableResolution,
  mentorados: TableResolution,
  people: People | null,
  options: Pick<AdoptOptions, "erase" | "welcomeExisting">,
): Plan {
  const blockers: Blocker[] = [];
  const facts: string[] = [];
  const warnings: string[] = [];
  const argumentProblems: string[] = [];
  const tables = { users, mentorados };
  const U = namesIn(users);
  const M = namesIn(mentorados);

  for (const r of [users, mentorados]) {
    if (!r.exists) {
      blockers.push({
        problem: `table public.${r.table} does not exist`,
        fix: "db:adopt adopts an app's existing users and mentorados; a database without them needs no adoption: run npm run db:migrate (it creates them)",
      });
      continue;
    }
    for (const c of r.columns) {
      if (c.status === "incompatible")
        blockers.push({
          problem: `column ${r.table}.${c.name} (the sync's ${c.ours}) is ${c.type}; the sync needs a ${c.needs} type`,
          fix: `retype it in the app's own schema and migrations, or name another column: --column ${r.table}.${c.ours}=<column> (db:adopt never retypes app columns)`,
        });
      else if (c.status === "ambiguous")
        blockers.push({
          problem: `${r.table} has both ${c.names[0]} and ${c.names[1]} for the sync's ${c.ours}`,
          fix: `say which one the sync uses: --column ${r.table}.${c.ours}=<one of them>`,
        });
      else if (c.status === "unaddable")
        blockers.push({
          problem: `${r.table} has no ${c.ours} column (looked for ${c.ours} and ${camel(c.ours)})`,
          fix: `name the table's integer primary key: --column ${r.table}.${c.ours}=<column> (db:adopt cannot add a primary key without rewriting the table)`,
        });
    }
  }
  const colsOf = (t: AppTable) => catalog.tables[t].columns;

  // --erase: a column of users that exists, is not the sync's own, and can be NULL.
  const syncUserNames = new Set(Object.values(U));
  for (const e of options.erase) {
    const col = colsOf("users").find((c) => c.name === e);
    if (!col) argumentProblems.push(`--erase users.${e}: users has no column ${e}`);
    else if (syncUserNames.has(e))
      argumentProblems.push(
        `--erase users.${e}: ${e} is one of the sync's own columns, erased already`,
      );
    else if (col.notNull)
      blockers.push({
        problem: `column users.${e} (--erase) is NOT NULL: user.deleted cannot erase it`,
        fix: `make it nullable in the app's migration (alter table users alter column "${e}" drop not null), or do not erase it`,
      });
  }

  // NOT NULL columns the sync leaves out of its INSERTs, or writes NULL into.
  const notNullRules: [AppTable, readonly string[], readonly string[], Record<string, string>][] = [
    ["users", USERS_FILLED, USERS_NULLED, U],
    ["mentorados", MENTORADOS_FILLED, ["user_id"], M],
  ];
  for (const [t, filled, nulled, names] of notNullRules) {
    if (!catalog.tables[t].exists) continue;
    const filledNames = new Set(filled.map((c) => names[c]));
    const nulledNames = new Map(nulled.map((c) => [names[c], c]));
    for (const c of colsOf(t)) {
      if (!c.notNull || c.generated) continue;
      if (nulledNames.has(c.name))
        blockers.push({
          problem: `column ${t}.${c.name} is NOT NULL; the sync writes NULL into it (${t === "users" ? "user.deleted erases it; a deletion that arrives first leaves a row with only the Clerk id" : "user.deleted unlinks the profile"})`,
          fix: `make it nullable in the app's own migration: alter table ${t} alter column ${quoteIdent(c.name)} drop not null`,
        });
      else if (!c.hasDefault && !filledNames.has(c.name) && c.name !== names.id)
        blockers.push({
          problem: `column ${t}.${c.name} is NOT NULL without a default; the sync does not fill it (every row it inserts would fail)`,
          fix: `give it a default in the app's own migration (alter table ${t} alter column ${quoteIdent(c.name)} set default …) or make it nullable`,
        });
    }
  }

  // Unique indexes and constraints: only those the sync's writes cannot break.
  const emailKeyOn = new RegExp(
    `^(public\\.)?email_key\\(\\(?"?${escapeRegex(M.email ?? "email")}"?\\)?(::text)?\\)$`,
  );
  const allowed: Record<AppTable, (u: TableCatalog["uniques"][number]) => boolean> = {
    users: (u) => !u.partial && one(u.columns, [U.id, U.clerk_id]),
    mentorados: (u) =>
      (!u.partial && one(u.columns, [M.id, M.user_id, M.email])) ||
      (!u.partial && emailKeyOn.test(u.on)),
  };
  for (const t of ["users", "mentorados"] as const) {
    for (const u of catalog.tables[t].uniques) {
      if (allowed[t](u)) continue;
      const what = u.constraint ? `constraint ${u.constraint}` : `index ${u.name}`;
      blockers.push({
        problem: `unique ${what} on ${t} (${u.on})${u.partial ? " (partial)" : ""} would make syncs fail: ${
          t === "users"
            ? "the sync writes one users row per Clerk user, whatever else shares its values"
            : "the sync's one email identity is email_key(email), and it links profiles by user id"
        }`,
        fix: `drop it in the app's own migration (${u.constraint ? `alter table ${t} drop constraint ${quoteIdent(u.constraint)}` : `drop index ${quoteIdent(u.name)}`}); ${
          t === "users"
            ? "mentorados keeps one profile per email identity"
            : "db:adopt adds the unique index on email_key(email)"
        }`,
      });
    }
  }

  if (people) {
    for (const g of people.emailIdentityGroups)
      blockers.push({
        problem: `mentorados ${list(g)} share one email identity (email_key(): case and surrounding spaces ignored)`,
        fix: `resolve the group by hand in the app: correct the email of all but one, e.g. update mentorados set email = '<their real address>' where id = ${g.at(-1)} (or merge the profiles); then run db:adopt again`,
      });
    for (const x of people.multiLinked)
      blockers.push({
        problem: `users ${x.userId} is linked to more than one profile: mentorados ${list(x.mentoradoIds)}`,
        fix: `keep one link: update mentorados set ${quoteIdent(M.user_id ?? "user_id")} = null where id in (${list(x.mentoradoIds.slice(1))})`,
      });
    for (const g of people.clerkIdGroups)
      blockers.push({
        problem: `users ${list(g)} share one Clerk id (the unique index on it cannot be built)`,
        fix: "keep the Clerk id on one row only (set the others' to null: they become legacy users)",
      });
  }

  // ---- facts
  if (people) {
    const added = users.columns.find((c) => c.ours === "clerk_id")?.status === "missing";
    facts.push(
      `legacy users (no Clerk id): ${people.legacyUsers} of ${people.users}${added ? " (the Clerk id column is added: all of them)" : ""}; ` +
        `${people.legacyLinked} linked to a profile, ${people.legacyWithoutEmail} without an email (never claimed). ` +
        "A sign-up whose verified primary email has the same email_key() claims such a row when it is the only one " +
        "(its Clerk id is set, its app columns kept, its profile stays linked)",
    );
    for (const g of people.legacyIdentityGroups)
      warnings.push(
        `legacy users ${list(g)} share one email identity: a sign-up with it claims neither (it gets a users row of its own); merge them in the app if they are one person`,
      );
    facts.push(
      `profiles: ${people.mentorados}; ${people.linked} linked to a user, ${people.mentorados - people.linked} not linked, ${people.withoutEmail} without an email (never linked by the sync)`,
    );
    facts.push(
      options.welcomeExisting
        ? "welcome emails: every profile the sync links or creates gets one, those from before adoption too (--welcome-existing)"
        : `welcome emails: profiles from before adoption (id <= ${people.maxMentoradoId} now; fixed at --apply) get none when the sync links them (the app welcomed them); profiles the sync creates get theirs (--welcome-existing: all of them)`,
    );
  }
  for (const t of ["users", "mentorados"] as const) {
    const c = catalog.tables[t];
    if (!c.exists) continue;
    facts.push(
      `${t}: triggers ${c.triggers.length ? c.triggers.join(", ") : "none"}; row-level security ${
        c.rowSecurity
          ? `on${c.forceRowSecurity ? " (forced)" : ""}, ${c.policies} policies: the sync's role must pass them`
          : "off"
      }`,
    );
  }
  facts.push(
    catalog.appJournalRows === null
      ? "the app's journal drizzle.__drizzle_migrations: none"
      : `the app's journal drizzle.__drizzle_migrations: ${catalog.appJournalRows} rows, left untouched`,
  );
  facts.push(
    catalog.ourSchemaExists
      ? "our schema clerk_sync: exists (its pending migrations run first)"
      : "our schema clerk_sync: missing; --apply creates it with our migrations (only its own objects), the inverse drops it",
  );

  // ---- erasure
  const erased = [
    ...USERS_NULLED.filter((c) => c !== "deleted_at" && !c.startsWith("clerk_")).map(
      (c) => U[c] as string,
    ),
    ...options.erase,
  ];
  const notErased = colsOf("users")
    .map((c) => c.name)
    .filter((n) => !syncUserNames.has(n) && !options.erase.includes(n) && PERSONAL.test(n));
  const profileKept = colsOf("mentorados")
    .map((c) => c.name)
    .filter((n) => n !== M.id && n !== M.user_id && PERSONAL.test(n));

  // ---- the migration and its inverse
  const used = new Set(catalog.publicRelations);
  const forward: string[] = [];
  const back: string[] = [];
  for (const r of [users, mentorados]) {
    for (const c of r.columns) {
      if (c.status !== "missing") continue;
      forward.push(
        `ALTER TABLE "public".${quoteIdent(r.table)} ADD COLUMN ${quoteIdent(c.name)} ${c.addType}`,
      );
      back.unshift(`ALTER TABLE "public".${quoteIdent(r.table)} DROP COLUMN ${quoteIdent(c.name)}`);
    }
  }
  const indexes: string[] = [];
  if (!catalog.emailKeyExists) forward.push(emailKeyFunctionSql());
  const ucat = catalog.tables.users;
  const mcat = catalog.tables.mentorados;
  const hasUnique = (t: TableCatalog, col: string) =>
    t.uniques.some((u) => !u.partial && same(u.columns, [col]));
  const index = (name: string, table: AppTable, on: string, tail = "", unique = true) => {
    const n = uniqueIndex(name, used);
    forward.push(
      `CREATE ${unique ? "UNIQUE " : ""}INDEX ${quoteIdent(n)} ON "public".${quoteIdent(table)} (${on})${tail}`,
    );
    indexes.push(n);
  };
  // The arbiters of the sync's ON CONFLICT clauses, and one profile per user.
  if (ucat.exists && U.clerk_id && !hasUnique(ucat, U.clerk_id))
    index("users_clerk_id_key", "users", quoteIdent(U.clerk_id));
  if (mcat.exists && M.email && !mcat.uniques.some((u) => !u.partial && emailKeyOn.test(u.on)))
    index("mentorados_email_identity_key", "mentorados", `email_key(${quoteIdent(M.email)})`);
  if (mcat.exists && M.user_id && !hasUnique(mcat, M.user_id))
    index("mentorados_user_id_key", "mentorados", quoteIdent(M.user_id));
  // The legacy claim's lookup: rows without a Clerk id, by email identity.
  if (ucat.exists && U.email && U.clerk_id)
    index(
      "users_legacy_email_key_idx",
      "users",
      `email_key(${quoteIdent(U.email)})`,
      ` WHERE ${quoteIdent(U.clerk_id)} IS NULL`,
      false,
    );
  const inverse = [
    ...(catalog.ourSchemaExists
      ? [
          "DELETE FROM clerk_sync.__drizzle_migrations WHERE tag = 'adopt' AND origin = 'db:adopt'",
          "DELETE FROM clerk_sync.adoption WHERE id = 1",
        ]
      : ["DROP SCHEMA clerk_sync CASCADE"]),
    ...indexes.reverse().map((n) => `DROP INDEX "public".${quoteIdent(n)}`),
    ...(catalog.emailKeyExists ? [] : ["DROP FUNCTION email_key(text)"]),
    ...back,
  ];

  const mapping: Mapping = {
    adopted: true,
    users: { table: "users", columns: pick(U, USER_COLUMNS) },
    mentorados: { table: "mentorados", columns: pick(M, MENTORADO_COLUMNS) },
    erase: { users: [...options.erase] },
  };
  return {
    tables,
    blockers,
    facts,
    warnings,
    erase: { erased, notErased, profileKept },
    mapping,
    migration: forward,
    inverse,
    createsOurSchema: !catalog.ourSchemaExists,
    alreadyAdopted: catalog.adoption ? { adoptedAt: catalog.adoption.adoptedAt } : null,
    argumentProblems,
  };
}

function pick<C extends string>(
  names: Record<string, string>,
  cols: readonly C[],
): Record<C, string> {
  return Object.fromEntries(cols.map((c) => [c, names[c] ?? c])) as Record<C, string>;
}
function same(a: string[] | null, b: string[]): boolean {
  return a !== null && a.length === b.length && a.every((x, i) => x === b[i]);
}
function one(a: string[] | null, allowed: (string | undefined)[]): boolean {
  return a !== null && a.length === 1 && allowed.includes(a[0]);
}
function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** One SQL script of statements, as stored in clerk_sync.adoption and printed. */
export function sqlScript(statements: string[]): string {
  return statements.map((s) => `${s};`).join("\n\n");
}
/** The statements of a script sqlScript wrote (what a test or a runner feeds one at a time). */
export function sqlStatements(script: string): string[] {
  return script
    .split(/;\n\n/)
    .map((s) => s.trim().replace(/;$/, ""))
    .map((s) =>
      s
        .split("\n")
        .filter((l) => !l.startsWith("-- "))
        .join("\n")
        .trim(),
    )
    .filter(Boolean);
}
