// A schema that does not fit (docs/database-layout.md): each permanent SQLSTATE, produced for real
// by an app-shaped change to a migrated database, answers 500 schema_mismatch (never 503
// database_unavailable), writes nothing, and logs the SQLSTATE and the objects, no values. After the
// fix, Svix's redelivery of the same message (same svix-id, same signature) applies, once.
// /api/health names each missing object in turn, in its one select.
import { sql } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as cronRoute from "../api/cron/welcome-emails.js";
import * as healthRoute from "../api/health.js";
import * as meRoute from "../api/me.js";
import { getDb } from "../lib/db.js";
import { REQUIRED_ARBITERS, REQUIRED_TABLES } from "../lib/schema-shape.js";
import { DELETION_ROUTINE, USERS_ROUTINE } from "../lib/sync/routines.js";
import { clerkSource } from "../scripts/backfill/clerk.js";
import { runBackfill } from "../scripts/backfill/run.js";
import { type ClerkApi, startClerkApi } from "../scripts/local/clerk-api.js";
import {
  generateSigningKey,
  publicKeyPem,
  signSessionToken,
} from "../scripts/local/session-token.js";
import { main as resyncMain } from "../scripts/resync.js";
import { buildUser, userEvent } from "./fixtures/clerk.js";
import { type FreshDatabase, freshDatabase } from "./helpers/fresh-database.js";
import { captured, sensitive } from "./helpers/log-capture.js";
import { call, preRegister, signedRequest } from "./helpers/webhook.js";

let fresh: FreshDatabase;
const savedEnv = { ...process.env };
beforeAll(async () => {
  fresh = await freshDatabase();
  await fresh.migrate();
  process.env.NEON_LOCAL_FETCH_ENDPOINT = fresh.endpoint.url;
}, 120_000);
afterAll(async () => {
  process.env.NEON_LOCAL_FETCH_ENDPOINT = savedEnv.NEON_LOCAL_FETCH_ENDPOINT;
  await fresh?.close();
});
afterEach(async () => {
  await exec(
    "truncate users, mentorados, clerk_sync.clerk_webhook_events, clerk_sync.email_outbox, clerk_sync.sync_runs restart identity cascade",
  );
});

async function exec(...statements: string[]): Promise<void> {
  for (const s of statements) await getDb().execute(sql.raw(s));
}
async function counts(): Promise<Record<string, number>> {
  const r = await getDb().execute<Record<string, number>>(sql`select
    (select count(*)::int from users) as users, (select count(*)::int from mentorados) as mentorados,
    (select count(*)::int from clerk_sync.clerk_webhook_events) as ledger`);
  return r.rows[0]!;
}
const lastLine = (event: string) =>
  JSON.parse(captured.findLast((l) => l.includes(`"event":"${event}"`)) ?? "{}") as Record<
    string,
    unknown
  >;

interface Case {
  sqlstate: string;
  what: string;
  /** Before the delivery (a person's profile or a legacy row some cases need). */
  seed?: string[];
  breaks: string[];
  fixes: string[];
  logged: Record<string, unknown>;
  outcome: string;
}

const EMAIL = "pessoa@mismatch.example";
/** `alter function <routine> rename to <name>`, and back. */
const renameRoutine = (r: typeof USERS_ROUTINE, to: string) => [
  `alter function ${r.signature} rename to ${to}`,
  `alter function clerk_sync.${to}${r.signature.slice(r.signature.indexOf("("))} rename to ${r.name.split(".")[1]}`,
];
sensitive.add(EMAIL);

