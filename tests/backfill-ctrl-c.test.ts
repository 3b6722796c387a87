// Ctrl-C as a terminal sends it: SIGINT to the whole process group of the real `npm run backfill`
// (npm, the shell, node), at random moments (seeded: a failure names its seed). One Ctrl-C must
// stop after the current page every time (run recorded interrupted, exit 130, --resume finishes
// it); a second one a second or more later quits at once.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { clerkWebhookEvents, emailOutbox, syncRuns } from "../drizzle/schema.js";
import { getDb } from "../lib/db.js";
import { type ClerkApi, generateUsers, startClerkApi } from "../scripts/local/clerk-api.js";
import { rng } from "./fixtures/random.js";
import { LOCAL_DATABASE_URL } from "./helpers/constants.js";
import { inject } from "./helpers/provided.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SEED = Number(process.env.SIGINT_SEED ?? 24);
const ROUNDS = process.env.STRESS ? 40 : 8;

let api: ClerkApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `npm run backfill -- ...args` in a process group of its own, as a terminal's foreground job. */
function npmBackfill(a: ClerkApi, args: string[]): { child: ChildProcess; exit: Promise<Exit> } {
  const child = spawn("npm", ["run", "backfill", "--", ...args], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      CLERK_SECRET_KEY: a.secretKey,
      CLERK_API_URL: a.url,
      DATABASE_URL: LOCAL_DATABASE_URL,
      NEON_LOCAL_FETCH_ENDPOINT: inject("sqlEndpoint"),
    },
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exit = new Promise<Exit>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, exit };
}

/** What a terminal does on Ctrl-C: SIGINT to every process of the foreground group. */
function ctrlC(child: ChildProcess): void {
  if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, "SIGINT");
}

type Run = { status: string; last_error: string | null; users_seen: number; pages: number };

async function runRows(): Promise<Run[]> {
  const r = await getDb().execute<Run>(
    sql`select status, last_error, users_seen, pages from ${syncRuns} order by id`,
  );
  return r.rows;
}

async function userCount(): Promise<number> {
  const r = await getDb().execute<{ n: number }>(sql`select count(*)::int as n from users`);
  return r.rows[0]!.n;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => Promise<boolean>, exit: Promise<Exit>): Promise<boolean> {
  let done = false;
  void exit.then(() => {
    done = true;
  });
  while (!done) {
    if (await check()) return true;
    await sleep(10);
  }
  return false;
}

async function truncate(): Promise<void> {
  await getDb().execute(
    sql`truncate users, mentorados, ${clerkWebhookEvents}, ${emailOutbox}, ${syncRuns} restart identity cascade`,
  );
}

describe("Ctrl-C on npm run backfill", () => {
  it(`stops after the current page every time (${ROUNDS} rounds at random moments, seed ${SEED}), then --resume finishes`, {
    timeout: 60_000 * (process.env.STRESS ? 20 : 4),
  }, async () => {
    const total = 3000;
    const users = generateUsers(total);
    api = await startClerkApi({ users, rateLimit: null });
    const random = rng(SEED);
    let midRun = 0;
    for (let round = 0; round < ROUNDS; round++) {
      await truncate();
      const { child, exit } = npmBackfill(api, ["--batch", "100"]);
      // Half the rounds count from the spawn (npm and node still starting: nothing recorded yet
      // or the run just created), half from the moment the run's row exists (pages in flight).
      const fromRow = round % 2 === 1;
      if (fromRow) await until(async () => (await runRows()).length > 0, exit);
      await sleep(Math.floor(random() * (fromRow ? 1500 : 2500)));
      ctrlC(child);
      const out = await exit;
      const context = `round ${round} (seed ${SEED}): ${out.stderr.slice(-600)}`;
      const rows = await runRows();
      if (out.code === 0) {
        // Only when the signal came after the last page: then the run is simply finished.
        expect(rows, context).toMatchObject([{ status: "finished", users_seen: total }]);
        continue;
      }
      // 130 as a shell reports it: npm's own exit code, or npm ended by the SIGINT it re-raises
      // on itself when node died of it (a press while node was still loading, before any handler).
      expect(out.code ?? (out.signal === "SIGINT" ? 130 : out.signal), context).toBe(130);
      expect(rows.length, context).toBeLessThanOrEqual(1);
      const run = rows[0];
      if (run === undefined) {
        // Stopped before the run began: nothing written.
        expect(await userCount(), context).toBe(0);
        continue;
      }
      // Once a run exists its handler does too: a clean stop, never a process killed mid-page.
      expect(out.code, context).toBe(130);
      expect(run, context).toMatchObject({ status: "failed", last_error: "interrupted" });
      // Page-granular: exactly the pages the checkpoint holds, no page half applied.
      expect(await userCount(), context).toBe(run.users_seen);
      expect(run.users_seen, context).toBe(run.pages * 100);
      expect(out.stderr, context).toContain("run again with --resume");
      midRun++;

      const resumed = npmBackfill(api, ["--resume"]);
      const done = await resumed.exit;
      expect(done.code, done.stderr).toBe(0);
      expect(await runRows()).toMatchObject([{ status: "finished", users_seen: total }]);
      expect(await userCount()).toBe(total);
    }
    // The rounds timed from the run's row land mid-run: the case that matters was exercised.
    expect(midRun).toBeGreaterThanOrEqual(ROUNDS / 4);
  });

  it("quits at once on a second Ctrl-C a second or more after the first", async () => {
    // Each page takes Clerk 4 s: the first Ctrl-C waits for it, the second does not.
    api = await startClerkApi({ users: generateUsers(300), rateLimit: null, listLatencyMs: 4000 });
    const { child, exit } = npmBackfill(api, ["--batch", "100"]);
    expect(await until(async () => (await runRows()).length > 0, exit)).toBe(true);
    ctrlC(child);
    await sleep(1200);
    ctrlC(child);
    const out = await exit;
    expect(out.code).toBe(130);
    expect(out.stderr).toContain("stopping after the current page");
    // Gone before the page in flight was applied: nothing written, the run left for --resume.
    expect(await userCount()).toBe(0);
    expect(await runRows()).toMatchObject([{ status: "running", pages: 0 }]);
  });
});
