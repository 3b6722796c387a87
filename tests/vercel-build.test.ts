// Vercel's own builder, offline: `vercel build` (the real CLI, scripts/ci/vercel-cli.sh) on a fresh copy of
// the repository with a hand-written .vercel/project.json, as a new Vercel project would build it.
// Then the built webhook function is imported by plain Node (no tsx, no vitest) and given a
// svix-signed `user.created`, against this run's database through the local Neon endpoint.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join, relative } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as healthGET } from "../api/health.js";
import { MIGRATIONS } from "../drizzle/migrations.js";
import { listen } from "../scripts/local/listen.js";
import { openBackend, type SqlBackend } from "../scripts/local/sql-backends.js";
import { type SqlEndpoint, startSqlEndpoint } from "../scripts/local/sql-endpoint.js";
import {
  type OfflineBuild,
  offlineVercelBuild,
  repositoryFiles,
  walkFiles as walk,
} from "../scripts/vercel/offline-build.js";
import { MAX_DURATION_SECONDS, ROOT } from "../scripts/vercel/output.js";
import { buildUser, deletedEvent, userEvent } from "./fixtures/clerk.js";
import { LOCAL_DATABASE_URL, TEST_SECRET } from "./helpers/constants.js";
import { type FreshDatabase, freshDatabase } from "./helpers/fresh-database.js";
import { inject } from "./helpers/provided.js";
import { sqlBlocks } from "./helpers/sql-blocks.js";
import { allMentorados, allOutbox, allUsers, deliver, signedRequest } from "./helpers/webhook.js";

