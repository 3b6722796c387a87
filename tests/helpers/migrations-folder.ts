// A drizzle-kit migrations folder (SQL files and meta/_journal.json) in a new temporary folder, for
// tests that run an app's own migrations with drizzle-orm's migrator. The caller removes it.
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The given SQL files under their tags, dated as given, in the journal's order. */
export function migrationsFolder(entries: { from: string; tag: string; when: number }[]): string {
  const dir = mkdtempSync(join(tmpdir(), "app-drizzle-"));
  mkdirSync(join(dir, "meta"));
  for (const e of entries) copyFileSync(e.from, join(dir, `${e.tag}.sql`));
  const journal = {
    version: "7",
    dialect: "postgresql",
    entries: entries.map((e, idx) => ({
      idx,
      version: "7",
      when: e.when,
      tag: e.tag,
      breakpoints: true,
    })),
  };
  writeFileSync(join(dir, "meta", "_journal.json"), JSON.stringify(journal));
  return dir;
}
