// Compiles our TypeScript to plain ESM JavaScript, one output file per source file and no bundling,
// the way Vercel's Node.js runtime ships a function (its dependencies stay in node_modules, found
// by tracing). The output goes under the repository (bench/results/...), so bare imports resolve
// to its node_modules and its package.json ("type": "module") applies.
import { readdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (/\.ts$/.test(e.name) && !/\.(d|test)\.ts$/.test(e.name)) out.push(p);
  }
  return out;
}

/** Compiles every .ts file under `dirs` (relative to the repository) into outDir, same layout. */
export async function compileTree(outDir: string, dirs: string[]): Promise<void> {
  rmSync(outDir, { recursive: true, force: true });
  await build({
    entryPoints: dirs.flatMap((d) => tsFiles(join(ROOT, d))),
    outdir: outDir,
    outbase: ROOT,
    bundle: false,
    format: "esm",
    platform: "node",
    target: "node20",
    logLevel: "warning",
  });
}
