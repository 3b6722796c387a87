// `npm run db:adopt` (scripts/db/adopt.ts) on an app's database built as such an app has it: its
// own Drizzle migrations (applied with drizzle-orm's own migrator, dated after ours) and people,
// in camelCase (no Clerk column at all) and snake_case (a Clerk id column of its own). Each case
// runs on a database of its own (tests/helpers/fresh-database.ts), through the production driver.
import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { sql } from "drizzle-orm";
import { migrate as drizzleMigrate } from "drizzle-orm/neon-http/migrator";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { MIGRATIONS } from "../drizzle/migrations.js";
import { getDb } from "../lib/db.js";
import { DEFAULT_MAPPING_FILE, inspect, mappingModule } from "../scripts/db/adopt/apply.js";
import { type AdoptOptions, ArgumentError, parseAdoptArgs } from "../scripts/db/adopt/args.js";
import { sqlStatements } from "../scripts/db/adopt/plan.js";
import { runAdopt } from "../scripts/db/adopt.js";
import { listen } from "../scripts/local/listen.js";
import { schemaObjects } from "./helpers/catalog.js";
import { type FreshDatabase, freshDatabase } from "./helpers/fresh-database.js";
import { migrationsFolder } from "./helpers/migrations-folder.js";
import { inject } from "./helpers/provided.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const FIXTURES = fileURLToPath(new URL("./fixtures/adopt/", import.meta.url));
const DAY = 86_400_000;
const ourLast = MIGRATIONS.at(-1)!.when;
const pgMode = inject("backendKind") === "postgres";
const run = promisify(execFile);

const temps: string[] = [];
afterAll(() => {
  for (const f of temps) rmSync(f, { recursive: true, force: true });
});
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}

type Naming = "camel" | "snake";

/** The app's Drizzle migrations folder: its first migration (and its next), dated after ours. */
function appFolder(naming: Naming, withNext: boolean): string {
  const tags = [
    { tag: "0000_app_init", when: ourLast + DAY },
    ...(withNext ? [{ tag: "0001_app_next", when: ourLast + 2 * DAY }] : []),
  ];
  const dir = migrationsFolder(
    tags.map((e) => ({ ...e, from: join(FIXTURES, naming, `${e.tag}.sql`) })),
  );
  temps.push(dir);
  return dir;
}

let fresh: FreshDatabase | undefined;
const savedEndpoint = process.env.NEON_LOCAL_FETCH_ENDPOINT;
afterEach(async () => {
  process.env.NEON_LOCAL_FETCH_ENDPOINT = savedEndpoint;
  await fresh?.close();
  fresh = undefined;
});

/** A database of its own holding the app's schema and people; getDb() uses it until the test ends. */
async function appDatabase(naming: Naming): Promise<FreshDatabase> {
  fresh = await freshDatabase();
  process.env.NEON_LOCAL_FETCH_ENDPOINT = fresh.endpoint.url;
  await drizzleMigrate(getDb(), { migrationsFolder: appFolder(naming, false) });
  for (const s of readFileSync(join(FIXTURES, naming, "people.sql"), "utf8").split(
    "--> statement-breakpoint",
  ))
    await exec(s);
  return fresh;
}

async function rows<T = Record<string, unknown>>(text: string): Promise<T[]> {
  return (await getDb().execute(sql.raw(text))).rows as T[];
}
async function exec(...statements: string[]): Promise<void> {
  for (const s of statements) await getDb().execute(sql.raw(s));
}

/** The app's rows, only under the given columns of each table (its own, from before adoption). */
async function appRows(columns: Record<string, string[]>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [t, cols] of Object.entries(columns)) {
    const list = cols.map((c) => `"${c}"`).join(", ");
    const [r] = await rows<{ j: unknown }>(
      `select coalesce(json_agg(t order by t.id), '[]') as j from (select ${list} from ${t}) t`,
    );
    out[t] = r?.j;
  }
  return out;
}

