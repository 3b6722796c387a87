// The ```sql blocks of a Markdown file of this repository, as a reader would paste them.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));

export interface Block {
  file: string;
  line: number;
  sql: string;
}

/** `file` is relative to the repository: `README.md`, `docs/operations.md`. */
export function sqlBlocks(file: string): Block[] {
  const lines = readFileSync(join(REPO, file), "utf8").split("\n");
  const blocks: Block[] = [];
  let start = -1;
  for (const [i, l] of lines.entries()) {
    if (start < 0 && /^\s*```sql\s*$/i.test(l)) start = i;
    else if (start >= 0 && /^\s*```\s*$/.test(l)) {
      blocks.push({ file, line: start + 1, sql: lines.slice(start + 1, i).join("\n") });
      start = -1;
    }
  }
  expect(start, `${file}: a sql block opened on line ${start + 1} is never closed`).toBe(-1);
  return blocks;
}
