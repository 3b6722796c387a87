// `npm run dev`: the whole product on one machine, in one process, with no account, Docker or
// internet. It is also `vercel dev`'s Development Command (vercel.json), so both start the same.
//   1. configuration by one rule: the process environment (what a user exports, or what `vercel
//      dev` passes from the project's Development settings) beats the git-ignored .env.local,
//      which beats the local defaults and stand-ins (a dev webhook signing secret is generated
//      into .env.local once when none is set);
//   2. the database: embedded PGlite with its data in .data/pglite (PGLITE_DATA_DIR overrides), or,
//      when DATABASE_URL is a postgres:// URL on this machine, that PostgreSQL server; on any other
//      host (a Neon branch), that database, used directly and never migrated unless asked;
//   3. for a local database, the local endpoint that speaks Neon's SQL-over-HTTP protocol in front
//      of it, so the functions run the production driver unchanged (NEON_LOCAL_FETCH_ENDPOINT);
//   4. migrations, applied to a local database through that endpoint as `vercel-build` applies
//      them on Neon; for a remote one, only counted (`npm run dev -- --migrate` applies them);
//   5. every function under api/ on http://localhost:${PORT:-3000}, with Vercel's file routing;
//   6. a Clerk Backend API stand-in (users user_dev0.., for backfill, resync and GET /api/me) and
//      the local dev key that `npm run token` signs session tokens with, each used only for the
//      Clerk settings left unset (scripts/local/clerk-settings.ts).
// Ctrl-C (SIGINT) or SIGTERM closes the server, the endpoint and the database cleanly: exit 0.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { parseArgs } from "node:util";
import { getDb } from "../lib/db.js";
import { dispatchWelcomeEmails } from "../lib/email/dispatch.js";
import {
  createLogProvider,
  formatEmailForTerminal,
  formatEmailLine,
  setLocalEmailSink,
} from "../lib/email/providers.js";
import { getEmailEnv } from "../lib/env.js";
import { connectionTarget } from "./db/connection-error.js";
import { explainMigrationFailure, migrate, unappliedMigrations } from "./db/migrate.js";
import { listFunctions, startApiServer } from "./local/api-server.js";
import { type ClerkApi, generateUsers, startClerkApi } from "./local/clerk-api.js";
import { applyClerkSettings, type ClerkSetting } from "./local/clerk-settings.js";
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
  sidePort,
  underVercelDev,
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

/** A data dir or a port still held, maybe by a previous instance that is closing. */
class BusyError extends StartupError {}

/**
 * How long a dev server started by `vercel dev` waits for its data dir and side ports. The CLI
 * restarts its Development Command (when it refreshes the project's OIDC token, or the
 * configuration changes) by signalling the old process and starting the new one at once, while the
 * old one is still closing its database and ports. `npm run dev` alone does not wait.
 */
const RESTART_GRACE_MS = 20_000;

async function waitingForPredecessor<T>(attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + (underVercelDev() ? RESTART_GRACE_MS : 0);
  let said = false;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof BusyError) || Date.now() >= deadline) throw err;
      if (!said) console.log(`waiting for a previous dev server to let go: ${err.message}`);
      said = true;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function fail(message: string): never {
  throw new StartupError(message);
}