async function columnsOf(table: string): Promise<string[]> {
  const r = await rows<{ n: string }>(
    `select attname as n from pg_attribute where attrelid = 'public.${table}'::regclass
     and attnum > 0 and not attisdropped order by attnum`,
  );
  return r.map((x) => x.n);
}

async function pgDump(url: string): Promise<string> {
  const { stdout } = await run("pg_dump", ["--schema-only", "--no-owner", "--no-privileges", url]);
  // The restrict key (pg_dump 15.14+) is random per run.
  return stdout.replace(/^\\(un)?restrict .*$/gm, "");
}

const options = (argv: string[] = [], mappingFile?: string): AdoptOptions =>
  parseAdoptArgs([...argv, ...(mappingFile ? ["--mapping-file", mappingFile] : [])]);

/** The case collision fixed by hand, as the docs say: the duplicate gets its real address. */
const FIX_COLLISION = {
  camel: `update mentorados set email = 'carla.dois@app.example' where id = 4`,
  snake: `update mentorados set email = 'carla.dois@app.example' where id = 5`,
};

describe("db:adopt on a camelCase app database (no Clerk column)", () => {
  it("reports what it finds, blocks on the case collision (exit 1), and is adoptable once it is fixed (exit 0)", async () => {
    await appDatabase("camel");
    const plan = await inspect(getDb(), options());
    expect(plan.tables.users.naming).toBe("camelCase");
    expect(plan.tables.mentorados.naming).toBe("camelCase");
    const status = (t: "users" | "mentorados") =>
      Object.fromEntries(
        plan.tables[t].columns.map((c) => [c.ours, `${c.status} ${"name" in c ? c.name : ""}`]),
      );
    expect(status("users")).toEqual({
      id: "found id",
      clerk_id: "missing clerkId",
      email: "found email",
      email_verified: "missing emailVerified",
      first_name: "missing firstName",
      last_name: "missing lastName",
      username: "missing username",
      image_url: "missing imageUrl",
      clerk_created_at: "missing clerkCreatedAt",
      clerk_updated_at: "missing clerkUpdatedAt",
      deleted_at: "missing deletedAt",
      updated_at: "found updatedAt",
    });
    expect(status("mentorados")).toEqual({
      id: "found id",
      user_id: "found userId",
      nome_completo: "found nomeCompleto",
      email: "found email",
      turma: "found turma",
      origem: "missing origem",
      updated_at: "found updatedAt",
    });
    expect(plan.blockers).toEqual([
      {
        problem:
          "mentorados 3, 4 share one email identity (email_key(): case and surrounding spaces ignored)",
        fix: expect.stringContaining("where id = 4"),
      },
    ]);
    expect(plan.facts).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^legacy users \(no Clerk id\): 3 of 3 \(the Clerk id column is added: all of them\); 1 linked to a profile, 1 without an email/,
        ),
        expect.stringMatching(/^profiles: 5; 1 linked to a user, 4 not linked, 1 without an email/),
        expect.stringContaining("id <= 5 now"),
        "users: triggers none; row-level security off",
        "the app's journal drizzle.__drizzle_migrations: 1 rows, left untouched",
        expect.stringMatching(/^our schema clerk_sync: missing/),
      ]),
    );
    expect(plan.erase).toEqual({
      erased: ["email", "emailVerified", "firstName", "lastName", "username", "imageUrl"],
      notErased: ["name"],
      profileKept: ["nomeCompleto", "email", "telefone"],
    });
    expect(plan.migration).toEqual([
      `ALTER TABLE "public"."users" ADD COLUMN "clerkId" text`,
      `ALTER TABLE "public"."users" ADD COLUMN "emailVerified" boolean`,
      `ALTER TABLE "public"."users" ADD COLUMN "firstName" text`,
      `ALTER TABLE "public"."users" ADD COLUMN "lastName" text`,
      `ALTER TABLE "public"."users" ADD COLUMN "username" text`,
      `ALTER TABLE "public"."users" ADD COLUMN "imageUrl" text`,
      `ALTER TABLE "public"."users" ADD COLUMN "clerkCreatedAt" timestamp with time zone`,
      `ALTER TABLE "public"."users" ADD COLUMN "clerkUpdatedAt" timestamp with time zone`,
      `ALTER TABLE "public"."users" ADD COLUMN "deletedAt" timestamp with time zone`,
      `ALTER TABLE "public"."mentorados" ADD COLUMN "origem" text DEFAULT 'pre_registered'`,
      expect.stringMatching(/^CREATE FUNCTION email_key\(address text\) RETURNS text/),
      `CREATE UNIQUE INDEX "users_clerk_id_key" ON "public"."users" ("clerkId")`,
      `CREATE UNIQUE INDEX "mentorados_email_identity_key" ON "public"."mentorados" (email_key("email"))`,
      `CREATE UNIQUE INDEX "mentorados_user_id_key" ON "public"."mentorados" ("userId")`,
      `CREATE INDEX "users_legacy_email_key_idx" ON "public"."users" (email_key("email")) WHERE "clerkId" IS NULL`,
    ]);
    expect(plan.inverse[0]).toBe("DROP SCHEMA clerk_sync CASCADE");

    const blocked = await runAdopt(getDb(), options());
    expect(blocked.code).toBe(1);
    expect(blocked.stdout).toContain("blockers (1):");
    expect(blocked.stdout).not.toContain("@app.example");
    // --apply refuses, and writes nothing.
    const before = await schemaObjects();
    const refused = await runAdopt(
      getDb(),
      options(["--apply"], join(tempDir("map-"), "mapping.ts")),
    );
    expect(refused.code).toBe(1);
    expect(await schemaObjects()).toEqual(before);

    await exec(FIX_COLLISION.camel);
    const ok = await runAdopt(getDb(), options());
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("blockers: none");
    expect(ok.stdout).toContain("adoptable: npm run db:adopt -- --apply");

    // --welcome-existing: profiles from before adoption get their welcome too.
    const file = join(tempDir("map-"), "mapping.ts");
    const applied = await runAdopt(
      getDb(),
      options(["--apply", "--welcome-existing", "--json"], file),
    );
    expect(applied.code).toBe(0);
    expect(JSON.parse(applied.stdout)).toMatchObject({
      applied: true,
      welcomeAfterMentoradoId: 0,
      mappingFile: file,
      blockers: [],
    });
    expect(await rows(`select welcome_after_mentorado_id as n from clerk_sync.adoption`)).toEqual([
      { n: 0 },
    ]);
    const report = await runAdopt(getDb(), options());
    expect(report.code).toBe(0);
    expect(report.stdout).toMatch(/^already adopted \(/);
  });
});

