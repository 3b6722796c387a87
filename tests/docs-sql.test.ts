// Every ```sql block of the README and docs/ runs as written, on a fresh database migrated by the
// project's own migration runner: PostgreSQL on the PostgreSQL pass (a database created for this
// file and dropped after it), embedded PGlite otherwise (PGlite runs roles and grants too, so both
// passes run every block; nothing is skipped). A file's blocks run in order, as a reader pastes
// them, in one transaction that is rolled back: roles are global to a PostgreSQL server, and this
// one is shared by other test runs.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PgliteBackend } from "../scripts/local/sql-backends.js";
import { type FreshDatabase, freshDatabase } from "./helpers/fresh-database.js";
import { type Block, REPO, sqlBlocks } from "./helpers/sql-blocks.js";

/** The documentation whose SQL must run: the README and every Markdown file under docs/. */
const FILES = [
  "README.md",
  ...readdirSync(join(REPO, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

/** Runs one file's blocks in order in one transaction, rolled back; the failing block, if any. */
type Runner = (blocks: Block[]) => Promise<void>;

let fresh: FreshDatabase;
let runFile: Runner;
let closeRunner: () => Promise<void> = async () => {};

function located(b: Block, err: unknown): Error {
  const e = err as { message?: unknown; code?: unknown };
  return new Error(
    `${b.file}:${b.line}: ${String(e.message ?? err)}${e.code ? ` (SQLSTATE ${String(e.code)})` : ""}`,
  );
}

beforeAll(async () => {
  fresh = await freshDatabase();
  const { url } = fresh;
  await fresh.migrate();

  if (url) {
    // A plain client: the simple query protocol runs a block of several statements as psql does.
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    closeRunner = () => client.end();
    runFile = async (blocks) => {
      await client.query("begin");
      try {
        for (const b of blocks)
          await client.query(b.sql).catch((err) => Promise.reject(located(b, err)));
      } finally {
        await client.query("rollback");
      }
    };
  } else {
    const lite = (fresh.backend as PgliteBackend).db;
    runFile = async (blocks) => {
      await lite.exec("begin");
      try {
        for (const b of blocks)
          await lite.exec(b.sql).catch((err) => Promise.reject(located(b, err)));
      } finally {
        await lite.exec("rollback");
      }
    };
  }
}, 120_000);

afterAll(async () => {
  await closeRunner();
  await fresh?.close();
});

describe("every sql block of the documentation runs as written", () => {
  it("finds the documentation's blocks (the least-privilege roles among them)", () => {
    const all = FILES.flatMap(sqlBlocks);
    expect(all.length).toBeGreaterThanOrEqual(4);
    expect(all.some((b) => /create role clerk_sync_backfill/i.test(b.sql))).toBe(true);
  });

  for (const file of FILES) {
    it(file, async () => {
      await expect(runFile(sqlBlocks(file))).resolves.toBeUndefined();
    });
  }
});
