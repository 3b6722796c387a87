// A database that cannot be used at all is named as such, in one line: `npm run db:migrate` (and
// the Vercel build step that runs it) and the test suite's TEST_DATABASE_URL. Errors come from the
// real driver and real servers: a closed port, a stand-in answering as Neon's SQL endpoint answers
// a refused login or a missing database (no machine here can reach Neon), and, on the PostgreSQL
// pass, that server itself.
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listen } from "../scripts/local/listen.js";
import { openBackend } from "../scripts/local/sql-backends.js";
import { startSqlEndpoint } from "../scripts/local/sql-endpoint.js";
import { createTestDatabase } from "./helpers/global-setup.js";
import { inject } from "./helpers/provided.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const run = promisify(execFile);
const pgMode = inject("backendKind") === "postgres";

/** `npm run db:migrate` with this configuration: exit code and stderr. */
async function migrate(env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, ["--import", "tsx", "scripts/db/migrate.ts"], {
      cwd: REPO,
      env: { ...process.env, ...env },
    });
    return { code: 0, stderr: "" };
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    return { code: e.code ?? -1, stderr: e.stderr ?? "" };
  }
}

/** A free port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

// Neon's SQL-over-HTTP endpoint answers a failed connection with HTTP 400 and the Postgres error
// as JSON ({message, code}), which the driver turns into a NeonDbError carrying the code.
let neon: Server;
let neonUrl: string;
beforeAll(async () => {
  neon = createServer((req, res) => {
    const db = req.headers["neon-connection-string"];
    const missing = typeof db === "string" && db.includes("/missing_db");
    res.writeHead(400, { "content-type": "application/json" });
    res.end(
      JSON.stringify(
        missing
          ? { message: 'database "missing_db" does not exist', code: "3D000" }
          : { message: "password authentication failed for user 'app'", code: "28P01" },
      ),
    );
  });
  neonUrl = `http://127.0.0.1:${await listen(neon)}/sql`;
});
afterAll(() => new Promise<void>((r) => neon.close(() => r())));

describe("npm run db:migrate against a database it cannot use: one line naming the cause", () => {
  it("host unreachable", async () => {
    const port = await closedPort();
    const r = await migrate({
      DATABASE_URL: "postgres://app:pw@localhost/app",
      NEON_LOCAL_FETCH_ENDPOINT: `http://127.0.0.1:${port}/sql`,
    });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `migration failed: cannot reach the SQL endpoint http://127.0.0.1:${port}/sql (ECONNREFUSED): is it running?`,
    );
  });

  it("login refused: names the user and host, never the password", async () => {
    const r = await migrate({
      DATABASE_URL: "postgres://app:s3cret-pw@ep-x.example.neon.tech/app",
      NEON_LOCAL_FETCH_ENDPOINT: neonUrl,
    });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      "migration failed: the database refused the login of user app on ep-x.example.neon.tech " +
        "(SQLSTATE 28P01): check the user and password in DATABASE_URL",
    );
  });

  it("database missing", async () => {
    const r = await migrate({
      DATABASE_URL: "postgres://app:pw@ep-x.example.neon.tech/missing_db",
      NEON_LOCAL_FETCH_ENDPOINT: neonUrl,
    });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      "migration failed: database missing_db does not exist on ep-x.example.neon.tech " +
        "(SQLSTATE 3D000): create it, or fix the database name in DATABASE_URL",
    );
  });

  // On the PostgreSQL pass, the same through the local SQL endpoint in front of the real server.
  if (pgMode) {
    it("database missing on the local PostgreSQL server", async () => {
      const server = new URL(inject("backendDatabaseUrl"));
      server.pathname = "/cns_no_such_database";
      const backend = await openBackend({ databaseUrl: server.toString() });
      const endpoint = await startSqlEndpoint({ backend });
      try {
        const r = await migrate({
          DATABASE_URL: server.toString(),
          NEON_LOCAL_FETCH_ENDPOINT: endpoint.url,
        });
        expect(r.code).toBe(1);
        expect(r.stderr.trim()).toBe(
          `migration failed: database cns_no_such_database does not exist on ${server.host} ` +
            "(SQLSTATE 3D000): create it, or fix the database name in DATABASE_URL",
        );
      } finally {
        await endpoint.close();
        await backend.close();
      }
    });
  }
});

describe("TEST_DATABASE_URL that cannot be used: one line saying what to do", () => {
  it("server unreachable", async () => {
    const port = await closedPort();
    await expect(
      createTestDatabase(`postgres://postgres@127.0.0.1:${port}/postgres`),
    ).rejects.toThrow(
      `TEST_DATABASE_URL: cannot reach PostgreSQL at 127.0.0.1:${port} (ECONNREFUSED): ` +
        "start it, or unset TEST_DATABASE_URL to run on PGlite",
    );
  });

  if (pgMode) {
    it("database missing: says what to create", async () => {
      const server = new URL(inject("backendDatabaseUrl"));
      server.pathname = "/cns_no_such_database";
      await expect(createTestDatabase(server.toString())).rejects.toThrow(
        /^TEST_DATABASE_URL names database cns_no_such_database, which does not exist on .*: create it \(createdb .* cns_no_such_database\)/,
      );
    });
  }
});

describe("npm run db:migrate: causes in one line, with the SQLSTATE and the object", () => {
  it("a local postgres:// URL without the local endpoint says what to do (not 'Failed to parse URL')", async () => {
    const r = await migrate({
      DATABASE_URL: "postgres://postgres@127.0.0.1:5432/test",
      NEON_LOCAL_FETCH_ENDPOINT: "",
    });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toEqual([
      "migration failed: DATABASE_URL points at a PostgreSQL on this machine, which the Neon HTTP " +
        "driver reaches only through the local SQL endpoint: start `npm run dev` (with this " +
        "DATABASE_URL it serves one and migrates through it), or set NEON_LOCAL_FETCH_ENDPOINT " +
        "to a running endpoint's URL",
    ]);
  });

  it("a migration colliding with an object already there names the migration, the object and 42P07", async () => {
    const created = pgMode ? await createTestDatabase(inject("backendDatabaseUrl")) : undefined;
    const backend = await openBackend({ databaseUrl: created?.url });
    const endpoint = await startSqlEndpoint({ backend });
    try {
      // Not the app's tables (those take the baseline path), just a name 0000_init uses.
      await backend.query({ query: "create sequence mentorados_id_seq", params: [] });
      const r = await migrate({
        DATABASE_URL: "postgres://local:local@localhost:5432/main",
        NEON_LOCAL_FETCH_ENDPOINT: endpoint.url,
      });
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split("\n")).toEqual([
        'migration failed: 0000_init: relation "mentorados_id_seq" already exists (SQLSTATE 42P07)',
      ]);
    } finally {
      await endpoint.close();
      await backend.close();
      await created?.drop();
    }
  });
});