const APP_COLUMNS = {
  camel: {
    users: ["id", "name", "email", "role", "lastSignedIn", "createdAt", "updatedAt"],
    mentorados: [
      "id",
      "userId",
      "nomeCompleto",
      "email",
      "telefone",
      "turma",
      "status",
      "createdAt",
      "updatedAt",
    ],
    sessoes: ["id", "mentoradoId", "data", "notas"],
  },
  snake: {
    users: [
      "id",
      "clerk_id",
      "name",
      "email",
      "role",
      "last_signed_in",
      "created_at",
      "updated_at",
    ],
    mentorados: [
      "id",
      "user_id",
      "nome_completo",
      "email",
      "telefone",
      "turma",
      "status",
      "origem",
      "created_at",
      "updated_at",
    ],
    sessoes: ["id", "mentorado_id", "data", "notas"],
  },
};

describe.each(["camel", "snake"] as const)("db:adopt --apply on the %s fixture", (naming) => {
  it("adds only what the report said, records the adoption, changes nothing the second time; the printed inverse restores the schema exactly; the app's next migration applies", async () => {
    await appDatabase(naming);
    const db = getDb();
    await exec(FIX_COLLISION[naming]);
    const objectsBefore = await schemaObjects();
    const rowsBefore = await appRows(APP_COLUMNS[naming]);
    const dumpBefore = pgMode && fresh?.url ? await pgDump(fresh.url) : "";
    if (pgMode) expect(dumpBefore).toContain("CREATE TABLE public.mentorados");
    const columnsBefore = {
      users: await columnsOf("users"),
      mentorados: await columnsOf("mentorados"),
    };
    const plan = await inspect(db, options(["--erase", "users.name"]));
    expect(plan.blockers).toEqual([]);
    const file = join(tempDir("map-"), "mapping.ts");

    const applied = await runAdopt(db, options(["--apply", "--erase", "users.name"], file));
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain("applied: our migrations (baseline,");

    // Columns: the app's, then exactly those the report said it would add.
    for (const t of ["users", "mentorados"] as const) {
      const added = plan.tables[t].columns.filter((c) => c.status === "missing").map((c) => c.name);
      expect(await columnsOf(t)).toEqual([...columnsBefore[t], ...added]);
    }
    expect(await appRows(APP_COLUMNS[naming])).toEqual(rowsBefore);
    const journal = await rows(
      `select tag, origin, created_at from clerk_sync.__drizzle_migrations where tag = 'adopt'`,
    );
    expect(journal).toEqual([{ tag: "adopt", origin: "db:adopt", created_at: null }]);
    const [adoption] = await rows<{
      welcome_after_mentorado_id: number;
      mapping: unknown;
      migration: string;
      inverse: string;
    }>(`select welcome_after_mentorado_id, mapping, migration, inverse from clerk_sync.adoption`);
    expect(adoption?.welcome_after_mentorado_id).toBe(naming === "camel" ? 5 : 6);
    expect(adoption?.mapping).toEqual(plan.mapping);
    expect(adoption?.migration).toBe(plan.migration.map((s) => `${s};`).join("\n\n"));
    const mappingText = readFileSync(file, "utf8");
    expect(mappingText).toContain("Written by `npm run db:adopt -- --apply`");
    expect(mappingText).toContain("adopted: true,");
    expect(mappingText).toContain(
      naming === "camel" ? `clerk_id: "clerkId",` : `clerk_id: "clerk_id",`,
    );
    expect(mappingText).toContain(`erase: { users: ["name"] },`);
    // As drizzle/mapping.ts, it is what Biome would write (npm run lint passes once committed).
    const formatted = spawnSync(
      join(REPO, "node_modules", ".bin", "biome"),
      ["format", "--stdin-file-path=drizzle/mapping.ts"],
      { cwd: REPO, input: mappingModule(plan.mapping, DEFAULT_MAPPING_FILE), encoding: "utf8" },
    );
    expect(formatted.stdout).toBe(mappingModule(plan.mapping, DEFAULT_MAPPING_FILE));

    // Again: nothing changes, the same mapping file.
    const objectsAfter = await schemaObjects();
    const again = await runAdopt(db, options(["--apply", "--erase", "users.role"], file));
    expect(again).toMatchObject({ code: 0 });
    expect(again.stdout).toContain("already adopted: nothing changed");
    expect(again.stdout).toContain("--column and --erase given now are not used");
    expect(await schemaObjects()).toEqual(objectsAfter);
    expect(readFileSync(file, "utf8")).toBe(mappingText);
    expect(
      await rows(
        `select count(*)::int as n from clerk_sync.__drizzle_migrations where tag = 'adopt'`,
      ),
    ).toEqual([{ n: 1 }]);

    // --undo prints the stored inverse (never runs it), with its warning; applied, it restores.
    const undo = await runAdopt(db, options(["--undo"]));
    expect(undo.code).toBe(0);
    expect(undo.stdout).toContain("-- WARNING: this undoes the adoption.");
    expect(undo.stdout).toContain("the ledger of deliveries, the welcome-email outbox");
    expect(undo.stdout).toContain(adoption?.inverse);
    expect(await schemaObjects()).toEqual(objectsAfter);
    const [first, ...rest] = sqlStatements(undo.stdout).map((s) => db.execute(sql.raw(s)));
    await db.batch([first!, ...rest]);
    expect(await schemaObjects()).toEqual(objectsBefore);
    expect(await appRows(APP_COLUMNS[naming])).toEqual(rowsBefore);
    if (pgMode && fresh?.url) expect(await pgDump(fresh.url)).toBe(dumpBefore);
    expect((await runAdopt(db, options(["--undo"]))).code).toBe(1);

    // Adopted again, the app's next Drizzle migration still applies with drizzle-orm's migrator.
    expect((await runAdopt(db, options(["--apply"], file))).code).toBe(0);
    await drizzleMigrate(db, { migrationsFolder: appFolder(naming, true) });
    expect(await columnsOf("mentorados")).toContain("cidade");
    expect(await rows(`select count(*)::int as n from drizzle.__drizzle_migrations`)).toEqual([
      { n: 2 },
    ]);
  });
});

