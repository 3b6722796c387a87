// Starts ONE database and ONE local SQL-over-HTTP endpoint for the whole test run (PGlite's initdb
// costs seconds; a fresh instance per test would cost minutes). Tests reach it over loopback HTTP
// through the production driver. With TEST_DATABASE_URL the backend is a fresh database created on
// that server for this run and dropped at the end: the server is shared and may hold anything.

import pg from "pg";
import type { TestProject } from "vitest/node";
import { connectionProblem, connectionTarget } from "../../scripts/db/connection-error.js";
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

/**
 * Why TEST_DATABASE_URL cannot be used, in one line saying what to do (its database is only the
 * one connected to for `create database`; any existing one will do, e.g. postgres).
 */
export function testDatabaseUrlProblem(err: unknown, adminUrl: string): string | undefined {
  const problem = connectionProblem(err);
  if (!problem) return undefined;
  const t = connectionTarget(adminUrl);
  const u = new URL(adminUrl);
  switch (problem.kind) {
    case "no_database":
      return (
        `TEST_DATABASE_URL names database ${t.database}, which does not exist on ${t.host}: ` +
        `create it (createdb -h ${u.hostname} -p ${u.port || 5432} -U ${t.user} ${t.database}) ` +
        "or name an existing one (e.g. /postgres); each run creates and drops its own database there"
      );
    case "auth":
      return `TEST_DATABASE_URL: ${t.host} refused the login of user ${t.user} (SQLSTATE ${problem.code}): fix the user or password`;
    case "unreachable":
      return `TEST_DATABASE_URL: cannot reach PostgreSQL at ${t.host} (${problem.code}): start it, or unset TEST_DATABASE_URL to run on PGlite`;
  }
}

/** TEST_DATABASE_URL cannot be used; the message is one line saying what to do. */
export class TestDatabaseUrlError extends Error {}

export async function createTestDatabase(
  adminUrl: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `cns_test_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  try {
    await admin.connect();
  } catch (err) {
    const line = testDatabaseUrlProblem(err, adminUrl);
    if (!line) throw err;
    throw new TestDatabaseUrlError(line);
  }
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
  const testDb = adminUrl
    ? await createTestDatabase(adminUrl).catch((err: unknown) => {
        if (!(err instanceof TestDatabaseUrlError)) throw err;
        // One line and out: thrown, it would come after vitest's "No test files found" and a
        // stack, which hide it. Nothing has been started yet, so there is nothing to clean up.
        console.error(err.message);
        process.exit(1);
      })
    : undefined;
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