/** spawnSync's answer, without blocking this process's event loop meanwhile. */
function spawnAsync(
  command: string,
  args: string[],
  opts: { env: NodeJS.ProcessEnv },
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

let build: OfflineBuild;
let output: string;
let log: string;
let status: number | null;

beforeAll(async () => {
  build = await offlineVercelBuild({
    env: {
      // The build's migration step runs against this test run's database.
      DATABASE_URL: LOCAL_DATABASE_URL,
      NEON_LOCAL_FETCH_ENDPOINT: inject("sqlEndpoint"),
    },
  });
  ({ output, log, status } = build);
}, 600_000);

afterAll(() => {
  if (build) rmSync(build.dir, { recursive: true, force: true });
});

describe("vercel build (offline, Vercel's CLI)", () => {
  it("succeeds, running the build step once", () => {
    expect(status, log).toBe(0);
    expect(log.match(/Running "npm run vercel-build"/g) ?? [], log).toHaveLength(1);
    expect(log.match(/^migrations: \d+ applied/gm) ?? [], log).toHaveLength(1);
  });

  it("ships exactly one bundled function per api/ file, on Node 22 or 24, with maxDuration", () => {
    const apiFiles = repositoryFiles()
      .filter((f) => /^api\/.*\.ts$/.test(f) && !/(^|\/)[._]/.test(f.slice(4)))
      .map((f) => f.replace(/\.ts$/, ""))
      .sort();
    const funcs = walk(join(output, "functions"))
      .filter((f) => f.endsWith(".vc-config.json"))
      .map((f) => relative(join(output, "functions"), dirname(f)).replace(/\.func$/, ""))
      .sort();
    expect(funcs).toEqual(apiFiles);
    for (const route of funcs) {
      const dir = join(output, "functions", `${route}.func`);
      const config = JSON.parse(readFileSync(join(dir, ".vc-config.json"), "utf8"));
      expect(config.runtime).toMatch(/^nodejs(22|24)\.x$/);
      expect(config.maxDuration).toBe(MAX_DURATION_SECONDS);
      expect(config.launcherType).toBe("Nodejs");
      // One file, well under the 1 MB budget: nothing else (no node_modules) is shipped.
      expect(readdirSync(dir).sort()).toEqual([".vc-config.json", "index.mjs"]);
      expect(statSync(join(dir, config.handler)).size).toBeLessThanOrEqual(1024 * 1024);
    }
  });

  it("publishes no file of the repository", () => {
    expect(walk(join(output, "static"))).toEqual([]);
    const everything = walk(output).map((f) => relative(output, f));
    const repo = new Set(repositoryFiles());
    expect(everything.filter((f) => repo.has(f.replace(/^static\//, "")))).toEqual([]);
  });

  it("schedules only crons that Hobby accepts (at most once a day), each on a function", () => {
    const config = JSON.parse(readFileSync(join(output, "config.json"), "utf8"));
    const crons = config.crons as { path: string; schedule: string }[];
    expect(crons.length).toBeGreaterThan(0);
    for (const { path, schedule } of crons) {
      const [minute, hour, ...rest] = schedule.split(" ");
      expect(rest).toHaveLength(3);
      expect(minute, schedule).toMatch(/^\d{1,2}$/);
      expect(hour, schedule).toMatch(/^\d{1,2}$/);
      expect(existsSync(join(output, "functions", `${path.slice(1)}.func`))).toBe(true);
    }
  });

  it("the built webhook function, imported by plain Node, syncs a signed user.created", async () => {
    const event = userEvent("user.created", buildUser({ email: "built@example.com" }));
    const request = signedRequest(event);
    const script = `
      const mod = await import(${JSON.stringify(join(output, "functions/api/webhooks/clerk.func/index.mjs"))});
      const input = JSON.parse(process.env.REQUEST);
      const res = await mod.POST(new Request(input.url, { method: "POST", headers: input.headers, body: input.body }));
      console.log(JSON.stringify({ status: res.status, body: await res.json() }));`;
    // Not spawnSync: under bun test the SQL endpoint the child calls runs in this very process
    // (the preload), which must stay free to answer it. Plain Node under either runner.
    const run = await spawnAsync(
      process.versions.bun ? "node" : process.execPath,
      ["--input-type=module", "-e", script],
      {
        env: {
          PATH: process.env.PATH,
          DATABASE_URL: LOCAL_DATABASE_URL,
          NEON_LOCAL_FETCH_ENDPOINT: inject("sqlEndpoint"),
          CLERK_WEBHOOK_SIGNING_SECRET: TEST_SECRET,
          REQUEST: JSON.stringify({
            url: request.url,
            headers: Object.fromEntries(request.headers),
            body: await request.text(),
          }),
        },
      },
    );
    expect(run.status, run.stderr).toBe(0);
    const answer = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}");
    expect(answer).toEqual({ status: 200, body: { ok: true, outcome: "created" } });
    const users = await allUsers();
    expect(users.map((u) => u.email)).toEqual(["built@example.com"]);
    const profiles = await allMentorados();
    expect(profiles.map((m) => [m.userId, m.origem])).toEqual([[users[0]!.id, "clerk_signup"]]);
    expect((await allOutbox()).map((o) => o.mentoradoId)).toEqual([profiles[0]!.id]);
  });
});

describe("npm run vercel-build with a database it cannot reach", () => {
  it("fails after bundling with one line naming the cause, as db:migrate does", async () => {
    const s = createServer();
    const port = await listen(s);
    await new Promise((r) => s.close(r));
    const endpoint = `http://127.0.0.1:${port}/sql`;
    // In the build's own copy of the repository, so its .vercel/output is the one overwritten.
    const run = spawnSync(process.execPath, ["--import", "tsx", "scripts/vercel/build.ts"], {
      cwd: build.dir,
      encoding: "utf8",
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: "postgres://app:secret-pw@db.example.test/app",
        NEON_LOCAL_FETCH_ENDPOINT: endpoint,
      },
    });
    expect(run.status, run.stderr).toBe(1);
    expect(run.stdout).toMatch(/^function api\/webhooks\/clerk: /m);
    const lines = run.stderr.trim().split("\n");
    expect(lines).toEqual([
      `vercel-build: migrations failed: cannot reach the SQL endpoint ${endpoint} (ECONNREFUSED): is it running?`,
    ]);
    expect(run.stderr).not.toContain("secret-pw");
  });
});

describe("npm run vercel-build with BUILD_MIGRATIONS=check (a role that cannot run DDL)", () => {
  // The build step alone, in the build's own copy of the repository, as the test above runs it;
  // asynchronously, as the fresh database's endpoint answers from this process.
  const buildStep = (env: Record<string, string>) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ["--import", "tsx", "scripts/vercel/build.ts"], {
        cwd: build.dir,
        env: { PATH: process.env.PATH, ...env },
      });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (c: string) => {
        stdout += c;
      });
      child.stderr.setEncoding("utf8").on("data", (c: string) => {
        stderr += c;
      });
      child.on("error", reject);
      child.on("close", (status) => resolve({ status, stdout, stderr }));
    });

  let fresh: FreshDatabase;
  const cleanups: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    fresh = await freshDatabase();
  }, 120_000);
  afterAll(async () => {
    await fresh?.close();
    for (const cleanup of cleanups) await cleanup();
  });

  it("refuses to deploy onto a database that lacks a migration, naming them, and writes nothing", async () => {
    const run = await buildStep({
      DATABASE_URL: LOCAL_DATABASE_URL,
      NEON_LOCAL_FETCH_ENDPOINT: fresh.endpoint.url,
      BUILD_MIGRATIONS: "check",
    });
    expect(run.status, run.stderr).toBe(1);
    expect(run.stderr.trim().split("\n")).toEqual([
      `vercel-build: migrations: ${MIGRATIONS.length} not applied to this database (${MIGRATIONS.map((m) => m.tag).join(", ")}) and BUILD_MIGRATIONS=check applies none: run \`npm run db:migrate\` with the database owner's DATABASE_URL, then redeploy.`,
    ]);
    // Not even the migrations table: a role without CREATE could not have made it.
    const schema = await fresh.backend.query({
      query:
        "select to_regnamespace('drizzle') is null and to_regnamespace('clerk_sync') is null as absent",
      params: [],
    });
    expect(schema.rows).toEqual([["t"]]);
    // Our journal and the shape in one select; with no journal, one catalog read of which
    // journals exist (an earlier version's rows would not be pending).
    expect(fresh.endpoint.stats.statements).toBe(2);
  });

  it("deploys onto a migrated database without applying anything", async () => {
    const run = await buildStep({
      DATABASE_URL: LOCAL_DATABASE_URL,
      NEON_LOCAL_FETCH_ENDPOINT: inject("sqlEndpoint"),
      BUILD_MIGRATIONS: "check",
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /^migrations: none pending, checked only \(BUILD_MIGRATIONS=check; /m,
    );
    expect(run.stdout).not.toMatch(/applied/);
  });

  it("fails in both modes, naming each object the sync needs that the schema lacks", async () => {
    const broken = await freshDatabase();
    cleanups.push(() => broken.close());
    await broken.migrate();
    for (const q of [
      "alter table users rename column username to nome_de_usuario",
      "alter function email_key(text) rename to chave_email",
      "alter table mentorados add column status text not null",
    ]) {
      await broken.backend.query({ query: q, params: [] });
    }
    const problems = [
      "column public.mentorados.status (NOT NULL without a default; the sync does not fill it)",
      "column public.users.username (missing)",
      "function public.email_key(text) (missing)",
      "unique index on public.mentorados (email_key(email)) (missing)",
    ].join("; ");
    for (const mode of ["check", "apply"]) {
      const run = await buildStep({
        DATABASE_URL: LOCAL_DATABASE_URL,
        NEON_LOCAL_FETCH_ENDPOINT: broken.endpoint.url,
        BUILD_MIGRATIONS: mode,
      });
      expect(run.status, run.stderr).toBe(1);
      expect(run.stderr.trim().split("\n"), mode).toEqual([
        `vercel-build: schema: this database lacks what the sync needs: ${problems}. Where the app ` +
          "owns users and mentorados, add them as docs/database-layout.md says, then redeploy.",
      ]);
    }
  });

  it("a local postgres:// DATABASE_URL without the local endpoint says what to do", async () => {
    const run = await buildStep({ DATABASE_URL: "postgres://postgres@127.0.0.1:5432/test" });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(
      /^vercel-build: DATABASE_URL points at a PostgreSQL on this machine, .*start `npm run dev`/,
    );
  });

  // PostgreSQL only: logging in as another role needs a server (PGlite is one session).
  if (inject("backendKind") === "postgres") {
    it("as the documented least-privilege role: builds with nothing pending, fails with a migration pending (apply: 42501; check names it), the functions sync", async () => {
      // docs/operations.md's roles, as written but for their names (roles are global to a server).
      const suffix = Math.random().toString(36).slice(2, 8);
      const fn = `cns_fn_${suffix}`;
      const [block] = sqlBlocks("docs/operations.md").filter((b) =>
        /create role clerk_sync_fn/.test(b.sql),
      );
      const grants = block!.sql
        .replaceAll("clerk_sync_fn", fn)
        .replaceAll("clerk_sync_backfill", `cns_backfill_${suffix}`);
      const owner = new pg.Client({ connectionString: fresh.url });
      await owner.connect();
      const saved = process.env.NEON_LOCAL_FETCH_ENDPOINT;
      let restricted: { backend: SqlBackend; endpoint: SqlEndpoint } | undefined;
      try {
        // The owner migrates (as `npm run db:migrate` would), then creates the roles.
        await fresh.migrate();
        await owner.query(grants);
        const url = new URL(fresh.url!);
        url.username = fn;
        const backend = await openBackend({ databaseUrl: url.toString() });
        restricted = { backend, endpoint: await startSqlEndpoint({ backend }) };
        const asFn = {
          DATABASE_URL: LOCAL_DATABASE_URL,
          NEON_LOCAL_FETCH_ENDPOINT: restricted.endpoint.url,
        };

        // Nothing pending: the default build runs no DDL (reads only), so the role passes.
        const idle = await buildStep(asFn);
        expect(idle.status, idle.stderr).toBe(0);
        expect(idle.stdout).toMatch(/^migrations: 0 applied, /m);
        // A migration pending: the default build needs DDL the role lacks; check names it.
        const latest = MIGRATIONS.at(-1)!;
        await owner.query("delete from clerk_sync.__drizzle_migrations where created_at = $1", [
          latest.when,
        ]);
        const apply = await buildStep(asFn);
        expect(apply.status).toBe(1);
        expect(apply.stderr).toMatch(
          new RegExp(
            `^vercel-build: migrations failed: ${latest.tag}: .*\\(SQLSTATE 42501\\)$`,
            "m",
          ),
        );
        const pending = await buildStep({ ...asFn, BUILD_MIGRATIONS: "check" });
        expect(pending.status).toBe(1);
        expect(pending.stderr).toMatch(
          new RegExp(`1 not applied to this database \\(${latest.tag}\\)`),
        );
        await owner.query(
          "insert into clerk_sync.__drizzle_migrations (hash, created_at, tag) values ('restored', $1, $2)",
          [latest.when, latest.tag],
        );
        const check = await buildStep({ ...asFn, BUILD_MIGRATIONS: "check" });
        expect(check.status, check.stderr).toBe(0);
        expect(check.stdout).toMatch(/^migrations: none pending, checked only/m);

        // The functions, as that role: a sign-up, an update, a deletion, and the health check.
        process.env.NEON_LOCAL_FETCH_ENDPOINT = restricted.endpoint.url;
        const user = buildUser({ email: "least@example.com" });
        expect((await deliver(userEvent("user.created", user))).body.outcome).toBe("created");
        const later = { ...user, first_name: "Renamed", updated_at: user.updated_at + 1000 };
        expect((await deliver(userEvent("user.updated", later))).body.outcome).toBe("applied");
        expect((await healthGET(new Request("https://sync.example.test/api/health"))).status).toBe(
          200,
        );
        const deleted = deletedEvent(user.id);
        expect((await deliver(deleted)).body.outcome).toBe("deleted");
        const rows = await owner.query("select email, deleted_at is not null as gone from users");
        expect(rows.rows).toEqual([{ email: null, gone: true }]);
      } finally {
        process.env.NEON_LOCAL_FETCH_ENDPOINT = saved;
        await restricted?.endpoint.close();
        await restricted?.backend.close();
        await owner.end();
        // The database goes with the suite's afterAll; the roles are the server's: drop them then.
        cleanups.push(async () => {
          const admin = new pg.Client({ connectionString: inject("backendDatabaseUrl") });
          await admin.connect();
          try {
            await admin.query(`drop role if exists ${fn}, cns_backfill_${suffix}`);
          } finally {
            await admin.end();
          }
        });
      }
    });
  }

  it("refuses a BUILD_MIGRATIONS it does not know, before building anything", async () => {
    const run = await buildStep({ DATABASE_URL: LOCAL_DATABASE_URL, BUILD_MIGRATIONS: "skip" });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim().split("\n")).toEqual([
      "vercel-build: BUILD_MIGRATIONS must be apply (the default) or check.",
    ]);
  });
});

describe("npm run vercel-build without a database", () => {
  it("fails with one clear line naming DATABASE_URL, before building anything", () => {
    const run = spawnSync(
      process.execPath,
      ["--import", "tsx", join(ROOT, "scripts/vercel/build.ts")],
      { cwd: ROOT, encoding: "utf8", env: { PATH: process.env.PATH } },
    );
    expect(run.status).toBe(1);
    const lines = run.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^vercel-build: DATABASE_URL is not set/);
  });
});