describe("db:adopt on the snake_case fixture", () => {
  it("finds its Clerk id column, adds the rest in snake_case, and names each blocker", async () => {
    await appDatabase("snake");
    const plan = await inspect(getDb(), options());
    expect(plan.tables.users.naming).toBe("snake_case");
    const found = plan.tables.users.columns.filter((c) => c.status === "found").map((c) => c.name);
    expect(found).toEqual(["id", "clerk_id", "email", "updated_at"]);
    expect(plan.migration.filter((s) => s.startsWith("CREATE"))).toEqual([
      expect.stringMatching(/^CREATE FUNCTION email_key/),
      `CREATE UNIQUE INDEX "mentorados_email_identity_key" ON "public"."mentorados" (email_key("email"))`,
      `CREATE INDEX "users_legacy_email_key_idx" ON "public"."users" (email_key("email")) WHERE "clerk_id" IS NULL`,
    ]);
    expect(plan.blockers.map((b) => b.problem)).toEqual([
      "mentorados 4, 5 share one email identity (email_key(): case and surrounding spaces ignored)",
    ]);
    expect(plan.facts[0]).toMatch(
      /^legacy users \(no Clerk id\): 3 of 4; 1 linked to a profile, 1 without an email/,
    );
    expect(plan.facts[1]).toMatch(
      /^profiles: 6; 2 linked to a user, 4 not linked, 1 without an email/,
    );

    // More blockers, as an app may have them: each named with what to do.
    await exec(
      `create unique index users_email_key on users (email)`,
      `alter table mentorados add column "tenant" integer not null default 1`,
      `alter table mentorados alter column "tenant" drop default`,
      `insert into users (name, email) values ('Bruno Outro', 'BRUNO@app.example')`,
      `alter table mentorados drop constraint mentorados_user_id_unique`,
      `update mentorados set user_id = 3 where id = 3`,
      `alter table users alter column name set not null`,
    );
    const more = await inspect(getDb(), options(["--erase", "users.name"]));
    expect(more.blockers.map((b) => b.problem)).toEqual([
      "column users.name (--erase) is NOT NULL: user.deleted cannot erase it",
      "column users.name is NOT NULL without a default; the sync does not fill it (every row it inserts would fail)",
      "column mentorados.tenant is NOT NULL without a default; the sync does not fill it (every row it inserts would fail)",
      expect.stringMatching(
        /^unique index users_email_key on users \(email\) would make syncs fail/,
      ),
      "mentorados 4, 5 share one email identity (email_key(): case and surrounding spaces ignored)",
      "users 3 is linked to more than one profile: mentorados 2, 3",
    ]);
    expect(more.blockers[3]?.fix).toContain("drop index");
    expect(more.warnings).toEqual([
      expect.stringMatching(/^legacy users 2, 5 share one email identity/),
    ]);
    // An explicit name: found under it, or added under it.
    const named = await inspect(
      getDb(),
      options(["--column", "users.username=name", "--column", "users.image_url=avatar"]),
    );
    expect(named.tables.users.columns.filter((c) => "via" in c && c.via === "--column")).toEqual([
      { ours: "username", status: "found", name: "name", type: "text", via: "--column" },
      { ours: "image_url", status: "missing", name: "avatar", via: "--column", addType: "text" },
    ]);
    expect((await runAdopt(getDb(), options(["--erase", "users.nope"]))).code).toBe(2);
    expect((await runAdopt(getDb(), options(["--erase", "users.email"]))).code).toBe(2);
  });
});

