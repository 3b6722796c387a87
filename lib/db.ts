import { neon, neonConfig } from "@neondatabase/serverless";
import { drizzle, type NeonHttpDatabase } from "drizzle-orm/neon-http";
import { getDbEnv } from "./env.js";

export type Db = NeonHttpDatabase;

let current: { url: string; endpoint: string | undefined; db: Db } | undefined;
const neonDefaultEndpoint = neonConfig.fetchEndpoint;

/**
 * The only database entry point: drizzle over Neon's HTTP driver. Every query is one HTTPS POST
 * and `db.batch([...])` is one POST run as one transaction. Reused across requests of a warm
 * instance; rebuilt only when the configuration changes. A caller that has just read the
 * configuration passes it, so the hot path reads the environment once.
 */
export function getDb(env: ReturnType<typeof getDbEnv> = getDbEnv()): Db {
  if (current?.url === env.DATABASE_URL && current.endpoint === env.NEON_LOCAL_FETCH_ENDPOINT) {
    return current.db;
  }
  // neonConfig is global to the driver: the only place it is touched is here.
  neonConfig.fetchEndpoint = env.NEON_LOCAL_FETCH_ENDPOINT ?? neonDefaultEndpoint;
  // READ COMMITTED on purpose: our statements are written for it; under REPEATABLE READ concurrent
  // duplicates would fail to serialize instead of waiting and seeing each other's rows.
  const client = neon(env.DATABASE_URL, { isolationLevel: "ReadCommitted" });
  const db = drizzle({ client });
  current = { url: env.DATABASE_URL, endpoint: env.NEON_LOCAL_FETCH_ENDPOINT, db };
  return db;
}
