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
