// What may be learnt from a database error. Postgres messages and `detail` carry row values
// (emails), so only the SQLSTATE, the constraint name and the error's class are ever used or logged.
import type { LogFields } from "./log.js";

/** The SQLSTATE of a Postgres error (NeonDbError carries it as `code`), if any. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

/** The log fields of a database error: never its message or detail. */
export function dbErrorFields(err: unknown): Pick<LogFields, "sqlstate" | "constraint" | "error"> {
  const e = err as { constraint?: unknown; name?: unknown } | null | undefined;
  return {
    error: typeof e?.name === "string" ? e.name : "Error",
    sqlstate: sqlState(err),
    constraint: typeof e?.constraint === "string" ? e.constraint : undefined,
  };
}
