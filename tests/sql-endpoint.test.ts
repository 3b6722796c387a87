// The local SQL-over-HTTP endpoint must behave like Neon's for the production driver: these go
// through drizzle-orm/neon-http and @neondatabase/serverless exactly as lib/ does.
import { NeonDbError, neon } from "@neondatabase/serverless";
import { DrizzleQueryError, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/neon-http";
import { describe, expect, it } from "vitest";
import { users } from "../drizzle/schema.js";
import { getDb } from "../lib/db.js";
import { LOCAL_DATABASE_URL } from "./helpers/constants.js";
import { countRoundTrips } from "./helpers/endpoint-control.js";

describe("local Neon SQL endpoint", () => {
  it("round-trips the common types as the driver parses them", async () => {
    const r = await getDb().execute<Record<string, unknown>>(sql`select
      42::int as i, 9007199254740993::bigint as big, 'olá'::text as t, true as b,
      12.50::numeric as n, '2026-11-25T10:00:00.123Z'::timestamptz as ts,
      '{"a":[1,"x"],"ç":null}'::jsonb as j, array['a','b,c',null]::text[] as arr,
      null::text as nothing`);
    expect(r.rows).toHaveLength(1);
    const row = r.rows[0]!;
    expect(row.i).toBe(42);
    expect(row.big).toBe("9007199254740993");
    expect(row.t).toBe("olá");
    expect(row.b).toBe(true);
    expect(row.n).toBe("12.50");
    // drizzle's neon-http session keeps date/time types as Postgres text for raw queries (it maps
    // them per column in the query builder), exactly as it would receive them from Neon.
    expect(row.ts).toBe("2026-11-25 10:00:00.123+00");
    expect(row.j).toEqual({ a: [1, "x"], ç: null });
    expect(row.arr).toEqual(["a", "b,c", null]);
    expect(row.nothing).toBeNull();
    expect(r.fields.map((f) => f.name)).toEqual([
      "i",
      "big",
      "t",
      "b",
      "n",
      "ts",
      "j",
      "arr",
      "nothing",
    ]);
    expect(r.command).toBe("SELECT");
    expect(r.rowCount).toBe(1);
  });

  it("binds parameters, including dates, arrays and nulls", async () => {
    const when = new Date("2026-01-02T03:04:05.006Z");
    const r = await getDb().execute<{ s: string; d: Date; n: number; a: string[]; z: null }>(
      sql`select ${"a'b"}::text || ${"; drop table users"}::text as s, ${when}::timestamptz as d,
          ${7}::int * 6 as n, ${sql.param(["x", "y"])}::text[] as a, ${null}::text as z`,
    );
    expect(r.rows[0]).toEqual({
      s: "a'b; drop table users",
      d: "2026-01-02 03:04:05.006+00",
      n: 42,
      a: ["x", "y"],
      z: null,
    });
  });

  it("reports command and rowCount for writes, through drizzle's query builder", async () => {
    const db = getDb();
    const inserted = await db
      .insert(users)
      .values([{ clerkId: "user_a" }, { clerkId: "user_b" }])
      .returning({ id: users.id, clerkId: users.clerkId });
    expect(inserted.map((u) => u.clerkId)).toEqual(["user_a", "user_b"]);
    const updated = await db.execute(
      sql`update users set username = 'u' where clerk_id like 'user_%'`,
    );
    expect(updated.command).toBe("UPDATE");
    expect(updated.rowCount).toBe(2);
  });

  it("runs a batch as one request and one transaction, and commits it", async () => {
    const db = getDb();
    const trips = await countRoundTrips(() =>
      db.batch([
        db.insert(users).values({ clerkId: "user_1" }),
        db.insert(users).values({ clerkId: "user_2" }),
        db.select().from(users),
      ]),
    );
    expect(trips).toBe(1);
    const rows = await db.select({ clerkId: users.clerkId }).from(users).orderBy(users.clerkId);
    expect(rows.map((r) => r.clerkId)).toEqual(["user_1", "user_2"]);
    const [typed] = await db.select({ createdAt: users.createdAt }).from(users).limit(1);
    expect(typed?.createdAt).toBeInstanceOf(Date);
  });

  it("lets later statements of a batch see earlier ones (one transaction)", async () => {
    const db = getDb();
    const [, seen] = await db.batch([
      db.insert(users).values({ clerkId: "user_seen" }),
      db.select({ clerkId: users.clerkId }).from(users).where(eq(users.clerkId, "user_seen")),
    ]);
    expect(seen).toEqual([{ clerkId: "user_seen" }]);
  });

  it("rolls back the whole batch when its last statement fails, with the Postgres error", async () => {
    const db = getDb();
    const err = await db
      .batch([
        db.insert(users).values({ clerkId: "user_rb" }),
        db.insert(users).values({ clerkId: "user_rb2" }),
        db.insert(users).values({ clerkId: "user_rb" }),
      ])
      .catch((e: unknown) => e);
    // Batch errors are not wrapped by drizzle: the driver's NeonDbError arrives as is.
    expect(err).toBeInstanceOf(NeonDbError);
    expect((err as NeonDbError).code).toBe("23505");
    expect((err as NeonDbError).constraint).toBe("users_clerk_id_unique");
    const rows = await db.select().from(users);
    expect(rows).toEqual([]);
  });

  it("surfaces a unique violation of a single query as DrizzleQueryError(cause NeonDbError 23505)", async () => {
    const db = getDb();
    await db.insert(users).values({ clerkId: "user_dup" });
    const err = await db
      .insert(users)
      .values({ clerkId: "user_dup" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrizzleQueryError);
    const cause = (err as DrizzleQueryError).cause;
    expect(cause).toBeInstanceOf(NeonDbError);
    expect((cause as NeonDbError).code).toBe("23505");
    expect((cause as NeonDbError).table).toBe("users");
    expect((cause as NeonDbError).detail).toContain("user_dup");
  });

  it("honours the batch isolation and read-only headers", async () => {
    const db = getDb();
    const [iso] = await db.batch([db.execute(sql`show transaction_isolation`)]);
    expect(iso.rows[0]).toEqual({ transaction_isolation: "read committed" });

    const strict = neon(LOCAL_DATABASE_URL, { isolationLevel: "Serializable", readOnly: true });
    const [level, ro] = await strict.transaction([
      strict`show transaction_isolation`,
      strict`show transaction_read_only`,
    ]);
    expect(level).toEqual([{ transaction_isolation: "serializable" }]);
    expect(ro).toEqual([{ transaction_read_only: "on" }]);

    const err = await strict
      .transaction([strict`insert into users (clerk_id) values ('user_ro')`])
      .catch((e: unknown) => e);
    expect((err as NeonDbError).code).toBe("25006");
    expect(
      await drizzle({ client: neon(LOCAL_DATABASE_URL) })
        .select()
        .from(users),
    ).toEqual([]);
  });

  it("refuses an answer over Neon's 10 MiB limit with 507", async () => {
    const err = await getDb()
      .execute(sql`select repeat('x', 11 * 1024 * 1024) as big`)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrizzleQueryError);
    const cause = (err as DrizzleQueryError).cause as NeonDbError;
    expect(cause.message).toContain("HTTP status 507");
  });

  it("counts one request per driver call", async () => {
    const db = getDb();
    const trips = await countRoundTrips(async () => {
      await db.execute(sql`select 1`);
      await db.execute(sql`select 2`);
    });
    expect(trips).toBe(2);
  });
});
