// The statements of lib/sync/statements.ts (the one place the rules are written) wrapped in two
// PL/pgSQL functions of our schema, which `npm run db:migrate` creates: a user batch and a deletion.
// A sync sends one short call instead of the statements' 6 KB of text.
//
// Why a function: Neon's proxy sends every statement as the unnamed statement and resets the
// connection after each request (DEALLOCATE ALL among it), so statements sent as text are parsed
// and planned on every request, and planning the batch's set-based statements was most of
// PostgreSQL's CPU per event (docs/performance.md). PL/pgSQL keeps each statement's plan in the
// backend for the life of the connection: Neon's reset does not touch it (only DISCARD PLANS / ALL
// would), and an ANALYZE or DDL on a table it reads invalidates it, so it is re-planned on current
// statistics. The plans themselves are the generic ones (the users arrive as a parameter, which no
// estimate depends on): tests/plans.test.ts checks those too.
//
// Each statement inside a VOLATILE function takes its own snapshot under READ COMMITTED, exactly as
// the same statements sent one after another in one transaction did: the gates between them, and
// the deletion's separate unlink, keep their meaning.
//
// The name carries a hash of the function's whole text (statements, mapping, gates): a deployment
// calls exactly the function built from its own code, and one whose function is missing (migrations
// not run after an upgrade or an adoption) answers 42883, a schema mismatch (500, retried by Svix,
// named by /api/health), rather than run another version's rules. Older versions stay until removed
// (docs/database-layout.md), so a deployment still serving during a rollout keeps working.
import { type SQL, sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import { MAPPING } from "../../drizzle/mapping.js";
import {
  type BatchNames,
  claimLegacyUsers,
  claimMentorados,
  deleteUser,
  insertDeletionLedger,
  recordDeliveries,
  unlinkDeletedUser,
  upsertUsers,
} from "./statements.js";

export interface Routine {
  /** Schema-qualified, version hash included: clerk_sync.sync_users_<hash>. */
  name: string;
  /** As to_regprocedure() takes it: name(argument types). */
  signature: string;
  /** The statement a sync sends: the call, its parameters as $1..$n. */
  call: string;
  /** CREATE OR REPLACE FUNCTION ...: what the migration runs. */
  create: string;
  /**
   * The statements inside, in order, as PREPARE takes them: the routine's parameters and the
   * variables earlier statements set are $1..$n, typed by `parameterTypes` (the plan tests).
   */
  prepared: readonly string[];
  parameterTypes: readonly string[];
  /** Planner settings the function runs (and so plans its statements) under. */
  settings: Readonly<Record<string, string>>;
}

/** One statement of a routine, built for a set of names ($n or the routine's variables). */
interface Step<N> {
  sql: (names: N) => SQL;
  /** The variable it sets (its one row, one column), or "return": its rows are the result. */
  into: string | "return" | null;
}

/**
 * Planner settings of both routines. A plan is kept for the connection's life, so it must stay
 * right as the tables grow from whatever they held when it was made; a scan of an empty table
 * costs nothing, so a plan made then may prefer one to an index. With sequential scans priced out,
 * and every read written as a lookup by a unique key (lib/sync/statements.ts), the plan is an index
 * plan whatever the statistics say (tests/plans.test.ts checks each statement in each state).
 * force_generic_plan: PL/pgSQL would otherwise compare each generic plan with the custom plans of
 * the first calls, and keep planning anew on every call when the generic one's estimate is higher
 * (an array parameter is estimated at 10 elements, a known one at its size): planning is what
 * the routine exists to stop repeating.
 */
const PLANNER_SETTINGS = { enable_seqscan: "off", plan_cache_mode: "force_generic_plan" } as const;

const dialect = new PgDialect();

/** A statement's text: it binds no values of its own (they are the routine's $n and variables). */
function textOf(statement: SQL): string {
  const q = dialect.sqlToQuery(statement);
  if (q.params.length !== 0) throw new Error("a routine statement binds no values of its own");
  return q.sql;
}

/**
 * cyrb53, a small non-cryptographic string hash (53 bits, as 14 hex digits): a version tag for the
 * function's text, computed once per instance without loading node:crypto into the functions.
 */
function versionTag(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, "0");
}

