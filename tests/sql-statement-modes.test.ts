// The PostgreSQL backend's two statement modes (scripts/local/sql-backends.ts StatementMode):
// "unnamed" prepares nothing that outlives a request, as Neon's proxy; "named" keeps its plan
// cache. In both, a connection goes back to the pool with no transaction open, and a finished
// request sends no ROLLBACK, so the server logs no "there is no transaction in progress" warning.
import { describe, expect, it } from "vitest";
import {
  PostgresBackend,
  type StatementMode,
  statementModeFromEnv,
} from "../scripts/local/sql-backends.js";
import { inject } from "./helpers/provided.js";

const onPostgres = inject("backendKind") === "postgres";

describe("LOCAL_SQL_STATEMENTS", () => {
  it("reads named, unnamed or nothing, and refuses anything else", () => {
    expect(statementModeFromEnv("named")).toBe("named");
    expect(statementModeFromEnv("unnamed")).toBe("unnamed");
    expect(statementModeFromEnv("")).toBeUndefined();
    expect(statementModeFromEnv(undefined)).toBeUndefined();
    expect(() => statementModeFromEnv("Unnamed")).toThrow(/LOCAL_SQL_STATEMENTS/);
  });
});

/** One connection only, so every request after the first reuses the previous one's session. */
async function withBackend(
  mode: StatementMode,
  run: (b: PostgresBackend, notices: string[]) => Promise<void>,
): Promise<void> {
  const b = new PostgresBackend(inject("backendDatabaseUrl"), 1, mode);
  const notices: string[] = [];
  b.pool.on("connect", (client) => client.on("notice", (n) => notices.push(n.message ?? "")));
  try {
    await run(b, notices);
  } finally {
    await b.close();
  }
}

const q = (b: PostgresBackend, query: string, params: unknown[] = []) => b.query({ query, params });

if (onPostgres) {
  describe.each(["named", "unnamed"] as const)("statements %s (PostgreSQL)", (mode) => {
    it("rolls back a transaction a request left open, and warns about none", async () => {
      await withBackend(mode, async (b, notices) => {
        await q(b, "select $1::int + 1", [1]);
        await b.batch([{ query: "select $1::int", params: [2] }], {});
        await q(b, "begin");
        // Outside a transaction block SAVEPOINT is refused (25P01): the open one was rolled back.
        await expect(q(b, "savepoint s")).rejects.toMatchObject({ code: "25P01" });
        await q(b, "select 1");
        expect(notices.filter((n) => /no transaction in progress/.test(n))).toEqual([]);
      });
    });

    it(
      mode === "named" ? "keeps its plan cache" : "prepares nothing that outlives a request",
      async () => {
        await withBackend(mode, async (b) => {
          await q(b, "select $1::int * 2 as doubled", [21]);
          const r = await q(b, "select count(*)::int from pg_prepared_statements");
          expect(Number(r.rows[0]?.[0]) > 0).toBe(mode === "named");
        });
      },
    );
  });
}
