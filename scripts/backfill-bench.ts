// The backfill at scale, cursor and offset side by side: `npm run bench:backfill`.
//
//   npm run bench:backfill -- [--users 1000000] [--batch 500] [--share 0.1] [--offset-seconds 120]
//     [--offset-ms-per-1000 2] [--admin-url postgres://postgres@127.0.0.1:5432/postgres]
//
// The local Clerk stand-in holds --users generated users (made on demand from their index, the
// same JSON every time: it stays small), enforces Clerk's production limit (1,000 requests per
// 10 s) and answers an offset page later the deeper it is (--offset-ms-per-1000 for each 1,000
// users skipped; Clerk's spec: "gets progressively slower and eventually times out"). A fresh
// PostgreSQL database on the --admin-url server (dropped after) gets --share of the users'
// emails pre-registered as profiles. Then the real `scripts/backfill.ts` runs as a child process:
//   1. by cursor, every user: time, users/s, Clerk requests per page, the child's peak RSS, and
//      the CPU of the PostgreSQL backends serving the bench database, per user;
//   2. the dry run, which must report `in sync`, and SQL checks of every user and profile;
//   3. by offset (the stand-in refuses the cursor; the backfill falls back, as against an older
//      API), stopped by Ctrl-C (SIGINT) after --offset-seconds: its time for all the users is
//      extrapolated from the stand-in's cost model and the cursor run's per-page time, and the
//      output says so.
// Figures depend on the machine and its load: the table prints `uptime` before and after.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import pg from "pg";
import { clerkWebhookEvents, emailOutbox, syncRuns } from "../drizzle/schema.js";
import type { ReconciliationReport } from "./backfill/report.js";
import { migrate } from "./db/migrate.js";
import { type ClerkApi, generatedUsers, startClerkApi } from "./local/clerk-api.js";
import { openBackend } from "./local/sql-backends.js";
import { startSqlEndpoint } from "./local/sql-endpoint.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PRODUCTION_LIMIT = { requests: 1000, windowMs: 10_000 };

const { values } = parseArgs({
  options: {
    users: { type: "string", default: "1000000" },
    batch: { type: "string", default: "500" },
    share: { type: "string", default: "0.1" },
    "offset-seconds": { type: "string", default: "120" },
    "offset-ms-per-1000": { type: "string", default: "2" },
    "admin-url": { type: "string", default: "postgres://postgres@127.0.0.1:5432/postgres" },
  },
});
const n = Number(values.users);
const batch = Number(values.batch);
const share = Number(values.share);
const offsetSeconds = Number(values["offset-seconds"]);
const msPer1000 = Number(values["offset-ms-per-1000"]);
/** Every `every`-th user's email is pre-registered (the share, rounded to a stride). */
const every = Math.max(1, Math.round(1 / share));
const PRE = 3;