const CASES: Case[] = [
  {
    sqlstate: "42703",
    what: "a column the sync writes is gone",
    breaks: ["alter table users rename column username to nome_de_usuario"],
    fixes: ["alter table users rename column nome_de_usuario to username"],
    logged: { column: "username" },
    outcome: "created",
  },
  {
    sqlstate: "42P01",
    what: "a table of ours is gone",
    breaks: ["alter table clerk_sync.email_outbox rename to email_outbox_old"],
    fixes: ["alter table clerk_sync.email_outbox_old rename to email_outbox"],
    logged: { table: expect.stringMatching(/email_outbox$/) },
    outcome: "created",
  },
  {
    sqlstate: "42883",
    what: "email_key() is gone",
    breaks: ["alter function email_key(text) rename to email_key_old"],
    fixes: ["alter function email_key_old(text) rename to email_key"],
    logged: {},
    outcome: "created",
  },
  {
    sqlstate: "42883",
    what: "this version's routine is missing (deployed, not migrated)",
    breaks: renameRoutine(USERS_ROUTINE, "sync_users_gone").slice(0, 1),
    fixes: renameRoutine(USERS_ROUTINE, "sync_users_gone").slice(1),
    logged: {},
    outcome: "created",
  },
  {
    sqlstate: "42P10",
    what: "the arbiter index of users is gone",
    breaks: ["alter table users drop constraint users_clerk_id_unique"],
    fixes: ["alter table users add constraint users_clerk_id_unique unique (clerk_id)"],
    logged: {},
    outcome: "created",
  },
  {
    sqlstate: "23502",
    what: "an app column is NOT NULL without a default",
    breaks: ["alter table users add column plano text not null"],
    fixes: ["alter table users alter column plano set default 'basico'"],
    logged: { table: "users", column: "plano" },
    outcome: "created",
  },
  {
    sqlstate: "23505",
    what: "an app unique constraint on users.email, and a row from before Clerk",
    seed: [`insert into users (clerk_id, email) values ('legacy_1', '${EMAIL}')`],
    breaks: ["create unique index users_email_app_key on users (email)"],
    fixes: ["drop index users_email_app_key"],
    logged: { constraint: "users_email_app_key", table: "users" },
    outcome: "created",
  },
  {
    sqlstate: "23514",
    what: "an app check constraint refuses the profile the sync creates",
    breaks: [
      "alter table mentorados add constraint mentorados_origem_app check (origem in ('pre_registered'))",
    ],
    fixes: ["alter table mentorados drop constraint mentorados_origem_app"],
    logged: { constraint: "mentorados_origem_app", table: "mentorados" },
    outcome: "created",
  },
];