async function listenOr<T>(
  what: string,
  variable: string,
  port: number,
  start: () => Promise<T>,
): Promise<T> {
  return waitingForPredecessor(() =>
    start().catch((err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE") {
        throw new BusyError(
          `port ${port} (${what}) is in use (another npm run dev?). Set ${variable}=<n> (0: any free port), or PORT=<n>, which moves all three under npm run dev.`,
        );
      }
      return fail(`could not start the ${what}: ${err.message}`);
    }),
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
      throw new BusyError(
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

/** One banner line per Clerk setting: its name, and which value is in use and from where. */
function clerkSettingLines(settings: ClerkSetting[]): string[] {
  const width = Math.max(...settings.map((c) => c.name.length));
  return settings.map((c) => `    ${c.name.padEnd(width)}  ${c.describe}`);
}

/**
 * The banner's Migrations line for a remote database: how many are pending and the command that
 * applies them; with --migrate, applied. Never a reason not to start: an unreachable database is
 * said here, and /api/health says why on every call.
 */
async function remoteMigrations(apply: boolean): Promise<string> {
  try {
    if (apply) {
      const m = await migrate(getDb());
      return `${m.applied.length} applied now (--migrate), ${m.total} in total`;
    }
    const pending = await unappliedMigrations(getDb());
    if (pending.length === 0) return "none pending (never migrated by the dev server)";
    return (
      `${pending.length} pending (${pending.map((m) => m.tag).join(", ")}), not applied: ` +
      "run npm run db:migrate, or npm run dev -- --migrate"
    );
  } catch (err) {
    if (apply) fail(`migrations failed: ${explainMigrationFailure(err)}`);
    return `unknown, the database could not be read: ${explainMigrationFailure(err)}`;
  }
}

function parseFlags(): { migrate: boolean } {
  try {
    const { values } = parseArgs({ options: { migrate: { type: "boolean", default: false } } });
    return { migrate: values.migrate };
  } catch (err) {
    return fail(
      `${err instanceof Error ? err.message : String(err)} (the one option is --migrate)`,
    );
  }
}

async function main(): Promise<void> {
  const flags = parseFlags();
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
    let migrations: string;
    if (choice.kind === "remote") {
      // As on Vercel: the production driver talks to the database itself, no endpoint in
      // between (a NEON_LOCAL_FETCH_ENDPOINT set in the environment still wins: tests use it).
      process.env.DATABASE_URL = choice.url;
      migrations = await remoteMigrations(flags.migrate);
    } else {
      if (choice.kind === "pglite") {
        const dataDir = choice.dataDir;
        unlock = await waitingForPredecessor(async () => lockDataDir(dataDir));
        mkdirSync(dirname(choice.dataDir), { recursive: true });
        backend = await openBackend({ dataDir: choice.dataDir });
        process.env.DATABASE_URL = PGLITE_DATABASE_URL;
      } else {
        backend = await openBackend({ databaseUrl: choice.url });
        // The driver keeps the real connection string; the endpoint's pg pool does the talking.
        process.env.DATABASE_URL = choice.url;
      }
      const sqlPort = sidePort("DEV_SQL_PORT", 1, apiPort);
      endpoint = await listenOr("SQL endpoint", "DEV_SQL_PORT", sqlPort, () =>
        startSqlEndpoint({ backend: backend as SqlBackend, port: sqlPort }),
      );
      process.env.NEON_LOCAL_FETCH_ENDPOINT = endpoint.url;
      // A database of this machine, made for development: migrated at every start.
      const migration = await migrate(getDb()).catch((err: unknown) =>
        fail(`migrations failed on ${backend?.description}: ${explainMigrationFailure(err)}`),
      );
      migrations = `${migration.applied.length} applied now, ${migration.total} in total`;
    }
    // Every log-provider email (inline after a webhook, or from the loop above) lands here: one
    // line each, or the whole email with DEV_EMAIL_BODY=1.
    const wholeEmails = process.env.DEV_EMAIL_BODY === "1";
    setLocalEmailSink((e, key) =>
      process.stdout.write(wholeEmails ? formatEmailForTerminal(e, key) : formatEmailLine(e, key)),
    );
    // Not on a remote database: its outbox may be a shared environment's, not this laptop's.
    if (choice.kind !== "remote") jobs = startJobs();
    // A local Clerk Backend API with generated users, for `npm run backfill` / `npm run resync`.
    const clerkUsers = Number(process.env.DEV_CLERK_USERS ?? 25);
    // Stable ids (user_dev0, user_dev1, ...) and port: the quick start can name them, and a
    // backfill already applied finds the same users after a restart.
    const clerkPort = sidePort("DEV_CLERK_PORT", 2, apiPort);
    clerk = await listenOr("Clerk API stand-in", "DEV_CLERK_PORT", clerkPort, () =>
      startClerkApi({
        users: generateUsers(clerkUsers, { idPrefix: "dev" }),
        host: "127.0.0.1",
        port: clerkPort,
      }),
    );
    const keyFile = relative(process.cwd(), DEV_KEY_FILE) || DEV_KEY_FILE;
    // The stand-ins fill only the Clerk settings left unset: a configured one is used as it is.
    const clerkSettings = applyClerkSettings({
      apiUrl: clerk.url,
      secretKey: clerk.secretKey,
      jwtKey: () => publicKeyPem(loadDevKey()),
      jwtKeyFile: keyFile,
    });
    markReady();

    const base = `http://localhost:${api.port}`;
    const envFile = relative(process.cwd(), ENV_LOCAL) || ENV_LOCAL;
    const secretWhere =
      secret.source === "environment"
        ? "the environment"
        : secret.source.replace(".env.local", envFile);
    const functions = listFunctions(apiDir);
    const devKeyInUse = clerkSettings.some(
      (c) => c.name === "CLERK_JWT_KEY" && c.source === "stand-in",
    );
    const database =
      choice.kind === "remote"
        ? `remote, ${connectionTarget(choice.url).host} (used directly, as on Vercel)`
        : (backend?.description ?? "");
    const backfillDb =
      choice.kind === "remote"
        ? "DATABASE_URL"
        : `NEON_LOCAL_FETCH_ENDPOINT=${endpoint?.url} DATABASE_URL`;
    const dbValue =
      choice.kind !== "remote" &&
      (process.env.DATABASE_URL === PGLITE_DATABASE_URL ||
        !new URL(process.env.DATABASE_URL ?? "").password)
        ? process.env.DATABASE_URL
        : "$DATABASE_URL";
    // performance.now() counts from the start of this Node process (tsx's loader included).
    const seconds = (performance.now() / 1000).toFixed(1);
    console.log(
      [
        "",
        `clerk-neon-sync dev server ready in ${seconds} s${underVercelDev() ? " (started by vercel dev)" : ""}`,
        `  Local:        ${base}`,
        `  Webhook:      ${base}/api/webhooks/clerk   (POST, signed by svix)`,
        `  Health:       ${base}/api/health`,
        `  Me:           ${base}/api/me   (GET, Authorization: Bearer <session token>)`,
        `  Functions:    ${functions.join(", ")}`,
        `  Database:     ${database}`,
        `  Migrations:   ${migrations}`,
        endpoint
          ? `  SQL endpoint: ${endpoint.url}   (NEON_LOCAL_FETCH_ENDPOINT; port: DEV_SQL_PORT)`
          : "  SQL endpoint: none (the remote database is reached directly)",
        `  Clerk API:    ${clerk.url}   (local stand-in, ${clerkUsers} users; DEV_CLERK_USERS; port: DEV_CLERK_PORT)`,
        `  Secret:       ${maskSecret(secret.secrets[0] ?? "")} (CLERK_WEBHOOK_SIGNING_SECRET) from ${secretWhere}`,
        "  Clerk settings (environment > .env.local > local stand-in):",
        ...clerkSettingLines(clerkSettings),
        `  Emails:       one line each in this terminal, right after the webhook (DEV_EMAIL_BODY=1: whole emails)`,
        `  Jobs:         ${jobs ? backgroundJobs.map((j) => `${j.name} every ${j.everyMs / 1000} s`).join(", ") : "none (remote database: GET /api/cron/welcome-emails sweeps)"}`,
        "",
        `  Try:  npm run send -- user.created --email ana@example.com${api.port === 3000 ? "" : ` --url ${base}/api/webhooks/clerk`}`,
        `        curl ${base}/api/health`,
        devKeyInUse
          ? `        curl -H "authorization: Bearer $(npm run -s token -- --user-id user_dev1)" ${base}/api/me`
          : `        GET ${base}/api/me with a session token of your Clerk instance (CLERK_JWT_KEY is its key)`,
        `        CLERK_API_URL=${clerk.url} CLERK_SECRET_KEY=${clerk.secretKey} \\`,
        `        ${backfillDb}=${dbValue === "$DATABASE_URL" ? '"$DATABASE_URL"' : `'${dbValue}'`} \\`,
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
