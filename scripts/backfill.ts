// npm run backfill -- [--dry-run] [--json] [--resume] [--since ISO] [--batch 500] [--retries 5]
//   [--instance production|development]
//
// Brings every Clerk user into the database with the webhook's own rules (see
// scripts/backfill/run.ts), or with --dry-run compares Clerk and the database and writes nothing
// (scripts/backfill/report.ts). Env: CLERK_SECRET_KEY (CLERK_API_URL to point elsewhere, e.g. the
// local stand-in), DATABASE_URL (+ NEON_LOCAL_FETCH_ENDPOINT locally), DEFAULT_TURMA.
// Exit codes: 0 done; 1 bad usage or configuration, nothing to resume; 2 stopped by failures after
// retries (checkpoint saved: --resume); 130 interrupted (checkpoint saved: --resume).
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { clerkSource } from "./backfill/clerk.js";
import { type CtrlC, handleCtrlC } from "./backfill/ctrl-c.js";
import { scriptConfig } from "./backfill/env.js";
import { createProgress } from "./backfill/progress.js";
import { type InstanceKind, RUN_SHARE, runLimit } from "./backfill/rate-limit.js";
import { formatReport, runDryRun } from "./backfill/report.js";
import { DEFAULT_RETRY, type RetryPolicy } from "./backfill/retry.js";
import {
  BackfillStopped,
  type Counts,
  MAX_BATCH,
  NothingToResume,
  runBackfill,
} from "./backfill/run.js";

const USAGE = `usage: npm run backfill -- [options]
  --dry-run      compare Clerk and the database; write nothing; print a reconciliation report
  --json         print the summary (or the report) as JSON on stdout
  --resume       continue the latest unfinished run from its checkpoint (with its own options)
  --since ISO    only users created after this instant (e.g. 2025-01-31T00:00:00Z)
  --batch N      users per page and per transaction, 1..${MAX_BATCH} (default ${MAX_BATCH})
  --retries N    retries of a failing request (5xx, network) before stopping (default ${DEFAULT_RETRY.retries})
  --instance K   the Clerk instance's rate limit to stay under: production (1000 requests per 10 s,
                 the default) or development (100 per 10 s); the run uses ${100 * RUN_SHARE}% of it
env: CLERK_SECRET_KEY, CLERK_API_URL (optional), DATABASE_URL, DEFAULT_TURMA (optional)`;

class UsageError extends Error {}

interface Args {
  dryRun: boolean;
  json: boolean;
  resume: boolean;
  since: string | null;
  batch: number | undefined;
  retries: number;
  instance: InstanceKind;
}

function parse(argv: string[]): Args | "help" {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>["values"];
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: false }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return "help";
  let since: string | null = null;
  if (values.since !== undefined) {
    const t = Date.parse(values.since);
    if (!/^\d{4}-\d{2}-\d{2}/.test(values.since) || Number.isNaN(t))
      throw new UsageError(`--since must be an ISO date or date-time, got "${values.since}"`);
    since = new Date(t).toISOString();
  }
  const int = (name: string, raw: string | undefined, min: number, max: number) => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new UsageError(`--${name} must be an integer from ${min} to ${max}`);
    return n;
  };
  const args: Args = {
    dryRun: values["dry-run"] ?? false,
    json: values.json ?? false,
    resume: values.resume ?? false,
    since,
    batch: int("batch", values.batch, 1, MAX_BATCH),
    retries: int("retries", values.retries, 0, 20) ?? DEFAULT_RETRY.retries,
    instance: instanceKind(values.instance),
  };
  if (args.resume && args.dryRun) throw new UsageError("--resume and --dry-run do not mix");
  if (args.resume && (args.since !== null || args.batch !== undefined))
    throw new UsageError("--resume continues with the run's own --since and --batch");
  return args;
}

function instanceKind(raw: string | undefined): InstanceKind {
  if (raw === undefined || raw === "production") return "production";
  if (raw === "development") return "development";
  throw new UsageError(`--instance must be production or development, got "${raw}"`);
}