describe("db:adopt's command line", () => {
  it("refuses bad arguments", () => {
    for (const argv of [
      ["--apply", "--undo"],
      ["--column", "users.clerk_id"],
      ["--column", "users.nope=x"],
      ["--erase", "mentorados.telefone"],
      ["--bogus"],
    ])
      expect(() => parseAdoptArgs(argv)).toThrow(ArgumentError);
    expect(parseAdoptArgs(["--column", "users.clerk_id=clerkUserId"]).overrides.users).toEqual({
      clerk_id: "clerkUserId",
    });
  });

  it("as a subprocess: the report and exit 1, exit 2 for a bad argument and an unreachable database", async () => {
    const db = await appDatabase("camel");
    const cli = async (env: NodeJS.ProcessEnv, argv: string[]) => {
      try {
        const r = await run(process.execPath, ["--import", "tsx", "scripts/db/adopt.ts", ...argv], {
          cwd: REPO,
          env: { ...process.env, ...env },
        });
        return { code: 0, stdout: r.stdout, stderr: r.stderr };
      } catch (err) {
        const e = err as { code?: number; stdout?: string; stderr?: string };
        return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
      }
    };
    const env = {
      DATABASE_URL: db.url ?? "postgres://local:local@localhost:5432/main",
      NEON_LOCAL_FETCH_ENDPOINT: db.endpoint.url,
    };
    const report = await cli(env, []);
    expect(report.code).toBe(1);
    expect(report.stdout).toContain("users (camelCase):");
    expect(report.stdout).toContain("clerk_id          missing: will be added as clerkId text");
    expect(report.stdout).toContain("blockers (1):");
    expect(report.stdout).not.toContain("@app.example");
    const json = await cli(env, ["--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ adoptable: false });
    expect(await cli(env, ["--nope"])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("db:adopt:"),
    });
    const s = createServer();
    const port = await listen(s);
    await new Promise((r) => s.close(r));
    const down = await cli(
      { ...env, NEON_LOCAL_FETCH_ENDPOINT: `http://127.0.0.1:${port}/sql` },
      [],
    );
    expect(down.code).toBe(2);
    expect(down.stderr).toContain(`cannot reach the SQL endpoint http://127.0.0.1:${port}/sql`);
    if (pgMode) {
      // A local postgres:// URL alone: the command starts its own endpoint in front of it.
      const direct = await cli({ DATABASE_URL: db.url, NEON_LOCAL_FETCH_ENDPOINT: "" }, []);
      expect(direct.code).toBe(1);
      const unreachable = await cli(
        {
          DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/test`,
          NEON_LOCAL_FETCH_ENDPOINT: "",
        },
        [],
      );
      expect(unreachable).toMatchObject({
        code: 2,
        stderr: `db:adopt: cannot reach the database host 127.0.0.1:${port} (ECONNREFUSED): check the host in DATABASE_URL and the network\n`,
      });
    }
  });
});
