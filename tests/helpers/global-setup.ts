// Starts ONE database and ONE local SQL-over-HTTP endpoint for the whole test run (PGlite's initdb
// costs seconds; a fresh instance per test would cost minutes). Tests reach it over loopback HTTP
// through the production driver. With TEST_DATABASE_URL the backend is a fresh database created on
// that server for this run and dropped at the end: the server is shared and may hold anything.

import pg from "pg";
import type { TestProject } from "vitest/node";
import { migrate } from "../../scripts/db/migrate.js";
import { openBackend } from "../../scripts/local/sql-backends.js";
import { startSqlEndpoint } from "../../scripts/local/sql-endpoint.js";
import { LOCAL_DATABASE_URL } from "./constants.js";

declare module "vitest" {
  export interface ProvidedContext {
    sqlEndpoint: string;
    backendKind: "pglite" | "postgres";
    backendDatabaseUrl: string;
  }
}

async function createTestDatabase(
  adminUrl: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `cns_test_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const adminUrl = process.env.TEST_DATABASE_URL;
  const testDb = adminUrl ? await createTestDatabase(adminUrl) : undefined;
  const backend = await openBackend({ databaseUrl: testDb?.url, poolSize: 40 });
  const endpoint = await startSqlEndpoint({ backend, control: true });

  process.env.DATABASE_URL = LOCAL_DATABASE_URL;
  process.env.NEON_LOCAL_FETCH_ENDPOINT = endpoint.url;
  const { getDb } = await import("../../lib/db.js");
  await migrate(getDb());

  console.log(`[tests] database: ${backend.description}; SQL endpoint ${endpoint.url}`);
  project.provide("sqlEndpoint", endpoint.url);
  project.provide("backendKind", backend.kind);
  project.provide("backendDatabaseUrl", testDb?.url ?? "");
  return async () => {
    await endpoint.close();
    await backend.close();
    await testDb?.drop();
  };
}