const OPTIONS = {
  "dry-run": { type: "boolean" },
  json: { type: "boolean" },
  resume: { type: "boolean" },
  since: { type: "string" },
  batch: { type: "string" },
  retries: { type: "string" },
  instance: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

function countsLine(c: Counts): string {
  return Object.entries(c)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
}

export async function main(argv: string[]): Promise<number> {
  const out = (s: string) => process.stdout.write(`${s}\n`);
  const err = (s: string) => process.stderr.write(`${s}\n`);
  // First thing, so that no Ctrl-C meets a run without its handler (scripts/backfill/ctrl-c.ts).
  // The dry run writes nothing: a press there quits at once.
  const onPress: Interrupt = { quitAtOnce: false, note: err };
  const ctrlC = handleCtrlC({
    first: () => {
      if (onPress.quitAtOnce) process.exit(130);
      onPress.note("backfill: stopping after the current page (Ctrl-C again to quit now)");
    },
    again: () => process.exit(130),
  });
  try {
    return await run(argv, out, err, ctrlC, onPress);
  } finally {
    ctrlC.dispose();
  }
}

/** What a first Ctrl-C does, settled as the run takes shape. */
interface Interrupt {
  quitAtOnce: boolean;
  note: (line: string) => void;
}

async function run(
  argv: string[],
  out: (s: string) => void,
  err: (s: string) => void,
  ctrlC: CtrlC,
  onPress: Interrupt,
): Promise<number> {
  let args: Args | "help";
  try {
    args = parse(argv);
  } catch (e) {
    err(`${(e as Error).message}\n\n${USAGE}`);
    return 1;
  }
  if (args === "help") {
    out(USAGE);
    return 0;
  }

  const config = scriptConfig("backfill", err);
  if (!config) return 1;
  const { env, db } = config;

  const label = args.dryRun ? "dry run" : "backfill";
  let progress = createProgress({ label });
  onPress.quitAtOnce = args.dryRun;
  onPress.note = (line) => progress.note(line);
  if (ctrlC.requested) {
    err(`${label}: interrupted before it started; nothing written`);
    return 130;
  }
  const retry: RetryPolicy = {
    ...DEFAULT_RETRY,
    retries: args.retries,
    onWait: ({ what, reason, ms }) =>
      progress.note(`${label}: ${reason} on ${what}; retrying in ${(ms / 1000).toFixed(1)} s`),
  };
  const clerk = clerkSource({
    secretKey: env.CLERK_SECRET_KEY,
    ...(env.CLERK_API_URL ? { apiUrl: env.CLERK_API_URL } : {}),
    retry,
    rateLimit: runLimit(args.instance),
  });
  const onNote = (line: string) => progress.note(line);
  const onInvalid = (u: { id: string; issue: string }) =>
    progress.note(`${label}: skipped Clerk user ${u.id}, not a valid user: ${u.issue}`);
  const started = performance.now();

  if (args.dryRun) {
    try {
      const report = await runDryRun({
        db,
        clerk,
        ...(args.batch ? { batch: args.batch } : {}),
        since: args.since,
        dbRetry: retry,
        onInvalid,
        onNote,
        onProgress: (p) => progress.update({ value: p.usersSeen, total: p.total }),
      });
      progress.stop();
      out(args.json ? JSON.stringify(report, null, 2) : formatReport(report));
      return 0;
    } catch (e) {
      progress.stop();
      err(`dry run failed: ${(e as Error).message}`);
      return 2;
    }
  }

  try {
    let first = true;
    let resumedAt = 0;
    const result = await runBackfill({
      db,
      clerk,
      defaultTurma: env.DEFAULT_TURMA,
      options: { ...(args.batch ? { batch: args.batch } : {}), since: args.since },
      resume: args.resume,
      dbRetry: retry,
      onInvalid,
      onNote,
      shouldStop: () => ctrlC.requested,
      onProgress: (p) => {
        if (first && p.resumedAt > 0) {
          resumedAt = p.resumedAt;
          progress = createProgress({ label, startValue: p.resumedAt });
        }
        first = false;
        progress.update({
          value: p.usersSeen,
          total: p.total,
          detail: `created ${p.counts.created} linked ${p.counts.linked} stale ${p.counts.stale} dup ${p.counts.duplicate}`,
        });
      },
    });
    progress.stop();
    const ms = Math.round(performance.now() - started);
    if (args.json) {
      out(JSON.stringify({ ok: !result.interrupted, ...result, ms }, null, 2));
    } else {
      const rate = Math.round((1000 * (result.usersSeen - resumedAt)) / Math.max(ms, 1));
      out(
        `backfill run #${result.runId} ${result.interrupted ? "interrupted" : "finished"}` +
          `${result.resumed ? " (resumed)" : ""}: ${result.usersSeen} users in ${result.pages} pages, ` +
          `${(ms / 1000).toFixed(1)} s (${rate} users/s)`,
      );
      out(`  ${countsLine(result.counts)}`);
    }
    if (result.interrupted) {
      err(`backfill: interrupted; run again with --resume to continue run #${result.runId}`);
      return 130;
    }
    return 0;
  } catch (e) {
    progress.stop();
    if (e instanceof NothingToResume) {
      err(`backfill: ${e.message}`);
      return 1;
    }
    if (e instanceof BackfillStopped) {
      if (args.json) out(JSON.stringify({ ok: false, error: e.reason, ...e.state }, null, 2));
      err(`backfill: ${e.message}`);
      return 2;
    }
    if (e instanceof RangeError) {
      err(`backfill: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(
        `backfill failed: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}\n`,
      );
      process.exit(1);
    },
  );
}
