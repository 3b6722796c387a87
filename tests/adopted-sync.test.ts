// End to end on an app's database after `npm run db:adopt -- --apply`, for both namings: the app's
// migrations by drizzle-orm's own migrator, its people, then a fresh copy of the repository (as a
// clone) in which the real CLI adopts the database and writes drizzle/mapping.ts; that copy's
// functions, with the mapping it wrote, are served in a child process, and get signed webhooks
// and session tokens over HTTP. The app's rows are checked against what adoption may change.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { sql } from "drizzle-orm";
import { migrate as drizzleMigrate } from "drizzle-orm/neon-http/migrator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIGRATIONS } from "../drizzle/migrations.js";
import { getDb } from "../lib/db.js";
import { type ClerkApi, startClerkApi } from "../scripts/local/clerk-api.js";
import {
  generateSigningKey,
  publicKeyPem,
  signSessionToken,
} from "../scripts/local/session-token.js";
import { freshRepositoryCopy } from "../scripts/vercel/offline-build.js";
import {
  buildUser,
  type ClerkUserJson,
  deletedEvent,
  svixHeaders,
  userEvent,
} from "./fixtures/clerk.js";
import { LOCAL_DATABASE_URL, TEST_SECRET } from "./helpers/constants.js";
import { type FreshDatabase, freshDatabase } from "./helpers/fresh-database.js";
import { sensitive } from "./helpers/log-capture.js";
import { migrationsFolder } from "./helpers/migrations-folder.js";

const run = promisify(execFile);
const FIXTURES = fileURLToPath(new URL("./fixtures/app-database/", import.meta.url));
const DAY = 86_400_000;

interface Naming {
  name: string;
  migration: string;
  people: string;
  /** The app's names of the columns the test reads. */
  col: { clerkId: string; userId: string; origem: string };
}
const NAMINGS: Naming[] = [
  {
    name: "camelCase",
    migration: "camel/0000_app_init.sql",
    people: "camel/people.sql",
    col: { clerkId: "clerkId", userId: "userId", origem: "origem" },
  },
  {
    name: "snake_case",
    migration: "0000_app_init.sql",
    people: "snake-people.sql",
    col: { clerkId: "clerk_id", userId: "user_id", origem: "origem" },
  },
];

const q = (name: string) => `"${name}"`;

