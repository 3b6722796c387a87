// Process A of the bench: the local Neon SQL-over-HTTP endpoint (scripts/local/sql-endpoint.ts)
// over PostgreSQL (a fresh database on the given server, dropped at exit: the server is shared) or
// PGlite, migrations applied. Driven by the sender over IPC: reset, seed, rows, stats, shutdown.
// Admin work goes straight to the backend, so the endpoint's request count is the function's alone.
import { readFileSync } from "node:fs";
import pg from "pg";
import { migrate } from "../scripts/db/migrate.js";
import { openBackend, PostgresBackend, type SqlBackend } from "../scripts/local/sql-backends.js";
import { type SqlEndpoint, startSqlEndpoint } from "../scripts/local/sql-endpoint.js";
import { NOT_PRELOADED, preloadStatements } from "./preload.js";
import {
  BENCH_DATABASE_URL,
  type Rows,
  type SqlServerOptions,
  type SqlServerReady,
  type SqlServerReply,
  type SqlServerRequest,
  type SqlServerStats,
} from "./protocol.js";

const opts = JSON.parse(process.argv[2] ?? "{}") as SqlServerOptions;

async function adminQuery(adminUrl: string, text: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    return await c.query(text);
  } finally {
    await c.end();
  }
}

const PGSS_HOWTO =
  "add pg_stat_statements to shared_preload_libraries in postgresql.conf and restart the server; the bench then creates the extension in its database and turns pg_stat_statements.track_planning on for it";

/**
 * Makes planning and execution time readable from pg_stat_statements in the bench's database,
 * when the server has the module loaded (that takes a restart, which the bench never does).
 * track_planning is a superuser setting, not a restart one: set on the bench's database only, so
 * the shared server's other databases are untouched. Must run before the pool connects.
 */
async function enableStatementStats(
  adminUrl: string,
  dbUrl: string,
  name: string,
): Promise<SqlServerReady["statementStats"]> {
  const r = await adminQuery(adminUrl, "select current_setting('shared_preload_libraries') as l");
  const loaded = /\bpg_stat_statements\b/.test(String(r.rows[0]?.l ?? ""));
  if (!loaded) {
    return {
      available: false,
      planning: false,
      note: `n/a (pg_stat_statements not loaded: ${PGSS_HOWTO})`,
    };
  }
  await adminQuery(dbUrl, "create extension if not exists pg_stat_statements");
  try {
    await adminQuery(adminUrl, `alter database ${name} set pg_stat_statements.track_planning = on`);
    // Nested statements too: the sync's own run inside its routine (lib/sync/routines.ts), where
    // they are planned once per connection; execution is summed over top-level statements only
    // (a routine's time includes its statements'), planning over every level.
    await adminQuery(adminUrl, `alter database ${name} set pg_stat_statements.track = 'all'`);
    return {
      available: true,
      planning: true,
      note: "pg_stat_statements, track_planning on, track all (planning at every level, execution of top-level statements)",
    };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return {
      available: true,
      planning: false,
      note: `pg_stat_statements without planning (${why})`,
    };
  }
}
let statementStats: SqlServerReady["statementStats"] = {
  available: false,
  planning: false,
  note: "n/a (PGlite)",
};

let dbName: string | undefined;
let backend: SqlBackend | undefined;
let endpoint: SqlEndpoint | undefined;
let closing: Promise<void> | undefined;

function shutdown(): Promise<void> {
  closing ??= (async () => {
    await endpoint?.close().catch(() => {});
    await backend?.close().catch(() => {});
    if (opts.adminUrl && dbName) {
      await adminQuery(opts.adminUrl, `drop database if exists ${dbName} with (force)`).catch(
        (err: unknown) => console.error(`bench: could not drop ${dbName}: ${String(err)}`),
      );
    }
  })();
  return closing;
}

/**
 * CPU time of this database's PostgreSQL backend processes, read from /proc (Linux, local server),
 * accumulated per backend pid so a backend that appears between two readings counts from zero.
 * A backend that exits takes its last ticks with it: the endpoint's pool never closes idle clients
 * (see main), so during a run the set of backends only grows.
 */
const backendTicks = new Map<string, number>();
let backendTotal = 0;
async function pgBackendCpuMs(): Promise<number | null> {
  if (backend?.kind !== "postgres" || process.platform !== "linux") return null;
  const r = await backend.query({
    query: "select pid from pg_stat_activity where datname = current_database()",
    params: [],
  });
  let seen = 0;
  for (const [pid] of r.rows) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // Fields after the command name (which may contain spaces): utime is 14th, stime 15th.
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ticks = Number(rest[11]) + Number(rest[12]);
      backendTotal += ticks - (backendTicks.get(String(pid)) ?? 0);
      backendTicks.set(String(pid), ticks);
      seen++;
    } catch {
      // A backend that just exited, or a server in another pid namespace.
    }
  }
  // USER_HZ is 100 on every Linux we run on.
  return seen === 0 ? null : backendTotal * 10;
}

/** The server's WAL position in bytes: the difference over a phase is the WAL it wrote. */
async function walBytes(): Promise<number | null> {
  if (backend?.kind !== "postgres") return null;
  const r = await backend.query({
    query: "select pg_current_wal_lsn() - '0/0'::pg_lsn",
    params: [],
  });
  return Number(r.rows[0]?.[0]);
}

/** Planning and execution time of this database's statements so far, ms (pg_stat_statements). */
async function statementTimes(): Promise<{ planMs: number | null; execMs: number | null }> {
  if (backend?.kind !== "postgres" || !statementStats.available)
    return { planMs: null, execMs: null };
  const r = await backend.query({
    query: `select coalesce(sum(total_plan_time), 0),
        coalesce(sum(total_exec_time) filter (where toplevel), 0)
      from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())`,
    params: [],
  });
  const [plan, exec] = r.rows[0] ?? [];
  return { planMs: statementStats.planning ? Number(plan) : null, execMs: Number(exec) };
}

