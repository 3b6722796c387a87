// A database no migration has touched, behind a local SQL endpoint of its own: embedded PGlite in
// memory, or, on the PostgreSQL pass, a database created for it on the same server and dropped by
// close().

import { getDb } from "../../lib/db.js";
import { migrate } from "../../scripts/db/migrate.js";
import {
  openBackend,
  type SqlBackend,
  type StatementMode,
} from "../../scripts/local/sql-backends.js";
import { type SqlEndpoint, startSqlEndpoint } from "../../scripts/local/sql-endpoint.js";
import { createTestDatabase } from "./global-setup.js";
import { inject } from "./provided.js";

export interface FreshDatabase {
  backend: SqlBackend;
  endpoint: SqlEndpoint;
  /** The PostgreSQL database's URL; undefined on PGlite. */
  url: string | undefined;
  /** Migrates it with the project's runner, through its own endpoint (as `npm run db:migrate`). */
  migrate(): Promise<void>;
  close(): Promise<void>;
}

/** `backend`: the PostgreSQL backend's pool size and statement mode (defaults: the endpoint's). */
export async function freshDatabase(
  options: { poolSize?: number; statements?: StatementMode } = {},
): Promise<FreshDatabase> {
  const created =
    inject("backendKind") === "postgres"
      ? await createTestDatabase(inject("backendDatabaseUrl"))
      : undefined;
  const backend = await openBackend({ databaseUrl: created?.url, ...options });
  const endpoint = await startSqlEndpoint({ backend });
  return {
    backend,
    endpoint,
    url: created?.url,
    async migrate() {
      const saved = process.env.NEON_LOCAL_FETCH_ENDPOINT;
      process.env.NEON_LOCAL_FETCH_ENDPOINT = endpoint.url;
      try {
        await migrate(getDb());
      } finally {
        process.env.NEON_LOCAL_FETCH_ENDPOINT = saved;
      }
    },
    async close() {
      await endpoint.close();
      await backend.close();
      await created?.drop();
    },
  };
}
