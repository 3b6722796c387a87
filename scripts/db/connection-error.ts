// Why a database could not be used at all, from the error a first query or connection raised:
// the host cannot be reached, the login is refused, or the database does not exist. Drizzle wraps
// the driver's error as "Failed query: <sql>", which names none of these; the cause is further
// down the chain (Neon's driver: NeonDbError with a SQLSTATE `code`, or `sourceError` from fetch
// with the system error code in its `cause`; node-postgres: the error itself). Only codes and the
// connection string's host, user and database name are used: never a password, never a message.

export type ConnectionProblem =
  | { kind: "unreachable"; code: string }
  | { kind: "auth"; code: string }
  | { kind: "no_database"; code: string };

const UNREACHABLE = new Set([
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
]);
/** invalid_authorization_specification, invalid_password. */
const AUTH = new Set(["28000", "28P01"]);
/** invalid_catalog_name: the database named in the connection string does not exist. */
const NO_DATABASE = "3D000";

/** Every error in the chain: the error, its `cause`, `sourceError` and AggregateError members. */
function chain(err: unknown, seen = new Set<unknown>()): object[] {
  if (typeof err !== "object" || err === null || seen.has(err)) return [];
  seen.add(err);
  const e = err as { cause?: unknown; sourceError?: unknown; errors?: unknown };
  return [
    err,
    ...chain(e.cause, seen),
    ...chain(e.sourceError, seen),
    ...(Array.isArray(e.errors) ? e.errors.flatMap((x) => chain(x, seen)) : []),
  ];
}

/** The connection problem behind `err`, or undefined when the database answered (a real SQL error). */
export function connectionProblem(err: unknown): ConnectionProblem | undefined {
  for (const e of chain(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== "string") continue;
    if (UNREACHABLE.has(code)) return { kind: "unreachable", code };
    if (AUTH.has(code)) return { kind: "auth", code };
    if (code === NO_DATABASE) return { kind: "no_database", code };
  }
  // fetch's own refusals (a blocked port, a malformed address) carry no system code.
  const fetchFailure = chain(err).find((e) => (e as Error).message === "fetch failed") as
    | { cause?: { message?: unknown } }
    | undefined;
  if (fetchFailure) {
    const why = fetchFailure.cause?.message;
    return { kind: "unreachable", code: typeof why === "string" ? why : "fetch failed" };
  }
  return undefined;
}

export interface ConnectionTarget {
  host: string;
  user: string;
  database: string;
}

/** Host (with port), user and database of a postgres:// URL; never its password. */
export function connectionTarget(url: string): ConnectionTarget {
  const u = new URL(url);
  return {
    host: `${u.hostname}${u.port ? `:${u.port}` : ""}`,
    user: decodeURIComponent(u.username) || "(default user)",
    database: decodeURIComponent(u.pathname.replace(/^\//, "")) || "(default database)",
  };
}

/**
 * One line naming the cause and what to check, for a database given by `variable` (e.g.
 * DATABASE_URL). `via` is the HTTP endpoint the driver really talks to, when it is not the
 * database's own host (the local SQL endpoint).
 */
export function describeConnectionProblem(
  problem: ConnectionProblem,
  variable: string,
  url: string,
  via?: string,
): string {
  const t = connectionTarget(url);
  switch (problem.kind) {
    case "unreachable":
      return via
        ? `cannot reach the SQL endpoint ${via} (${problem.code}): is it running?`
        : `cannot reach the database host ${t.host} (${problem.code}): check the host in ${variable} and the network`;
    case "auth":
      return `the database refused the login of user ${t.user} on ${t.host} (SQLSTATE ${problem.code}): check the user and password in ${variable}`;
    case "no_database":
      return `database ${t.database} does not exist on ${t.host} (SQLSTATE ${problem.code}): create it, or fix the database name in ${variable}`;
  }
}
