// A database shared with the app (docs/database-layout.md): the app's own Drizzle migrations and
// journal, its tables and rows, and ours in the schema clerk_sync. Each case runs on a database
// of its own (tests/helpers/fresh-database.ts), through the production driver and drizzle-orm's
// own neon-http migrator for the app's side.
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { migrate as drizzleMigrate } from "drizzle-orm/neon-http/migrator";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import * as healthRoute from "../api/health.js";
import { MIGRATIONS } from "../drizzle/migrations.js";
import { getDb } from "../lib/db.js";
import { migrate } from "../scripts/db/migrate.js";
import { buildUser, userEvent } from "./fixtures/clerk.js";
import { schemaObjects } from "./helpers/catalog.js";
import { type FreshDatabase, freshDatabase } from "./helpers/fresh-database.js";
import { migrationsFolder as makeMigrationsFolder } from "./helpers/migrations-folder.js";
import { call, signedRequest } from "./helpers/webhook.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/app-database/", import.meta.url));
const OURS = fileURLToPath(new URL("../drizzle/", import.meta.url));
const DAY = 86_400_000;
const ourFirst = MIGRATIONS[0]!.when;
const ourLast = MIGRATIONS.at(-1)!.when;

const folders: string[] = [];
afterAll(() => {
  for (const f of folders) rmSync(f, { recursive: true, force: true });
});

/** A migrations folder (tests/helpers/migrations-folder.ts), removed after the file. */
function migrationsFolder(entries: { from: string; tag: string; when: number }[]): string {
  const dir = makeMigrationsFolder(entries);
  folders.push(dir);
  return dir;
}

let fresh: FreshDatabase | undefined;
const savedEndpoint = process.env.NEON_LOCAL_FETCH_ENDPOINT;

/** A database of its own for this test; every handler and getDb() use it until the test ends. */
async function useFreshDatabase(): Promise<FreshDatabase> {
  fresh = await freshDatabase();
  process.env.NEON_LOCAL_FETCH_ENDPOINT = fresh.endpoint.url;
  return fresh;
}
afterEach(async () => {
  process.env.NEON_LOCAL_FETCH_ENDPOINT = savedEndpoint;
  await fresh?.close();
  fresh = undefined;
});

async function rows<T = Record<string, unknown>>(text: string): Promise<T[]> {
  return (await getDb().execute(sql.raw(text))).rows as T[];
}
async function exec(...statements: string[]): Promise<void> {
  for (const s of statements) await getDb().execute(sql.raw(s));
}

/** Every object of a schema (tables, columns, constraints, indexes, functions). */
function publicObjects(schema = "public"): Promise<string[]> {
  return schemaObjects(schema, { triggers: false });
}

/** Every row of the given tables, as JSON text, for "identical before and after". */
async function tableRows(...tables: string[]): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const t of tables) {
    const [r] = await rows<{ j: unknown }>(
      `select coalesce(json_agg(t order by 1), '[]') as j from ${t} t`,
    );
    out[t] = r?.j;
  }
  return out;
}

async function health(): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await (healthRoute as unknown as Record<string, (r: Request) => Promise<Response>>)
    .GET!(new Request("https://sync.example.test/api/health"));
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The app's first migration dated after ours, its next one a day later. */
function appFolder(withNext: boolean): string {
  return migrationsFolder([
    { from: join(FIXTURES, "0000_app_init.sql"), tag: "0000_app_init", when: ourLast + DAY },
    ...(withNext
      ? [
          {
            from: join(FIXTURES, "0001_app_cidade.sql"),
            tag: "0001_app_cidade",
            when: ourLast + 2 * DAY,
          },
        ]
      : []),
  ]);
}

/** What the sync needs in the app's tables and the app's schema lacks, added by hand. */
async function addWhatTheSyncNeeds(): Promise<void> {
  const emailKey = readFileSync(join(OURS, "0001_email_key.sql"), "utf8")
    .split("--> statement-breakpoint")[0]!
    .trim();
  await exec(
    emailKey,
    `create unique index mentorados_email_identity_key on mentorados (email_key(email))`,
  );
}

