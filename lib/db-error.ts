// What may be learnt from a database error. Postgres messages and `detail` carry row values
// (emails), so only the SQLSTATE, the constraint name and the error's class are ever used or logged.
import type { LogFields } from "./log.js";

/** Five characters; no SQLSTATE class starts with E, every errno code (EPIPE, EPERM) does. */
const SQLSTATE = /^[0-9A-DF-Z][0-9A-Z]{4}$/;

/** The SQLSTATE of a Postgres error (NeonDbError carries it as `code`), if any. */
export function sqlState(err: unknown): string | undefined {
  // The driver's error carries it; drizzle's `db.execute` wraps that error as its `cause`. Only a
  // SQLSTATE-shaped code counts: a failed fetch's cause has a `code` too (ECONNREFUSED, EPIPE).
  let e: unknown = err;
  for (let depth = 0; depth < 5 && typeof e === "object" && e !== null; depth++) {
    const { code, cause } = e as { code?: unknown; cause?: unknown };
    if (typeof code === "string" && SQLSTATE.test(code)) return code;
    e = cause;
  }
  return undefined;
}

/**
 * The SQL HTTP requests a failed database call made: lib/sync attaches `roundTrips` (more than one
 * when a serialization failure was retried); 1 when it did not.
 */
export function roundTripsOf(err: unknown): number {
  const trips = (err as { roundTrips?: unknown } | null | undefined)?.roundTrips;
  return typeof trips === "number" ? trips : 1;
}

/**
 * Whether the error comes from the SQL deadline (lib/db.ts): the abort surfaces as a TimeoutError,
 * wrapped by the driver (`sourceError`, when fetch itself fails) and by drizzle (`cause`), or
 * bare when it lands while the answer is being read.
 */
export function isDbTimeout(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && typeof e === "object" && e !== null; depth++) {
    const { name, sourceError, cause } = e as {
      name?: unknown;
      sourceError?: unknown;
      cause?: unknown;
    };
    if (name === "TimeoutError") return true;
    e = sourceError ?? cause;
  }
  return false;
}

/**
 * Permanent errors of the schema, not of the moment: an object the SQL names does not exist or
 * does not fit (42703 undefined_column, 42P01 undefined_table, 42883 undefined_function, 42P10 no
 * arbiter index, 42804 datatype_mismatch, 22001 a value longer than an app's varchar, 23502 an
 * app column NOT NULL that the sync does not fill), or an app constraint the sync's rules do not
 * know (23505, 23514) refused the row. Retrying cannot help until someone changes the schema.
 */
const SCHEMA_SQLSTATES = new Set(["42703", "42P01", "42883", "42P10", "42804", "22001", "23502"]);
const CONSTRAINT_SQLSTATES = new Set(["23505", "23514"]);

/**
 * The constraints the sync's own statements arbitrate or rely on (drizzle/schema.ts). A 23505 on
 * one of them is a race another attempt resolves (a concurrent link of the same user); on any
 * other constraint it is the app's rule, and permanent.
 */
export const OWN_CONSTRAINTS: ReadonlySet<string> = new Set([
  "clerk_webhook_events_pkey",
  "users_clerk_id_unique",
  "mentorados_email_identity_key",
  "mentorados_user_id_unique",
  "email_outbox_kind_mentorado_id_key",
]);

/** Whether a database error means the schema does not match what the service needs. */
export function isSchemaMismatch(err: unknown): boolean {
  const code = sqlState(err);
  if (!code) return false;
  if (SCHEMA_SQLSTATES.has(code)) return true;
  if (!CONSTRAINT_SQLSTATES.has(code)) return false;
  const constraint = errorField(err, "constraint");
  return constraint === undefined || !OWN_CONSTRAINTS.has(constraint);
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$.]{0,127}$/;
/**
 * For the errors whose message holds only identifiers (never row values): the quoted names, as
 * Postgres words them ('column "x" of relation "y" does not exist', 'relation "y" does not exist').
 */
const NAMED_IN_MESSAGE: Record<string, RegExp> = {
  "42703": /column "([^"]+)"(?: of relation "([^"]+)")? does not exist/,
  "42P01": /relation "([^"]+)" does not exist/,
};

/** A string field of the driver's error (or its cause), kept only when it is an identifier. */
function errorField(err: unknown, name: "table" | "column" | "constraint"): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && typeof e === "object" && e !== null; depth++) {
    const value = (e as Record<string, unknown>)[name];
    if (typeof value === "string" && IDENTIFIER.test(value)) return value;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The driver's error: the first in the chain that carries the SQLSTATE. */
function pgError(err: unknown): { message?: unknown } | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && typeof e === "object" && e !== null; depth++) {
    const { code, cause } = e as { code?: unknown; cause?: unknown };
    if (typeof code === "string" && SQLSTATE.test(code)) return e as { message?: unknown };
    e = cause;
  }
  return undefined;
}

/** The log fields of a schema mismatch: SQLSTATE, table, column and constraint; no values. */
export function schemaErrorFields(
  err: unknown,
): Pick<LogFields, "sqlstate" | "table" | "column" | "constraint"> {
  const code = sqlState(err);
  let table = errorField(err, "table");
  let column = errorField(err, "column");
  const pattern = code ? NAMED_IN_MESSAGE[code] : undefined;
  const message = pgError(err)?.message;
  const named = pattern && typeof message === "string" ? pattern.exec(message) : null;
  if (named && code === "42703") {
    column ??= named[1];
    table ??= named[2];
  } else if (named) table ??= named[1];
  const keep = (v: string | undefined) => (v !== undefined && IDENTIFIER.test(v) ? v : undefined);
  return {
    sqlstate: code,
    table: keep(table),
    column: keep(column),
    constraint: errorField(err, "constraint"),
  };
}

/** The log fields of a database error: never its message or detail. */
export function dbErrorFields(err: unknown): Pick<LogFields, "sqlstate" | "constraint" | "error"> {
  if (isDbTimeout(err)) return { error: "database_timeout" };
  const e = err as { constraint?: unknown; name?: unknown } | null | undefined;
  return {
    error: typeof e?.name === "string" ? e.name : "Error",
    sqlstate: sqlState(err),
    constraint: typeof e?.constraint === "string" ? e.constraint : undefined,
  };
}

/**
 * One line for a script's summary (backfill, resync, migrations): `schema_mismatch` with the
 * SQLSTATE and the objects named; no values.
 */
export function schemaMismatchLine(err: unknown): string {
  const f = schemaErrorFields(err);
  const named = [
    f.table && `table ${f.table}`,
    f.column && `column ${f.column}`,
    f.constraint && `constraint ${f.constraint}`,
  ].filter(Boolean);
  return (
    `schema_mismatch: SQLSTATE ${f.sqlstate ?? "?"}${named.length ? ` (${named.join(", ")})` : ""}: ` +
    "the database's schema does not match what this service needs; GET /api/health names what is missing"
  );
}
