import { type NeonQueryFunction, neon, neonConfig } from "@neondatabase/serverless";
import { drizzle, type NeonHttpDatabase } from "drizzle-orm/neon-http";
import { getDbEnv } from "./env.js";

/** drizzle over the Neon HTTP driver; `$client` is the driver's own query function. */
export type Db = NeonHttpDatabase & { $client: NeonQueryFunction<false, false> };

type DbEnv = ReturnType<typeof getDbEnv>;

let current: { url: string; endpoint: string | undefined; timeoutMs: number; db: Db } | undefined;
const neonDefaultEndpoint = neonConfig.fetchEndpoint;

/**
 * The call signature of fetch, not `typeof fetch`: Bun's fetch type also has `preconnect`, which a
 * wrapper need not (and the driver never calls).
 */
type FetchFunction = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

/**
 * fetch with a deadline: every SQL HTTP request is aborted after `timeoutMs`. The driver turns the
 * abort into an error whose cause is a TimeoutError (lib/db-error.ts recognises it), and Neon
 * cancels and rolls back the work of a client that went away, so nothing is half-written.
 */
function fetchWithDeadline(timeoutMs: number): FetchFunction {
  return (input, init) => {
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, deadline]) : deadline;
    return fetch(input, { ...init, signal });
  };
}

/**
 * The only database entry point: drizzle over Neon's HTTP driver. Every query is one HTTPS POST
 * and `db.batch([...])` is one POST run as one transaction. Reused across requests of a warm
 * instance; rebuilt only when the configuration changes. A caller that has just read the
 * configuration passes it, so the hot path reads the environment once.
 */
export function getDb(env: DbEnv = getDbEnv()): Db {
  if (
    current?.url === env.DATABASE_URL &&
    current.endpoint === env.NEON_LOCAL_FETCH_ENDPOINT &&
    current.timeoutMs === env.SQL_TIMEOUT_MS
  ) {
    return current.db;
  }
  // neonConfig is global to the driver: the only place it is touched is here. The deadline goes
  // through fetchFunction because the driver's fetchOptions are fixed per client, and a signal
  // must be fresh per request.
  neonConfig.fetchEndpoint = env.NEON_LOCAL_FETCH_ENDPOINT ?? neonDefaultEndpoint;
  neonConfig.fetchFunction = fetchWithDeadline(env.SQL_TIMEOUT_MS);
  // READ COMMITTED on purpose: our statements are written for it; under REPEATABLE READ concurrent
  // duplicates would fail to serialize instead of waiting and seeing each other's rows.
  const client = neon(env.DATABASE_URL, { isolationLevel: "ReadCommitted" });
  const db = drizzle({ client });
  current = {
    url: env.DATABASE_URL,
    endpoint: env.NEON_LOCAL_FETCH_ENDPOINT,
    timeoutMs: env.SQL_TIMEOUT_MS,
    db,
  };
  return db;
}