async function seedApp(): Promise<void> {
  await exec(
    `insert into users (name, email, role) values ('Admin Legado', 'admin@app.example', 'admin')`,
    `insert into mentorados (nome_completo, email, telefone, turma) values
       ('Ana Pré', 'ana@app.example', '+55 11 90000-0001', 'turma_a'),
       ('Sem Email Um', null, null, 'turma_a'),
       ('Sem Email Dois', null, null, 'turma_b')`,
    `insert into sessoes (mentorado_id, data, notas)
       select id, timestamp '2026-11-01 10:00', 'primeira' from mentorados`,
  );
}

const APP_TABLES = ["users", "mentorados", "sessoes", "drizzle.__drizzle_migrations"];

describe("an app's database, with its own journal dated after ours", () => {
  it("our migration creates only clerk_sync's objects; the app's rows and next migration are untouched", async () => {
    await useFreshDatabase();
    const db = getDb();
    await drizzleMigrate(db, { migrationsFolder: appFolder(false) });
    await addWhatTheSyncNeeds();
    await seedApp();
    const objectsBefore = await publicObjects();
    const rowsBefore = await tableRows(...APP_TABLES);

    const first = await migrate(db);
    // The baseline stands for 0000-0003; later migrations (ours only) apply as on any database.
    const later = MIGRATIONS.filter((m) => m.tag >= "0004").map((m) => m.tag);
    expect(first).toMatchObject({ applied: ["baseline", ...later], layout: "baseline" });
    expect(await publicObjects()).toEqual(objectsBefore);
    expect(await tableRows(...APP_TABLES)).toEqual(rowsBefore);
    const ours = await rows<{ relname: string }>(
      `select relname from pg_class where relnamespace = 'clerk_sync'::regnamespace
       and relkind = 'r' order by 1`,
    );
    expect(ours.map((r) => r.relname)).toEqual([
      "__drizzle_migrations",
      "adoption",
      "clerk_webhook_events",
      "email_outbox",
      "sync_runs",
    ]);
    const journal = await rows<{ tag: string; origin: string }>(
      `select tag, origin from clerk_sync.__drizzle_migrations order by id`,
    );
    expect(journal).toEqual(
      MIGRATIONS.map((m) => ({ tag: m.tag, origin: m.tag < "0004" ? "baseline" : "applied" })),
    );

    // Again: nothing to do. The app's journal still holds only the app's row.
    expect(await migrate(db)).toMatchObject({ applied: [] });
    expect(await rows(`select count(*)::int as n from drizzle.__drizzle_migrations`)).toEqual([
      { n: 1 },
    ]);

    // The app's next migration applies with drizzle's own migrator, and ours still has nothing.
    await drizzleMigrate(db, { migrationsFolder: appFolder(true) });
    expect(
      await rows(`select 1 as ok from pg_attribute
        where attrelid = 'mentorados'::regclass and attname = 'cidade'`),
    ).toEqual([{ ok: 1 }]);
    expect(await migrate(db)).toMatchObject({ applied: [] });

    // The functions work on the app's tables: healthy, a pre-registered profile is linked, a new
    // person gets one, and the app's rows referencing profiles stay.
    expect(await health()).toMatchObject({ status: 200, body: { ok: true, schema: "ok" } });
    const linked = await call(
      signedRequest(userEvent("user.created", buildUser({ email: "ana@app.example" }))),
    );
    expect(linked).toMatchObject({ status: 200, body: { outcome: "linked" } });
    const created = await call(
      signedRequest(userEvent("user.created", buildUser({ email: "novo@app.example" }))),
    );
    expect(created).toMatchObject({ status: 200, body: { outcome: "created" } });
    expect(
      await rows(`select m.nome_completo, m.telefone, (m.user_id is not null) as linked
        from mentorados m order by m.id`),
    ).toEqual([
      { nome_completo: "Ana Pré", telefone: "+55 11 90000-0001", linked: true },
      { nome_completo: "Sem Email Um", telefone: null, linked: false },
      { nome_completo: "Sem Email Dois", telefone: null, linked: false },
      { nome_completo: expect.any(String), telefone: null, linked: true },
    ]);
    expect(await rows(`select count(*)::int as n from sessoes`)).toEqual([{ n: 3 }]);
    expect(await rows(`select count(*)::int as n from clerk_sync.email_outbox`)).toEqual([
      { n: 2 },
    ]);
  });

  it("without what the sync needs, health and db:migrate name it (schema mismatch), and nothing of the app's changes", async () => {
    await useFreshDatabase();
    const db = getDb();
    await drizzleMigrate(db, { migrationsFolder: appFolder(false) });
    const objectsBefore = await publicObjects();
    await migrate(db);
    expect(await publicObjects()).toEqual(objectsBefore);
    const h = await health();
    expect(h.status).toBe(503);
    expect(h.body).toMatchObject({
      ok: false,
      db: "up",
      migrations_pending: 0,
      schema: "mismatch",
      error: "schema_mismatch",
      schema_problems: [
        "function public.email_key(text) (missing)",
        "unique index on public.mentorados (email_key(email)) (missing)",
      ],
    });
  });
});