/**
 * A function running `steps` in order, returning the rows of the "return" step (svix_id,
 * outcome). `#variable_conflict use_column`: the statements' own columns named svix_id and
 * outcome stay columns.
 */
function routine<N>(spec: {
  base: string;
  /** The function's parameters' types. */
  parameters: readonly string[];
  /** Its variables: name -> type and initial value. */
  variables: Readonly<Record<string, string>>;
  steps: readonly Step<N>[];
  /** The names inside the function, and as $n for PREPARE (with the $n's types). */
  inside: N;
  prepared: { names: N; types: readonly string[] };
}): Routine {
  const args = spec.parameters.join(", ");
  const settings = Object.entries(PLANNER_SETTINGS)
    .map(([k, v]) => `\n  set ${k} = ${v}`)
    .join("");
  const declare = Object.entries(spec.variables)
    .map(([name, decl]) => `  ${name} ${decl};\n`)
    .join("");
  const body = spec.steps
    .map((step) => {
      const text = textOf(step.sql(spec.inside)).trim();
      if (step.into === "return") return `  return query ${text};`;
      return step.into ? `  ${text}\n  into ${step.into};` : `  ${text};`;
    })
    .join("\n\n");
  const tail = (name: string) => `${name}(${args})
  returns table (svix_id text, outcome text)
  language plpgsql volatile${settings}
as $routine$
#variable_conflict use_column
${declare ? `declare\n${declare}` : ""}begin
${body}
end
$routine$`;
  const name = `clerk_sync.${spec.base}_${versionTag(tail(spec.base))}`;
  return {
    name,
    signature: `${name}(${args})`,
    call: `select svix_id, outcome from ${name}(${spec.parameters.map((t, i) => `$${i + 1}::${t}`).join(", ")})`,
    create: `create or replace function ${tail(name)}`,
    prepared: spec.steps.map((step) => textOf(step.sql(spec.prepared.names))),
    parameterTypes: spec.prepared.types,
    settings: PLANNER_SETTINGS,
  };
}

const raw = (text: string) => sql.raw(text);

/**
 * A user batch: $1 the users (a jsonb array of UserRecord). The legacy-user claim is there only on
 * an adopted database (ours have none).
 */
export const USERS_ROUTINE = routine<BatchNames>({
  base: "sync_users",
  parameters: ["jsonb"],
  variables: { fresh_ids: "text[]", claimed_ids: "text[] := '{}'", written_ids: "text[]" },
  steps: [
    { sql: recordDeliveries, into: "fresh_ids" },
    ...(MAPPING.adopted ? [{ sql: claimLegacyUsers, into: "claimed_ids" }] : []),
    { sql: upsertUsers, into: "written_ids" },
    { sql: claimMentorados, into: "return" },
  ],
  inside: {
    users: raw("$1"),
    fresh: raw("fresh_ids"),
    claimed: raw("claimed_ids"),
    written: raw("written_ids"),
  },
  prepared: {
    names: { users: raw("$1"), fresh: raw("$2"), claimed: raw("$3"), written: raw("$4") },
    types: ["jsonb", "text[]", "text[]", "text[]"],
  },
});

/** A deletion: $1 the delivery id, $2 the Clerk user id, $3 the svix-timestamp (or null). */
export const DELETION_ROUTINE = routine<null>({
  base: "sync_deletion",
  parameters: ["text", "text", "timestamptz"],
  variables: {},
  steps: [
    { sql: insertDeletionLedger, into: null },
    { sql: deleteUser, into: "return" },
    { sql: unlinkDeletedUser, into: null },
  ],
  inside: null,
  prepared: { names: null, types: ["text", "text", "timestamptz"] },
});

export const ROUTINES: readonly Routine[] = [USERS_ROUTINE, DELETION_ROUTINE];