const uptime = () => execFileSync("uptime", { encoding: "utf8" }).trim().replace(/\s+/g, " ");
const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
const mb = (kb: number) => `${Math.round(kb / 1024)} MB`;
const minutes = (s: number) =>
  `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;

/** Peak RSS (VmHWM, kB) of a process while it lives, sampled. */
function vmHwm(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** CPU seconds (user + system) of a process, from /proc (0 once it is gone). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[11]) + Number(rest[12])) / 100;
  } catch {
    return 0;
  }
}

interface ChildRun {
  code: number | null;
  ms: number;
  stdout: string;
  stderr: string;
  peakRssKb: number;
  pgCpuS: number;
}

/** scripts/backfill.ts as its own process; its peak RSS and the database backends' CPU. */
async function backfill(
  args: string[],
  env: Record<string, string>,
  admin: pg.Client,
  dbName: string,
  stopAfterMs?: number,
): Promise<ChildRun> {
  const started = performance.now();
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", "scripts/backfill.ts", ...args],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  // Backends of the bench database: CPU at first sight, and the latest reading.
  const cpu = new Map<number, { first: number; last: number }>();
  const sampleBackends = async () => {
    const r = await admin.query<{ pid: number }>(
      "select pid from pg_stat_activity where datname = $1 and backend_type = 'client backend'",
      [dbName],
    );
    for (const { pid } of r.rows) {
      const s = cpuSeconds(pid);
      const seen = cpu.get(pid);
      if (seen) seen.last = Math.max(seen.last, s);
      else cpu.set(pid, { first: s, last: s });
    }
  };
  await sampleBackends();
  let peak = 0;
  const timer = setInterval(() => {
    if (child.pid) peak = Math.max(peak, vmHwm(child.pid));
    void sampleBackends();
  }, 250);
  const stopper =
    stopAfterMs === undefined ? undefined : setTimeout(() => child.kill("SIGINT"), stopAfterMs);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearInterval(timer);
  if (stopper) clearTimeout(stopper);
  await sampleBackends();
  let pgCpuS = 0;
  for (const { first, last } of cpu.values()) pgCpuS += last - first;
  return { code, ms: performance.now() - started, stdout, stderr, peakRssKb: peak, pgCpuS };
}

interface Summary {
  usersSeen: number;
  pages: number;
  counts: Record<string, number>;
}

async function main(): Promise<void> {
  const loadBefore = uptime();
  const dbName = `cns_backfill_bench_${Date.now()}`;
  const admin = new pg.Client({ connectionString: values["admin-url"] });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  const url = new URL(values["admin-url"]);
  url.pathname = `/${dbName}`;
  const backend = await openBackend({ databaseUrl: url.toString(), poolSize: 4 });
  const endpoint = await startSqlEndpoint({ backend });
  process.env.DATABASE_URL = "postgres://local:local@localhost:5432/bench";
  process.env.NEON_LOCAL_FETCH_ENDPOINT = endpoint.url;
  const { getDb } = await import("../lib/db.js");
  const db = getDb();
  const apis: ClerkApi[] = [];
  try {
    await migrate(db);
    const users = generatedUsers(n);
    const standIn = (cursor: "supported" | "refused") =>
      startClerkApi({
        generated: users,
        rateLimit: PRODUCTION_LIMIT,
        offsetCost: { msPer1000 },
        cursor,
      }).then((a) => {
        apis.push(a);
        return a;
      });
    const byCursor = await standIn("supported");
    const byOffset = await standIn("refused");
    const env = (a: ClerkApi) => ({
      CLERK_SECRET_KEY: a.secretKey,
      CLERK_API_URL: a.url,
      DATABASE_URL: process.env.DATABASE_URL ?? "",
      NEON_LOCAL_FETCH_ENDPOINT: endpoint.url,
    });
    const reset = async () => {
      await db.execute(
        sql`truncate users, mentorados, ${clerkWebhookEvents}, ${emailOutbox}, ${syncRuns} restart identity cascade`,
      );
      // generateUsers' user i has email member+i@example.test, verified unless i % 20 is 18 or
      // 19 (19: phone only): every `every`-th of them has a profile waiting for its sign-up.
      await db.execute(sql`insert into mentorados (nome_completo, email, turma, origem)
        select 'Pré ' || i, 'member+' || i || '@example.test', 'turma_pre', 'pre_registered'
        from generate_series(0, ${n - 1}::int) i where i % ${every}::int = ${PRE}::int`);
    };

    console.log(
      `backfill bench: ${fmt(n)} generated users (~1.3 kB of JSON each), pages of ${batch}, ` +
        `every ${every}th email pre-registered; stand-in at Clerk's production limit ` +
        `(1000 requests / 10 s), offset pages +${msPer1000} ms per 1,000 users skipped`,
    );
    console.log(`machine: ${cpus().length} cores, shared; before: ${loadBefore}`);

    // 1. By cursor, every user.
    await reset();
    const cursor = await backfill(
      ["--json", "--batch", String(batch)],
      env(byCursor),
      admin,
      dbName,
    );
    if (cursor.code !== 0) throw new Error(`cursor run failed (${cursor.code}): ${cursor.stderr}`);
    const cs = JSON.parse(cursor.stdout) as Summary;
    const cursorStats = { ...byCursor.stats };
    const line = (cols: string[]) => `| ${cols.join(" | ")} |`;
    console.log("");
    console.log(
      line([
        "paging",
        "users",
        "total time",
        "users/s",
        "requests/page",
        "peak RSS",
        "PostgreSQL CPU/user",
        "429s",
      ]),
    );
    console.log(line(["---", "---", "---", "---", "---", "---", "---", "---"]));
    console.log(
      line([
        "cursor",
        fmt(cs.usersSeen),
        minutes(cursor.ms / 1000),
        fmt((1000 * cs.usersSeen) / cursor.ms),
        (cursorStats.requests / cs.pages).toFixed(4),
        mb(cursor.peakRssKb),
        `${((1000 * cursor.pgCpuS) / cs.usersSeen).toFixed(3)} ms`,
        String(cursorStats.rateLimited),
      ]),
    );

    // 2. The dry run and the rows.
    const dry = await backfill(
      ["--dry-run", "--json", "--batch", String(batch)],
      env(byCursor),
      admin,
      dbName,
    );
    const report = JSON.parse(dry.stdout) as ReconciliationReport;
    // Over the whole tables: no SQL deadline (the functions' 8 s is for one event's statements).
    const checks = new pg.Client({ connectionString: url.toString() });
    await checks.connect();
    const checkQuery =
      new PgDialect().sqlToQuery(sql`select (select count(*) from users)::int as users,
      (select count(*) from mentorados)::int as mentorados,
      (select count(*) from mentorados m join users u on u.id = m.user_id
        where m.origem = 'pre_registered' and email_key(u.email) = email_key(m.email))::int as linked_pre,
      (select count(*) from ${emailOutbox})::int as outbox,
      (select count(*) from mentorados m join users u on u.id = m.user_id
        where email_key(u.email) <> email_key(m.email))::int as wrong`);
    const rows = await checks.query<{
      users: number;
      mentorados: number;
      linked_pre: number;
      outbox: number;
      wrong: number;
    }>(checkQuery.sql, checkQuery.params);
    await checks.end();
    const r = rows.rows[0]!;
    // Expected from generateUsers' rules: verified emails are users i with i % 20 < 18.
    const expectedVerified = Math.floor(n / 20) * 18 + Math.min(n % 20, 18);
    let expectedPre = 0;
    for (let i = PRE; i < n; i += every) if (i % 20 < 18) expectedPre++;
    const rowsOk =
      r.users === n &&
      r.mentorados === expectedVerified + (Math.ceil((n - PRE) / every) - expectedPre) &&
      r.linked_pre === expectedPre &&
      r.outbox === expectedVerified &&
      r.wrong === 0;

    // 3. By offset, capped.
    await reset();
    const offset = await backfill(
      ["--json", "--batch", String(batch)],
      env(byOffset),
      admin,
      dbName,
      offsetSeconds * 1000,
    );
    const os = JSON.parse(offset.stdout) as Summary;
    const offsetStats = { ...byOffset.stats };
    const loadAfter = uptime();

    // Offset pages overlap Clerk's answer with the database's work (one page ahead), so a page
    // costs the longer of the two: the cursor run's per-page time, or Clerk's offset cost.
    const cursorPageMs = cursor.ms / cs.pages;
    const model = (pages: number) => {
      let ms = 0;
      for (let p = 0; p < pages; p++) ms += Math.max(cursorPageMs, (msPer1000 * p * batch) / 1000);
      return ms;
    };
    const allPages = Math.ceil((n + 1) / batch);
    const offsetDone = os.usersSeen >= n;
    const offsetTotalMs = offsetDone ? offset.ms : offset.ms - model(os.pages) + model(allPages);

    console.log(
      line([
        offsetDone ? "offset" : `offset (stopped at ${offsetSeconds} s, rest extrapolated)`,
        offsetDone ? fmt(os.usersSeen) : `${fmt(os.usersSeen)} of ${fmt(n)}`,
        `${offsetDone ? "" : "~"}${minutes(offsetTotalMs / 1000)}`,
        `${fmt((1000 * os.usersSeen) / offset.ms)} (first ${fmt(os.usersSeen)}); ~${fmt((1000 * n) / offsetTotalMs)} overall`,
        (offsetStats.requests / Math.max(os.pages, 1)).toFixed(4),
        mb(offset.peakRssKb),
        `${((1000 * offset.pgCpuS) / Math.max(os.usersSeen, 1)).toFixed(3)} ms`,
        String(offsetStats.rateLimited),
      ]),
    );
    console.log("");
    console.log(
      `dry run after the cursor run: ${report.inSync ? "in sync" : "NOT in sync"} ` +
        `(Clerk ${fmt(report.clerkUsers)}, database ${fmt(report.dbUsers)}, missing ${report.missing}, ` +
        `stale ${report.stale}, profiles waiting ${report.mentoradosMatchingClerkEmail}, invalid ${report.invalid}); ` +
        `dry run ${minutes(dry.ms / 1000)}, peak RSS ${mb(dry.peakRssKb)}`,
    );
    console.log(
      `rows: ${fmt(r.users)} users, ${fmt(r.mentorados)} profiles (${fmt(r.linked_pre)} pre-registered ones linked, ` +
        `${r.wrong} linked to another email), ${fmt(r.outbox)} welcome emails queued: ` +
        (rowsOk ? "as expected" : "NOT as expected"),
    );
    if (!offsetDone)
      console.log(
        `offset: ${fmt(os.usersSeen)} users in ${minutes(offset.ms / 1000)}, then Ctrl-C; the rest of ` +
          `the ${fmt(allPages)} pages extrapolated as max(cursor page ${Math.round(cursorPageMs)} ms, ` +
          `stand-in offset cost) per page (the model gives ${minutes(model(os.pages) / 1000)} for the part measured)`,
      );
    console.log(
      `bench process (stand-in + SQL endpoint) RSS now: ${mb(process.memoryUsage().rss / 1024)}`,
    );
    console.log(`after: ${loadAfter}`);
    if (!report.inSync || !rowsOk) process.exitCode = 1;
  } finally {
    for (const a of apis) await a.close();
    await endpoint.close();
    await backend.close();
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
