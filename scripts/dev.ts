// `npm run dev`: the whole product on one machine, in one process, with no account, Docker or
// internet:
//   1. configuration from the environment and the git-ignored .env.local (a dev webhook signing
//      secret is generated there once when none is set);
//   2. the database: embedded PGlite with its data in .data/pglite (PGLITE_DATA_DIR overrides), or,
//      when DATABASE_URL is a postgres:// URL on this machine, that PostgreSQL server;
//   3. the local endpoint that speaks Neon's SQL-over-HTTP protocol in front of it, so the
//      functions run the production driver unchanged (NEON_LOCAL_FETCH_ENDPOINT points it there);
//   4. migrations, applied through that endpoint exactly as `vercel-build` applies them on Neon;
//   5. every function under api/ on http://localhost:${PORT:-3000}, with Vercel's file routing;
//   6. a Clerk Backend API stand-in (users user_dev0.., for backfill, resync and GET /api/me) and
//      CLERK_JWT_KEY from the local dev key that `npm run token` signs session tokens with.
// Ctrl-C (SIGINT) or SIGTERM closes the server, the endpoint and the database cleanly: exit 0.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { getDb } from "../lib/db.js";
import { dispatchWelcomeEmails } from "../lib/email/dispatch.js";
import {
  createLogProvider,
  formatEmailForTerminal,
  formatEmailLine,
  setLocalEmailSink,
} from "../lib/email/providers.js";
import { getEmailEnv } from "../lib/env.js";
import { explainMigrationFailure, migrate } from "./db/migrate.js";
import { listFunctions, startApiServer } from "./local/api-server.js";
import { type ClerkApi, generateUsers, startClerkApi } from "./local/clerk-api.js";
import {
  checkDevSecret,
  chooseDatabase,
  devPort,
  ENV_LOCAL,
  ensureDevSecret,
  LocalConfigError,
  loadLocalEnv,
  maskSecret,
  REPO_ROOT,
} from "./local/dev-env.js";
import { DEV_KEY_FILE, loadDevKey, publicKeyPem } from "./local/session-token.js";
import { openBackend, type SqlBackend } from "./local/sql-backends.js";
import { type SqlEndpoint, startSqlEndpoint } from "./local/sql-endpoint.js";

/** What the Neon driver is given as DATABASE_URL with PGlite: only its header reaches the endpoint. */
const PGLITE_DATABASE_URL = "postgres://local:local@localhost:5432/main";
/** Seed of the Clerk stand-in's users: the same ids on every start, so a backfill stays valid. */

// ---------------------------------------------------------------- background jobs
// Jobs that production runs on a schedule (Vercel Cron) run here on an interval, in this process,
// against the same database. ADD BACKGROUND JOBS HERE: one entry per job, e.g.
//   { name: "welcome-emails", everyMs: 10_000, run: () => dispatchWelcomeEmails(getDb()) },
// A run never overlaps the previous one of the same job; a failing run is logged and retried at the
// next tick; shutdown waits for runs in flight before closing the database.
interface BackgroundJob {
  name: string;
  everyMs: number;
  run: () => Promise<unknown>;
}
const backgroundJobs: BackgroundJob[] = [
  {
    // Production: api/cron/welcome-emails.ts, the daily sweeper, on Vercel Cron. Each email is
    // normally sent right after its webhook (lib/email/after-sync.ts, through the api-server's
    // request context); this loop sends what that could not, with the log provider (unless a real
    // provider is configured: then use the cron route).
    name: "welcome-emails",
    everyMs: Number(process.env.DEV_EMAIL_EVERY_MS ?? 10_000),
    run: async () => {
      const email = getEmailEnv();
      if (email.provider !== "log") return;
      await dispatchWelcomeEmails({
        db: getDb(),
        provider: createLogProvider(),
        from: email.from,
        maxAttempts: email.maxAttempts,
      });
    },
  },
];
// ---------------------------------------------------------------- end of background jobs

class StartupError extends Error {}

function fail(message: string): never {
  throw new StartupError(message);
}

/**
 * The local stand-ins' ports: fixed offsets of PORT (SQL endpoint PORT+1, Clerk API PORT+2, so
 * 3001 and 3002 by default), so the commands the banner prints keep working after a restart.
 * PORT=0 (tests) picks free ports for all three.
 */
function sidePort(apiPort: number, offset: number, what: string): number {
  if (apiPort === 0) return 0;
  const p = apiPort + offset;
  if (p > 65535) fail(`PORT ${apiPort} leaves no room for the ${what} on PORT+${offset}`);
  return p;
}

async function listenOr<T>(what: string, port: number, start: () => Promise<T>): Promise<T> {
  return start().catch((err: NodeJS.ErrnoException) =>
    fail(
      err.code === "EADDRINUSE"
        ? `port ${port} (${what}) is in use (another npm run dev?). Set PORT=<n>: it moves all three ports.`
        : `could not start the ${what}: ${err.message}`,
    ),
  );
}

