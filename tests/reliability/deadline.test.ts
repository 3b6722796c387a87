// A database that hangs: every SQL request has a deadline (SQL_TIMEOUT_MS, lib/db.ts). When it
// passes, the function aborts the request, answers 503 database_unavailable and logs
// database_timeout; the SQL endpoint, like Neon, cancels and rolls back the work of a client that
// went away, so nothing is written; Svix's redelivery then converges to exactly one of each row.
//
// On PostgreSQL the hang is real: another session holds a lock on the table a statement needs.
// PGlite serves one request at a time (a lock held elsewhere cannot exist there), so on both
// backends the endpoint's `stallNextBatches` fault also holds a batch open after its statements,
// which shows the rollback on disconnect on PGlite too.
import { sql } from "drizzle-orm";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { getDb } from "../../lib/db.js";
import { createWelcomeCronHandler } from "../../lib/email/cron.js";
import { handleHealth } from "../../lib/health.js";
import { buildUser, clerkId, userEvent } from "../fixtures/clerk.js";
import { control } from "../helpers/endpoint-control.js";
import { captured, sensitive } from "../helpers/log-capture.js";
import { inject } from "../helpers/provided.js";
import { deliver } from "../helpers/webhook.js";

const DEADLINE_MS = "1500";
const CRON_SECRET = "cron-secret-for-deadline-tests-0123";
sensitive.add(CRON_SECRET);
const onPostgres = inject("backendKind") === "postgres";

let mark = 0;
const logged = () => captured.slice(mark).map((l) => JSON.parse(l) as Record<string, unknown>);

beforeEach(() => {
  mark = captured.length;
  process.env.SQL_TIMEOUT_MS = DEADLINE_MS;
});
afterEach(async () => {
  delete process.env.SQL_TIMEOUT_MS;
  await control({ faults: {} });
});

async function counts() {
  const r = await getDb().execute<{
    users: number;
    mentorados: number;
    outbox: number;
    ledger: number;
  }>(
    sql`select (select count(*)::int from users) as users,
      (select count(*)::int from mentorados) as mentorados,
      (select count(*)::int from clerk_sync.email_outbox) as outbox,
      (select count(*)::int from clerk_sync.clerk_webhook_events) as ledger`,
  );
  return r.rows[0];
}

const NONE = { users: 0, mentorados: 0, outbox: 0, ledger: 0 };
const ONE_OF_EACH = { users: 1, mentorados: 1, outbox: 1, ledger: 1 };

function signupEvent(tag: string) {
  return userEvent("user.created", buildUser({ email: `prazo.${tag}@example.com` }));
}

/** Another session, holding `lock table <table> in access exclusive mode` until released. */
async function holdLock(table: string) {
  const c = new pg.Client({ connectionString: inject("backendDatabaseUrl") });
  await c.connect();
  await c.query("begin");
  await c.query(`lock table ${table} in access exclusive mode`);
  return {
    /** Sessions waiting for a lock (on `relation` if given): the cancelled ones are gone. */
    waiters: async (relation?: string) =>
      Number(
        (
          await c.query<{ n: string }>(
            `select count(distinct pid) as n from pg_locks where not granted
             and pid <> pg_backend_pid() and ($1::text is null or relation = $1::regclass)`,
            [relation ?? null],
          )
        ).rows[0]?.n,
      ),
    release: async () => {
      await c.query("commit");
      await c.end();
    },
  };
}

/** Polls `probe` until it returns more than 0 (at most `tries` reads). */
async function untilNonZero(probe: () => Promise<number>, tries = 20): Promise<number> {
  let n = await probe();
  for (let i = 0; n === 0 && i < tries; i++) {
    await new Promise((r) => setTimeout(r, 25));
    n = await probe();
  }
  return n;
}

/** Polls `probe` until it returns 0 (a count, not a clock: at most `tries` reads). */
async function untilZero(probe: () => Promise<number>, tries = 100): Promise<number> {
  let n = await probe();
  for (let i = 0; n !== 0 && i < tries; i++) {
    await new Promise((r) => setTimeout(r, 50));
    n = await probe();
  }
  return n;
}