const TRUNCATE =
  "truncate users, mentorados, clerk_sync.clerk_webhook_events, clerk_sync.email_outbox, clerk_sync.sync_runs restart identity cascade";

async function handle(req: SqlServerRequest): Promise<unknown> {
  if (!backend) throw new Error("not started");
  switch (req.op) {
    case "reset":
      // No ANALYZE here: every reset is followed by a seed, which analyzes the seeded tables.
      await backend.query({ query: TRUNCATE, params: [] });
      return null;
    case "seed":
      for (const stmt of preloadStatements(req.preload)) await backend.query(stmt);
      await backend.query({
        query: `insert into mentorados (nome_completo, email, turma, origem)
          select 'Pré-cadastro ' || n, e, 'turma_bench', 'pre_registered'
          from jsonb_array_elements_text($1::jsonb) with ordinality as t(e, n)`,
        params: [JSON.stringify(req.emails)],
      });
      // A live database's autovacuum keeps the planner's statistics close to the tables; without
      // this, plans would be made for the empty tables of the reset above.
      await backend.query({ query: "analyze", params: [] });
      return null;
    case "rows": {
      const q = async (query: string) => (await backend!.query({ query, params: [] })).rows;
      const rows: Rows = {
        users: (
          await q(
            `select id, clerk_id, email, email_verified::text from users where ${NOT_PRELOADED.users} order by id`,
          )
        ).map(([id, clerkId, email, verified]) => ({
          id: Number(id),
          clerk_id: String(clerkId),
          email: email ?? null,
          email_verified: verified === null ? null : verified === "true",
        })),
        mentorados: (
          await q(
            `select id, user_id, email, origem from mentorados where ${NOT_PRELOADED.mentorados} order by id`,
          )
        ).map(([id, userId, email, origem]) => ({
          id: Number(id),
          user_id: userId === null ? null : Number(userId),
          email: String(email),
          origem: String(origem),
        })),
        ledger: (
          await q(
            `select svix_id, outcome from clerk_sync.clerk_webhook_events where ${NOT_PRELOADED.ledger}`,
          )
        ).map(([svixId, outcome]) => ({ svix_id: String(svixId), outcome: String(outcome) })),
        outbox: Number((await q("select count(*) from clerk_sync.email_outbox"))[0]?.[0] ?? 0),
      };
      return rows;
    }
    case "stats": {
      const cpu = process.cpuUsage();
      const stats: SqlServerStats = {
        userUs: cpu.user,
        systemUs: cpu.system,
        rssBytes: process.memoryUsage.rss(),
        maxRssKb: process.resourceUsage().maxRSS,
        pgBackendCpuMs: await pgBackendCpuMs(),
        walBytes: await walBytes(),
        ...(await statementTimes()),
      };
      return stats;
    }
    case "shutdown":
      await shutdown();
      setImmediate(() => process.exit(0));
      return null;
  }
}

async function main(): Promise<void> {
  if (opts.adminUrl) {
    dbName = `cns_bench_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`;
    await adminQuery(opts.adminUrl, `create database ${dbName}`);
  }
  let databaseUrl: string | undefined;
  if (opts.adminUrl && dbName) {
    const u = new URL(opts.adminUrl);
    u.pathname = `/${dbName}`;
    databaseUrl = u.toString();
    statementStats = await enableStatementStats(opts.adminUrl, databaseUrl, dbName);
  }
  backend = await openBackend({
    databaseUrl,
    poolSize: opts.poolSize,
    statements: opts.statements,
  });
  // Keep the pool's connections for the whole run (pg closes idle ones after 10 s by default):
  // reconnecting would cost CPU inside a measured phase and lose the exiting backends' CPU.
  if (backend instanceof PostgresBackend) backend.pool.options.idleTimeoutMillis = 0;
  endpoint = await startSqlEndpoint({ backend, control: true, delayMs: 0 });
  process.env.DATABASE_URL = BENCH_DATABASE_URL;
  process.env.NEON_LOCAL_FETCH_ENDPOINT = endpoint.url;
  const { getDb } = await import("../lib/db.js");
  await migrate(getDb());
  endpoint.setDelay(opts.delayMs);
  endpoint.resetStats();
  const autovacuum =
    backend.kind === "postgres"
      ? String((await backend.query({ query: "show autovacuum", params: [] })).rows[0]?.[0])
      : null;
  const ready: SqlServerReady = {
    type: "ready",
    autovacuum,
    sqlUrl: endpoint.url,
    controlUrl: endpoint.url.replace(/\/sql$/, "/__control"),
    backend: backend.description,
    backendKind: backend.kind,
    statementStats,
  };
  process.send?.(ready);
}

process.on("message", (msg: SqlServerRequest) => {
  handle(msg).then(
    (result) => process.send?.({ type: "reply", id: msg.id, ok: true, result } as SqlServerReply),
    (err: unknown) =>
      process.send?.({
        type: "reply",
        id: msg.id,
        ok: false,
        error: err instanceof Error ? err.message : String(err),
      } as SqlServerReply),
  );
});
// The sender died or closed the channel: clean up (drop the database) and leave.
process.on("disconnect", () => {
  void shutdown().finally(() => process.exit(0));
});
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    void shutdown().finally(() => process.exit(0));
  });
}

main().catch(async (err: unknown) => {
  console.error(`bench sql server failed: ${err instanceof Error ? err.stack : String(err)}`);
  await shutdown();
  process.exit(1);
});