// One dev server per PGlite data dir: two processes writing the same files would corrupt them.
function lockDataDir(dataDir: string): () => void {
  const lock = `${dataDir}.lock`;
  mkdirSync(dirname(lock), { recursive: true });
  try {
    writeFileSync(lock, String(process.pid), { flag: "wx" });
  } catch {
    const pid = Number(readFileSync(lock, "utf8").trim());
    let alive = false;
    try {
      if (pid > 0 && pid !== process.pid) {
        process.kill(pid, 0);
        alive = true;
      }
    } catch {
      alive = false;
    }
    if (alive) {
      fail(
        `${dataDir} is in use by another npm run dev (pid ${pid}). Stop that one, or give this ` +
          "one its own database: PGLITE_DATA_DIR=.data/pglite-2 PORT=3010 npm run dev",
      );
    }
    writeFileSync(lock, String(process.pid));
  }
  return () => rmSync(lock, { force: true });
}

function startJobs(): { stop: () => Promise<void> } {
  const timers: NodeJS.Timeout[] = [];
  const inFlight = new Set<Promise<unknown>>();
  for (const job of backgroundJobs) {
    let running = false;
    const tick = () => {
      if (running) return;
      running = true;
      const p = job
        .run()
        .catch((err: unknown) => {
          console.error(
            JSON.stringify({
              level: "error",
              event: "dev_job_failed",
              job: job.name,
              error: err instanceof Error ? err.name : "Error",
            }),
          );
        })
        .finally(() => {
          running = false;
          inFlight.delete(p);
        });
      inFlight.add(p);
    };
    timers.push(setInterval(tick, job.everyMs));
  }
  return {
    stop: async () => {
      for (const t of timers) clearInterval(t);
      await Promise.allSettled([...inFlight]);
    },
  };
}