describe("the webhook on a schema that does not fit", () => {
  it.each(CASES)(
    "$sqlstate ($what): 500 schema_mismatch, nothing written; after the fix the redelivery applies once",
    async (c) => {
      if (c.seed) await exec(...c.seed);
      const before = await counts();
      const event = userEvent("user.created", buildUser({ email: EMAIL }));
      const svixId = `msg_mismatch_${c.sqlstate}`;
      const timestamp = Math.floor(Date.now() / 1000);
      const redeliver = () => call(signedRequest(event, { svixId, timestamp }));
      await exec(...c.breaks);
      try {
        const r = await redeliver();
        expect(r.status).toBe(500);
        expect(r.body).toEqual({
          ok: false,
          error: "schema_mismatch",
          message: expect.stringMatching(/^The database's schema does not match/),
        });
        expect(await counts()).toEqual(before);
        expect(lastLine("clerk_webhook")).toMatchObject({
          level: "error",
          status: 500,
          error: "schema_mismatch",
          sqlstate: c.sqlstate,
          ...c.logged,
        });
      } finally {
        await exec(...c.fixes);
      }
      expect((await redeliver()).body).toMatchObject({ ok: true, outcome: c.outcome });
      expect((await redeliver()).body).toMatchObject({ ok: true, outcome: "duplicate" });
    },
  );

  it("a race on one of the sync's own constraints is still retryable (503), not a mismatch", async () => {
    // The sync's own arbiters are listed by name; an error on one is a transient race.
    const { isSchemaMismatch } = await import("../lib/db-error.js");
    expect(isSchemaMismatch({ code: "23505", constraint: "mentorados_user_id_unique" })).toBe(
      false,
    );
    expect(isSchemaMismatch({ code: "23505", constraint: "users_email_app_key" })).toBe(true);
    expect(isSchemaMismatch({ code: "40001" })).toBe(false);
    expect(isSchemaMismatch({ code: "ECONNREFUSED" })).toBe(false);
  });
});

describe("/api/me, the cron, the backfill and resync say schema_mismatch too", () => {
  let clerk: ClerkApi;
  beforeAll(async () => {
    clerk = await startClerkApi({ users: [buildUser({ id: "user_mismatch1", email: EMAIL })] });
  });
  afterAll(async () => {
    await clerk.close();
    for (const k of ["CLERK_JWT_KEY", "CLERK_SECRET_KEY", "CLERK_API_URL", "CRON_SECRET"]) {
      if (savedEnv[k] === undefined) delete process.env[k];
      else process.env[k] = savedEnv[k];
    }
  });

  const BREAK = "alter table users rename column username to nome_de_usuario";
  const FIX = "alter table users rename column nome_de_usuario to username";

  it("GET /api/me: 500 schema_mismatch with no Retry-After", async () => {
    const key = generateSigningKey();
    process.env.CLERK_JWT_KEY = publicKeyPem(key);
    process.env.CLERK_SECRET_KEY = clerk.secretKey;
    process.env.CLERK_API_URL = clerk.url;
    const token = signSessionToken(key, { sub: "user_mismatch1" });
    sensitive.add(token);
    const ask = async () => {
      const res = await (meRoute as unknown as Record<string, (r: Request) => Promise<Response>>)
        .GET!(
        new Request("https://sync.example.test/api/me", {
          headers: { authorization: `Bearer ${token}` },
        }),
      );
      return {
        status: res.status,
        body: await res.json(),
        retryAfter: res.headers.get("retry-after"),
      };
    };
    await exec(BREAK);
    try {
      expect(await ask()).toMatchObject({
        status: 500,
        body: { ok: false, error: "schema_mismatch" },
        retryAfter: null,
      });
      expect(lastLine("me")).toMatchObject({ error: "schema_mismatch", sqlstate: "42703" });
    } finally {
      await exec(FIX);
    }
    expect(await ask()).toMatchObject({ status: 200, body: { source: "clerk" } });
  });

  it("the welcome cron: 500 schema_mismatch", async () => {
    process.env.CRON_SECRET = "cron-secret-for-mismatch-0123456789";
    sensitive.add(process.env.CRON_SECRET);
    await preRegister("perfil@mismatch.example");
    await exec("alter table clerk_sync.email_outbox rename column attempts to tentativas");
    try {
      const res = await (cronRoute as unknown as Record<string, (r: Request) => Promise<Response>>)
        .GET!(
        new Request("https://sync.example.test/api/cron/welcome-emails", {
          headers: { authorization: `Bearer ${process.env.CRON_SECRET}` },
        }),
      );
      expect(res.status).toBe(500);
      expect(await res.json()).toMatchObject({ ok: false, error: "schema_mismatch" });
      expect(lastLine("welcome_emails")).toMatchObject({
        error: "schema_mismatch",
        sqlstate: "42703",
      });
    } finally {
      await exec("alter table clerk_sync.email_outbox rename column tentativas to attempts");
    }
  });

  it("the backfill's run records schema_mismatch with the SQLSTATE; resync prints it", async () => {
    await exec(BREAK);
    try {
      const source = clerkSource({ secretKey: clerk.secretKey, apiUrl: clerk.url });
      const stopped = await runBackfill({ db: getDb(), clerk: source, defaultTurma: "t" }).then(
        () => undefined,
        (e: unknown) => e as { message: string },
      );
      expect(stopped?.message, stopped?.message).toMatch(
        /: schema_mismatch: SQLSTATE 42703 \(table users, column username\)/,
      );
      const run = await getDb().execute<{ status: string; last_error: string }>(
        sql`select status, last_error from clerk_sync.sync_runs`,
      );
      expect(run.rows).toEqual([
        {
          status: "failed",
          last_error: expect.stringMatching(/failed: schema_mismatch: SQLSTATE 42703/),
        },
      ]);

      const errors: string[] = [];
      const write = process.stderr.write;
      process.stderr.write = ((s: string) => {
        errors.push(s);
        return true;
      }) as typeof process.stderr.write;
      process.env.CLERK_SECRET_KEY = clerk.secretKey;
      process.env.CLERK_API_URL = clerk.url;
      try {
        expect(await resyncMain(["user_mismatch1"])).toBe(2);
      } finally {
        process.stderr.write = write;
      }
      expect(errors.join("")).toMatch(
        /^resync failed: apply the user failed: schema_mismatch: SQLSTATE 42703 \(table users, column username\)/,
      );
    } finally {
      await exec(FIX);
    }
  });
});

describe("/api/health names each object the sync needs, in turn, in one select", () => {
  async function health() {
    const res = await (healthRoute as unknown as Record<string, (r: Request) => Promise<Response>>)
      .GET!(new Request("https://sync.example.test/api/health"));
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
  it("every required column, renamed away, is named; the answer is 503 schema mismatch", async () => {
    expect(await health()).toMatchObject({ status: 200, body: { schema: "ok" } });
    for (const t of REQUIRED_TABLES) {
      for (const column of Object.keys(t.columns)) {
        await exec(`alter table ${t.table} rename column ${column} to ${column}_gone`);
        try {
          const requests = fresh.endpoint.stats.requests;
          const h = await health();
          expect(fresh.endpoint.stats.requests - requests).toBe(1);
          expect(h, `${t.table}.${column}`).toMatchObject({
            status: 503,
            body: {
              ok: false,
              error: "schema_mismatch",
              schema: "mismatch",
              // An index on the column is named too, when there is one.
              schema_problems: expect.arrayContaining([`column ${t.table}.${column} (missing)`]),
            },
          });
        } finally {
          await exec(`alter table ${t.table} rename column ${column}_gone to ${column}`);
        }
      }
    }
    expect(await health()).toMatchObject({ status: 200 });
  });

  it("every table, the function, each arbiter index, an unusable type and an unfilled NOT NULL column", async () => {
    const one = async (breaks: string, fixes: string, ...problems: string[]) => {
      await exec(breaks);
      try {
        const h = await health();
        expect(h.status, problems[0]).toBe(503);
        expect(h.body.schema_problems, problems[0]).toEqual(problems);
      } finally {
        await exec(fixes);
      }
    };
    for (const t of REQUIRED_TABLES) {
      const [ns, rel] = t.table.split(".") as [string, string];
      await one(
        `alter table ${t.table} rename to ${rel}_gone`,
        `alter table ${ns}.${rel}_gone rename to ${rel}`,
        `table ${t.table} (missing)`,
      );
    }
    await one(
      "alter function email_key(text) rename to email_key_gone",
      "alter function email_key_gone(text) rename to email_key",
      "function public.email_key(text) (missing)",
      // The index follows the function it calls, under its new name.
      "unique index on public.mentorados (email_key(email)) (missing)",
    );
    for (const r of [USERS_ROUTINE, DELETION_ROUTINE]) {
      const [breaks, fixes] = renameRoutine(r, "sync_routine_gone") as [string, string];
      await one(breaks, fixes, `function ${r.signature} (missing)`);
    }
    // Both missing, as on a database this version was deployed to without migrating: the hint
    // says to migrate.
    const both = [USERS_ROUTINE, DELETION_ROUTINE].map((r, i) => renameRoutine(r, `gone_${i}`));
    await exec(...both.map(([b]) => b!));
    try {
      expect((await health()).body).toMatchObject({
        error: "schema_mismatch",
        schema_problems: [USERS_ROUTINE, DELETION_ROUTINE]
          .map((r) => `function ${r.signature} (missing)`)
          .sort(),
        hint: expect.stringMatching(/routines are missing.*npm run db:migrate/),
      });
    } finally {
      await exec(...both.map(([, f]) => f!));
    }
    const indexes: Record<string, [string, string]> = {
      "public.users": [
        "alter table users drop constraint users_clerk_id_unique",
        "alter table users add constraint users_clerk_id_unique unique (clerk_id)",
      ],
      "public.mentorados": [
        "drop index mentorados_email_identity_key",
        "create unique index mentorados_email_identity_key on mentorados (email_key(email))",
      ],
      "clerk_sync.clerk_webhook_events": [
        "alter table clerk_sync.clerk_webhook_events drop constraint clerk_webhook_events_pkey",
        "alter table clerk_sync.clerk_webhook_events add primary key (svix_id)",
      ],
      "clerk_sync.email_outbox": [
        "alter table clerk_sync.email_outbox drop constraint email_outbox_kind_mentorado_id_key",
        "alter table clerk_sync.email_outbox add constraint email_outbox_kind_mentorado_id_key unique (kind, mentorado_id)",
      ],
    };
    for (const a of REQUIRED_ARBITERS) {
      const [breaks, fixes] = indexes[a.table]!;
      await one(breaks, fixes, `unique index on ${a.table} (${a.on}) (missing)`);
    }
    await one(
      "alter table users alter column email_verified type text",
      "alter table users alter column email_verified type boolean using email_verified::boolean",
      "column public.users.email_verified (type text, needs boolean)",
    );
    await one(
      "alter table mentorados add column status text not null",
      "alter table mentorados drop column status",
      "column public.mentorados.status (NOT NULL without a default; the sync does not fill it)",
    );
  });
});
