// Process A of the bench: the local Neon SQL-over-HTTP endpoint (scripts/local/sql-endpoint.ts)
// over PostgreSQL (a fresh database on the given server, dropped at exit: the server is shared) or
// PGlite, migrations applied. Driven by the sender over IPC: reset, seed, rows, stats, shutdown.
// Admin work goes straight to the backend, so the endpoint's request count is the function's alone.
import { readFileSync } from "node:fs";
import pg from "pg";
import { migrate } from "../scripts/db/migrate.js";
import { openBackend, PostgresBackend, type SqlBackend } from "../scripts/local/sql-backends.js";
import { type SqlEndpoint, startSqlEndpoint } from "../scripts/local/sql-endpoint.js";
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

async function adminQuery(adminUrl: string, text: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

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
          await q("select id, clerk_id, email, email_verified::text from users order by id")
        ).map(([id, clerkId, email, verified]) => ({
          id: Number(id),
          clerk_id: String(clerkId),
          email: email ?? null,
          email_verified: verified === null ? null : verified === "true",
        })),
        mentorados: (await q("select id, user_id, email, origem from mentorados order by id")).map(
          ([id, userId, email, origem]) => ({
            id: Number(id),
            user_id: userId === null ? null : Number(userId),
            email: String(email),
            origem: String(origem),
          }),
        ),
        ledger: (await q("select svix_id, outcome from clerk_sync.clerk_webhook_events")).map(
          ([svixId, outcome]) => ({ svix_id: String(svixId), outcome: String(outcome) }),
        ),
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
  }
  backend = await openBackend({ databaseUrl, poolSize: opts.poolSize });
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
  const ready: SqlServerReady = {
    type: "ready",
    sqlUrl: endpoint.url,
    controlUrl: endpoint.url.replace(/\/sql$/, "/__control"),
    backend: backend.description,
    backendKind: backend.kind,
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