describe("drizzle/baseline/clerk_sync.sql", () => {
  it("creates clerk_sync's objects exactly as migrations 0000 to 0003 leave them", async () => {
    const ours = (await publicObjects("clerk_sync")).filter((o) => !o.includes("__drizzle"));
    await useFreshDatabase();
    await drizzleMigrate(getDb(), { migrationsFolder: appFolder(false) });
    await migrate(getDb());
    const baseline = (await publicObjects("clerk_sync")).filter((o) => !o.includes("__drizzle"));
    expect(baseline).toEqual(ours);
    expect(baseline.length).toBeGreaterThan(30);
  });
});

describe("a database migrated by an earlier version (our tables in public, our journal in drizzle's)", () => {
  /**
   * An app migration dated before ours, by drizzle's own migrator; then our migrations up to 0002
   * as the earlier version's runner applied them: each in one transaction with its row in
   * drizzle.__drizzle_migrations, when newer than the newest row there.
   */
  async function earlierLayout(): Promise<void> {
    const db = getDb();
    await drizzleMigrate(db, {
      migrationsFolder: migrationsFolder([
        {
          from: join(FIXTURES, "0000_app_turmas.sql"),
          tag: "0000_app_turmas",
          when: ourFirst - 2 * DAY,
        },
      ]),
    });
    const older = readMigrationFiles({
      migrationsFolder: migrationsFolder(
        MIGRATIONS.filter((m) => m.tag < "0003").map((m) => ({
          from: join(OURS, `${m.tag}.sql`),
          tag: m.tag,
          when: m.when,
        })),
      ),
    });
    for (const m of older) {
      await db.batch([
        db.execute(sql`insert into drizzle.__drizzle_migrations (hash, created_at)
          values (${m.hash}, ${m.folderMillis})`),
        ...m.sql.filter((x) => x.trim()).map((x) => db.execute(sql.raw(x))),
      ]);
    }
    // Data in every table, as a running deployment leaves it.
    await exec(
      `insert into users (clerk_id, email, email_verified, first_name, clerk_updated_at)
         values ('user_a', 'a@x.example', true, 'A', now()), ('user_b', 'b@x.example', true, 'B', now())`,
      `insert into mentorados (user_id, nome_completo, email, turma, origem)
         values (1, 'A', 'a@x.example', 't', 'clerk_signup'), (null, 'C', 'c@x.example', 't', 'pre_registered')`,
      `insert into clerk_webhook_events (svix_id, type, clerk_user_id, outcome)
         values ('msg_1', 'user.created', 'user_a', 'created'), ('msg_2', 'user.created', 'user_b', 'applied'),
                ('msg_3', 'user.updated', 'user_b', 'stale')`,
      `insert into email_outbox (kind, mentorado_id, status, attempts) values ('welcome', 1, 'sent', 1)`,
      `insert into sync_runs (kind, status, next_offset, pages, users_seen, counts)
         values ('backfill', 'finished', 2, 1, 2, '{"created": 1}')`,
      `insert into turmas (nome) values ('turma_a')`,
    );
  }

  it("moves ledger, outbox and runs into clerk_sync with every row, in one migration; twice changes nothing", async () => {
    await useFreshDatabase();
    await earlierLayout();
    const before = await tableRows(
      "users",
      "mentorados",
      "public.clerk_webhook_events",
      "public.email_outbox",
      "public.sync_runs",
      "turmas",
    );
    const result = await migrate(getDb());
    expect(result).toMatchObject({
      applied: MIGRATIONS.filter((m) => m.tag >= "0003").map((m) => m.tag),
      layout: "upgrade",
    });
    const after = await tableRows(
      "users",
      "mentorados",
      "clerk_sync.clerk_webhook_events",
      "clerk_sync.email_outbox",
      "clerk_sync.sync_runs",
      "turmas",
    );
    expect(Object.values(after)).toEqual(Object.values(before));
    expect(
      await rows(`select to_regclass('public.clerk_webhook_events') as l,
        to_regclass('public.email_outbox') as o, to_regclass('public.sync_runs') as r`),
    ).toEqual([{ l: null, o: null, r: null }]);
    // Our journal has our four; drizzle's keeps only the app's row.
    expect(
      await rows(`select tag, origin from clerk_sync.__drizzle_migrations order by created_at`),
    ).toEqual([
      ...MIGRATIONS.filter((m) => m.tag < "0003").map((m) => ({
        tag: m.tag,
        origin: "moved from drizzle.__drizzle_migrations",
      })),
      ...MIGRATIONS.filter((m) => m.tag >= "0003").map((m) => ({ tag: m.tag, origin: "applied" })),
    ]);
    expect(await rows(`select created_at::text as c from drizzle.__drizzle_migrations`)).toEqual([
      { c: String(ourFirst - 2 * DAY) },
    ]);
    // The moved identity sequences go on where they were.
    expect(
      await rows(`insert into clerk_sync.email_outbox (kind, mentorado_id) values ('welcome', 2)
        returning id`),
    ).toEqual([{ id: 2 }]);

    const snapshotAfter = await tableRows(
      "clerk_sync.clerk_webhook_events",
      "clerk_sync.email_outbox",
      "clerk_sync.sync_runs",
      "clerk_sync.__drizzle_migrations",
    );
    expect(await migrate(getDb())).toMatchObject({ applied: [] });
    expect(
      await tableRows(
        "clerk_sync.clerk_webhook_events",
        "clerk_sync.email_outbox",
        "clerk_sync.sync_runs",
        "clerk_sync.__drizzle_migrations",
      ),
    ).toEqual(snapshotAfter);
    expect(await health()).toMatchObject({
      status: 200,
      body: { ok: true, migrations: MIGRATIONS.at(-1)!.tag, migrations_pending: 0, schema: "ok" },
    });
  });

  it("the app's pending migration, dated before ours, applies with drizzle's migrator once ours moved out", async () => {
    await useFreshDatabase();
    await earlierLayout();
    const appNext = migrationsFolder([
      {
        from: join(FIXTURES, "0000_app_turmas.sql"),
        tag: "0000_app_turmas",
        when: ourFirst - 2 * DAY,
      },
      {
        from: join(FIXTURES, "0001_app_telefone.sql"),
        tag: "0001_app_telefone",
        when: ourFirst - DAY,
      },
    ]);
    // The bug this layout fixes: with our rows (dated later) in the shared journal, drizzle's
    // migrator skips the app's migration silently.
    await drizzleMigrate(getDb(), { migrationsFolder: appNext });
    const telefone = `select count(*)::int as n from pg_attribute
      where attrelid = 'mentorados'::regclass and attname = 'telefone'`;
    expect(await rows(telefone)).toEqual([{ n: 0 }]);

    await migrate(getDb());
    await drizzleMigrate(getDb(), { migrationsFolder: appNext });
    expect(await rows(telefone)).toEqual([{ n: 1 }]);
    expect(await migrate(getDb())).toMatchObject({ applied: [] });
  });
});

describe("migration 0001_email_key and profiles without an email", () => {
  it("two profiles with no email yet are no collision: the migration applies", async () => {
    await useFreshDatabase();
    await drizzleMigrate(getDb(), {
      migrationsFolder: migrationsFolder([
        { from: join(OURS, "0000_init.sql"), tag: "0000_init", when: MIGRATIONS[0]!.when },
      ]),
    });
    // As an app's table allows: email nullable, two profiles without one.
    await exec(
      `alter table mentorados alter column email drop not null`,
      `insert into mentorados (nome_completo, email, turma) values ('Um', null, 't'), ('Dois', null, 't'),
         ('Três', 'tres@x.example', 't')`,
    );
    const result = await migrate(getDb());
    expect(result.applied).toEqual(MIGRATIONS.slice(1).map((m) => m.tag));
    expect(await rows(`select count(*)::int as n from mentorados`)).toEqual([{ n: 3 }]);
  });
});