function expectTimeoutLogged(event: string, svixId?: string) {
  const line = logged().find((l) => l.event === event && l.error === "database_timeout");
  expect(line, `a ${event} line with error database_timeout`).toBeDefined();
  expect(line?.status).toBe(503);
  expect(line?.level).toBe("error");
  if (svixId) expect(line?.svix_id).toBe(svixId);
}

/** The scenario every hang shares: 503 while hung, nothing written, redelivery converges. */
interface Hang {
  /** Runs while the delivery is in flight: checks that it hangs where it should. */
  whileHung?: () => Promise<void>;
  release: () => Promise<void>;
}

async function hangThenRedeliver(hang: () => Promise<Hang>) {
  const event = signupEvent(clerkId("h"));
  const svixId = clerkId("msg");
  const { whileHung, release } = await hang();
  let first: Awaited<ReturnType<typeof deliver>>;
  try {
    const answer = deliver(event, { svixId });
    await whileHung?.();
    first = await answer;
  } finally {
    await release();
  }
  expect(first.status).toBe(503);
  expect(first.body).toMatchObject({ ok: false, error: "database_unavailable" });
  expectTimeoutLogged("clerk_webhook", svixId);
  expect(await counts()).toEqual(NONE);

  const again = await deliver(event, { svixId });
  expect(again.status).toBe(200);
  expect(again.body).toMatchObject({ ok: true, outcome: "created" });
  expect(await counts()).toEqual(ONE_OF_EACH);
}

describe(`SQL deadline (SQL_TIMEOUT_MS=${DEADLINE_MS}) on ${inject("backendKind")}`, () => {
  it("a batch held open before COMMIT (stallNextBatches): 503, rolled back, redelivery creates once", async () => {
    await hangThenRedeliver(async () => {
      await control({ faults: { stallNextBatches: 1 } });
      return { release: async () => {} };
    });
  });

  if (onPostgres) {
    // The user batch is: ledger insert (clerk_sync.clerk_webhook_events), users upsert, then the mentorado
    // claim that writes mentorados and clerk_sync.email_outbox. A lock on each hangs a different statement.
    for (const [table, where] of [
      ["clerk_sync.clerk_webhook_events", "its first statement"],
      ["users", "its second statement"],
      ["clerk_sync.email_outbox", "its last statement"],
    ] as const) {
      it(`a lock on ${table} hangs ${where}: 503, the waiting statement cancelled, nothing written, redelivery creates once`, async () => {
        await hangThenRedeliver(async () => {
          const lock = await holdLock(table);
          return {
            whileHung: async () => {
              // The batch is waiting for this very table (read before the deadline passes).
              expect(await untilNonZero(() => lock.waiters(table))).toBe(1);
            },
            release: async () => {
              // Before the lock goes, the endpoint has cancelled the statement waiting for it.
              const waiting = await untilZero(() => lock.waiters());
              await lock.release();
              expect(waiting).toBe(0);
            },
          };
        });
      });
    }

    it("health answers 503 database_unavailable and logs database_timeout when its query hangs", async () => {
      const lock = await holdLock("clerk_sync.__drizzle_migrations");
      let res: Response;
      try {
        res = await handleHealth(new Request("https://sync.example.test/api/health"));
      } finally {
        await untilZero(() => lock.waiters());
        await lock.release();
      }
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({
        ok: false,
        db: "down",
        error: "database_unavailable",
        misconfigured: [],
      });
      expectTimeoutLogged("health");
    });

    it("the welcome-email cron answers 503 and logs database_timeout when its claim hangs", async () => {
      Object.assign(process.env, { CRON_SECRET, EMAIL_PROVIDER: "log" });
      const lock = await holdLock("clerk_sync.email_outbox");
      let res: Response;
      try {
        res = await createWelcomeCronHandler()(
          new Request("https://sync.example.test/api/cron/welcome-emails", {
            headers: { authorization: `Bearer ${CRON_SECRET}` },
          }),
        );
      } finally {
        await untilZero(() => lock.waiters());
        await lock.release();
        delete process.env.CRON_SECRET;
        delete process.env.EMAIL_PROVIDER;
      }
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ ok: false, error: "database_unavailable" });
      expectTimeoutLogged("welcome_emails");
    });
  }
});