async function main(): Promise<void> {
  loadLocalEnv();
  const secret = ensureDevSecret();
  checkDevSecret(secret);
  const host = process.env.HOST?.trim() || "127.0.0.1";
  const choice = chooseDatabase();
  const apiPort = devPort();
  const apiDir = join(REPO_ROOT, "api");

  let backend: SqlBackend | undefined;
  let endpoint: SqlEndpoint | undefined;
  let unlock: (() => void) | undefined;
  let jobs: { stop: () => Promise<void> } | undefined;
  let clerk: ClerkApi | undefined;
  let markReady: () => void = () => {};
  const ready = new Promise<void>((r) => {
    markReady = r;
  });

  // Listen first: a busy port fails fast, before the database is opened.
  const api = await startApiServer({ apiDir, port: apiPort, host, ready }).catch(
    (err: NodeJS.ErrnoException) =>
      fail(
        err.code === "EADDRINUSE"
          ? `port ${process.env.PORT || 3000} is in use (another npm run dev?). Set PORT=<n>.`
          : `could not listen: ${err.message}`,
      ),
  );

  let closing: Promise<void> | undefined;
  const shutdown = (signal: string): Promise<void> => {
    closing ??= (async () => {
      console.log(`\n${signal}: shutting down`);
      await jobs?.stop();
      await api.close();
      await clerk?.close();
      await endpoint?.close();
      await backend?.close();
      unlock?.();
      console.log("stopped: server closed, database closed cleanly");
    })();
    return closing;
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (closing) {
        console.error(`${signal} again: exiting without waiting`);
        process.exit(1);
      }
      shutdown(signal).then(
        () => process.exit(0),
        (err: unknown) => {
          console.error("shutdown failed:", err);
          process.exit(1);
        },
      );
    });
  }

  try {
    if (choice.kind === "pglite") {
      unlock = lockDataDir(choice.dataDir);
      mkdirSync(dirname(choice.dataDir), { recursive: true });
      backend = await openBackend({ dataDir: choice.dataDir });
      process.env.DATABASE_URL = PGLITE_DATABASE_URL;
    } else {
      backend = await openBackend({ databaseUrl: choice.url });
      // The driver keeps the real connection string; the endpoint's pg pool does the talking.
      process.env.DATABASE_URL = choice.url;
    }
    const sqlPort = sidePort(apiPort, 1, "SQL endpoint");
    endpoint = await listenOr("SQL endpoint", sqlPort, () =>
      startSqlEndpoint({ backend: backend as SqlBackend, port: sqlPort }),
    );
    process.env.NEON_LOCAL_FETCH_ENDPOINT = endpoint.url;

    const migration = await migrate(getDb()).catch((err: unknown) =>
      fail(`migrations failed on ${backend?.description}: ${explainMigrationFailure(err)}`),
    );
    // Every log-provider email (inline after a webhook, or from the loop above) lands here: one
    // line each, or the whole email with DEV_EMAIL_BODY=1.
    const wholeEmails = process.env.DEV_EMAIL_BODY === "1";
    setLocalEmailSink((e, key) =>
      process.stdout.write(wholeEmails ? formatEmailForTerminal(e, key) : formatEmailLine(e, key)),
    );
    jobs = startJobs();
    // A local Clerk Backend API with generated users, for `npm run backfill` / `npm run resync`.
    const clerkUsers = Number(process.env.DEV_CLERK_USERS ?? 25);
    // Stable ids (user_dev0, user_dev1, ...) and port: the quick start can name them, and a
    // backfill already applied finds the same users after a restart.
    const clerkPort = sidePort(apiPort, 2, "Clerk API stand-in");
    clerk = await listenOr("Clerk API stand-in", clerkPort, () =>
      startClerkApi({
        users: generateUsers(clerkUsers, { idPrefix: "dev" }),
        host: "127.0.0.1",
        port: clerkPort,
      }),
    );
    // GET /api/me against the stand-in: it syncs on demand from this Clerk API and verifies tokens
    // signed by the local dev key (`npm run token`), whatever .env.local says about a real Clerk.
    process.env.CLERK_SECRET_KEY = clerk.secretKey;
    process.env.CLERK_API_URL = clerk.url;
    process.env.CLERK_JWT_KEY = publicKeyPem(loadDevKey());
    markReady();

    const base = `http://localhost:${api.port}`;
    const envFile = relative(process.cwd(), ENV_LOCAL) || ENV_LOCAL;
    const secretWhere =
      secret.source === "environment"
        ? "the environment (CLERK_WEBHOOK_SIGNING_SECRET)"
        : secret.source.replace(".env.local", envFile);
    const functions = listFunctions(apiDir);
    // performance.now() counts from the start of this Node process (tsx's loader included).
    const seconds = (performance.now() / 1000).toFixed(1);
    console.log(
      [
        "",
        `clerk-neon-sync dev server ready in ${seconds} s`,
        `  Local:        ${base}`,
        `  Webhook:      ${base}/api/webhooks/clerk   (POST, signed by svix)`,
        `  Health:       ${base}/api/health`,
        `  Me:           ${base}/api/me   (GET, Authorization: Bearer <session token>)`,
        `  Functions:    ${functions.join(", ")}`,
        `  Database:     ${backend.description}`,
        `  Migrations:   ${migration.applied.length} applied now, ${migration.total} in total`,
        `  SQL endpoint: ${endpoint.url}   (NEON_LOCAL_FETCH_ENDPOINT)`,
        `  Clerk API:    ${clerk.url}   (local stand-in, ${clerkUsers} users; DEV_CLERK_USERS)`,
        `  Session key:  ${relative(process.cwd(), DEV_KEY_FILE) || DEV_KEY_FILE}   (dev only; CLERK_JWT_KEY is its public half)`,
        `  Secret:       ${maskSecret(secret.secrets[0] ?? "")} from ${secretWhere}`,
        `  Emails:       one line each in this terminal, right after the webhook (DEV_EMAIL_BODY=1: whole emails)`,
        `  Jobs:         ${backgroundJobs.length ? backgroundJobs.map((j) => `${j.name} every ${j.everyMs / 1000} s`).join(", ") : "none"}`,
        "",
        `  Try:  npm run send -- user.created --email ana@example.com${api.port === 3000 ? "" : ` --url ${base}/api/webhooks/clerk`}`,
        `        curl ${base}/api/health`,
        `        curl -H "authorization: Bearer $(npm run -s token -- --user-id user_dev1)" ${base}/api/me`,
        `        CLERK_API_URL=${clerk.url} CLERK_SECRET_KEY=${clerk.secretKey} \\`,
        `        NEON_LOCAL_FETCH_ENDPOINT=${endpoint.url} DATABASE_URL='${process.env.DATABASE_URL !== PGLITE_DATABASE_URL && new URL(process.env.DATABASE_URL ?? "").password ? "$DATABASE_URL" : process.env.DATABASE_URL}' \\`,
        "        npm run backfill -- --dry-run",
        "  Stop: Ctrl-C",
        "",
      ].join("\n"),
    );
  } catch (err) {
    // The reason first: the shutdown lines that follow are routine, the reason is what to act on.
    reportStartupFailure(err);
    await shutdown("startup failed").catch(() => {});
    process.exit(1);
  }
}

function reportStartupFailure(err: unknown): void {
  if (err instanceof StartupError || err instanceof LocalConfigError) {
    console.error(`npm run dev: ${err.message}`);
  } else console.error("npm run dev failed:", err);
}

main().catch((err: unknown) => {
  reportStartupFailure(err);
  process.exit(1);
});