describe.each(NAMINGS)("an adopted $name database", (naming) => {
  let fresh: FreshDatabase;
  let copy: string;
  let server: ChildProcess | undefined;
  let base = "";
  let clerk: ClerkApi;
  const key = generateSigningKey();
  const saved = process.env.NEON_LOCAL_FETCH_ENDPOINT;
  let adoptOutput = "";

  /**
   * Runs fn on this naming's database. Only for its duration: between tests the suite's own
   * setup empties the suite's database, which must not be this one.
   */
  async function onFresh<T>(fn: (db: ReturnType<typeof getDb>) => Promise<T>): Promise<T> {
    process.env.NEON_LOCAL_FETCH_ENDPOINT = fresh.endpoint.url;
    try {
      return await fn(getDb());
    } finally {
      process.env.NEON_LOCAL_FETCH_ENDPOINT = saved;
    }
  }
  async function rows<T = Record<string, unknown>>(text: string): Promise<T[]> {
    return onFresh(async (db) => (await db.execute(sql.raw(text))).rows as T[]);
  }

  beforeAll(async () => {
    fresh = await freshDatabase();
    const folder = migrationsFolder([
      {
        from: join(FIXTURES, naming.migration),
        tag: "0000_app",
        when: MIGRATIONS.at(-1)!.when + DAY,
      },
    ]);
    await onFresh((db) => drizzleMigrate(db, { migrationsFolder: folder }));
    rmSync(folder, { recursive: true, force: true });
    for (const s of readFileSync(join(FIXTURES, naming.people), "utf8").split(
      "--> statement-breakpoint",
    )) {
      if (s.trim()) await rows(s);
    }

    copy = freshRepositoryCopy("cns-adopted-");
    const env = {
      ...process.env,
      DATABASE_URL: LOCAL_DATABASE_URL,
      NEON_LOCAL_FETCH_ENDPOINT: fresh.endpoint.url,
    };
    const adopted = await run(
      process.execPath,
      ["--import", "tsx", "scripts/db/adopt.ts", "--apply", "--erase", "users.name"],
      { cwd: copy, env },
    );
    adoptOutput = adopted.stdout;

    clerk = await startClerkApi();
    server = spawn(process.execPath, ["--import", "tsx", "tests/helpers/serve-api.ts"], {
      cwd: copy,
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: LOCAL_DATABASE_URL,
        NEON_LOCAL_FETCH_ENDPOINT: fresh.endpoint.url,
        CLERK_WEBHOOK_SIGNING_SECRET: TEST_SECRET,
        CLERK_JWT_KEY: publicKeyPem(key),
        CLERK_SECRET_KEY: clerk.secretKey,
        CLERK_API_URL: clerk.url,
        EMAIL_PROVIDER: "log",
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      server!.stdout!.setEncoding("utf8").on("data", (c: string) => {
        out += c;
        const line = out.split("\n").find((l) => l.startsWith('{"port"'));
        if (line) resolve((JSON.parse(line) as { port: number }).port);
      });
      server!.on("exit", (code) => reject(new Error(`the function server exited (${code})`)));
    });
    base = `http://127.0.0.1:${port}`;
  }, 300_000);

  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server!.once("exit", r));
      server.kill("SIGTERM");
      await exited;
    }
    await clerk?.close();
    await fresh?.close();
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  async function send(event: ReturnType<typeof userEvent>, svixId?: string) {
    const body = JSON.stringify(event);
    const res = await fetch(`${base}/api/webhooks/clerk`, {
      method: "POST",
      headers: svixHeaders(body, { secret: TEST_SECRET, ...(svixId ? { svixId } : {}) }),
      body,
    });
    return { status: res.status, body: (await res.json()) as { outcome?: string; error?: string } };
  }
  const created = (user: ClerkUserJson) => send(userEvent("user.created", user));
  const userRow = async (email: string) =>
    (await rows(`select * from users where lower(email) = lower('${email}') order by id`)).map(
      (r) => r as Record<string, unknown>,
    );

  it("adopted with the CLI: it wrote a mapping under the app's names", () => {
    expect(adoptOutput).toMatch(/adopted/i);
    const mapping = readFileSync(join(copy, "drizzle", "mapping.ts"), "utf8");
    expect(mapping).toContain(`clerk_id: "${naming.col.clerkId}"`);
    expect(mapping).toMatch(/adopted: true/);
  });

  it("health: every migration applied, the adoption not counted as one, the schema fits", async () => {
    const res = await fetch(`${base}/api/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      ok: true,
      migrations: MIGRATIONS.at(-1)!.tag,
      migrations_applied: MIGRATIONS.length,
      migrations_pending: 0,
      schema: "ok",
    });
  });

  it("links a pre-registered profile, without a welcome email (the app sent its own)", async () => {
    sensitive.add("ana@app.example");
    const r = await created(buildUser({ email: "ana@app.example" }));
    expect(r).toEqual({ status: 200, body: { ok: true, outcome: "linked" } });
    const [profile] = await rows(
      `select m.${q(naming.col.userId)} is not null as linked, m.${q(naming.col.origem)} as origem,
        m.telefone, (select count(*)::int from clerk_sync.email_outbox o where o.mentorado_id = m.id) as welcomes
       from mentorados m where m.email = 'ana@app.example'`,
    );
    expect(profile).toEqual({
      linked: true,
      origem: "pre_registered",
      telefone: "+55 11 90000-0001",
      welcomes: 0,
    });
  });

  it("claims a legacy user (no Clerk id) by its verified email: one users row, its role and name kept, its profile still linked", async () => {
    const before = await rows<{ n: number }>(`select count(*)::int as n from users`);
    const lia = buildUser({ email: "lia@APP.example", firstName: "Lia", lastName: "Nova" });
    expect(await created(lia)).toEqual({ status: 200, body: { ok: true, outcome: "claimed" } });
    expect(await rows(`select count(*)::int as n from users`)).toEqual(before);
    const [row] = await userRow("lia@app.example");
    expect(row).toMatchObject({
      id: 2,
      name: "Lia Legada",
      role: "user",
      [naming.col.clerkId]: lia.id,
    });
    expect(await rows(`select id from mentorados where ${q(naming.col.userId)} = 2`)).toEqual([
      { id: 1 },
    ]);
    // /api/me answers from the database: the claimed row and its profile.
    const token = signSessionToken(key, { sub: lia.id as string });
    sensitive.add(token);
    const me = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({
      ok: true,
      source: "database",
      mentorado: { id: 1, nome_completo: "Lia Legada", turma: "turma_a" },
    });
  });

  it("claims the legacy admin; its role stays admin", async () => {
    const admin = buildUser({ email: "admin@app.example" });
    expect((await created(admin)).body.outcome).toBe("claimed");
    expect(await userRow("admin@app.example")).toMatchObject([
      { id: 1, role: "admin", [naming.col.clerkId]: admin.id },
    ]);
  });

  it("an unverified email claims nothing", async () => {
    const caio = buildUser({ email: "caio@app.example", verified: false });
    expect((await created(caio)).body.outcome).toBe("applied");
    const caios = await userRow("caio@app.example");
    expect(caios.map((r) => r[naming.col.clerkId])).toEqual([null, caio.id]);
  });

  it("concurrent deliveries for one legacy user claim it once", async () => {
    const duda = buildUser({ email: "duda@app.example" });
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => send(userEvent("user.created", duda), `msg_duda_${i}`)),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.filter((a) => a.body.outcome === "claimed")).toHaveLength(1);
    const dudas = await userRow("duda@app.example");
    expect(dudas).toHaveLength(1);
    expect(dudas[0]).toMatchObject({ name: "Duda Legada", [naming.col.clerkId]: duda.id });
  });

  it("a new person gets a new profile and exactly one welcome email", async () => {
    const novo = buildUser({ email: "novo@app.example", firstName: "Novo", lastName: "Aqui" });
    expect((await created(novo)).body.outcome).toBe("created");
    expect(
      await rows(`select m.${q(naming.col.origem)} as origem,
          (select count(*)::int from clerk_sync.email_outbox o where o.mentorado_id = m.id) as welcomes
        from mentorados m where m.email = 'novo@app.example'`),
    ).toEqual([{ origem: "clerk_signup", welcomes: 1 }]);
    // No profile from before adoption was welcomed (the four of the fixture), linked or not.
    expect(
      await rows(`select count(*)::int as n from clerk_sync.email_outbox where mentorado_id <= 4`),
    ).toEqual([{ n: 0 }]);
  });

  it("user.deleted erases the sync's columns and the mapped app column name; the role and the app's sessions stay", async () => {
    const lia = (await userRow("lia@app.example"))[0]!;
    const r = await send(
      deletedEvent(String(lia[naming.col.clerkId])) as ReturnType<typeof userEvent>,
    );
    expect(r.body.outcome).toBe("deleted");
    const [row] = await rows(`select * from users where id = 2`);
    expect(row).toMatchObject({ email: null, name: null, role: "user" });
    expect(await rows(`select ${q(naming.col.userId)} as u from mentorados where id = 1`)).toEqual([
      { u: null },
    ]);
    expect(await rows(`select count(*)::int as n from sessoes`)).toEqual([{ n: 4 }]);
  });
});
