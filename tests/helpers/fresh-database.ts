// A database no migration has touched, behind a local SQL endpoint of its own: embedded PGlite in
// memory, or, on the PostgreSQL pass, a database created for it on the same server and dropped by
// close().
import { inject } from "vitest";
import { openBackend, type SqlBackend } from "../../scripts/local/sql-backends.js";
import { type SqlEndpoint, startSqlEndpoint } from "../../scripts/local/sql-endpoint.js";
import { createTestDatabase } from "./global-setup.js";

export interface FreshDatabase {
  backend: SqlBackend;
  endpoint: SqlEndpoint;
  /** The PostgreSQL database's URL; undefined on PGlite. */
  url: string | undefined;
  close(): Promise<void>;
}

export async function freshDatabase(): Promise<FreshDatabase> {
  const created =
    inject("backendKind") === "postgres"
      ? await createTestDatabase(inject("backendDatabaseUrl"))
      : undefined;
  const backend = await openBackend({ databaseUrl: created?.url });
  const endpoint = await startSqlEndpoint({ backend });
  return {
    backend,
    endpoint,
    url: created?.url,
    async close() {
      await endpoint.close();
      await backend.close();
      await created?.drop();
    },
  };
}
