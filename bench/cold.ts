// `npm run bench:cold`: what a cold start of the webhook function costs.
//
// 1. Bundles api/webhooks/clerk.ts as it would ship bundled (esbuild, minified, platform node,
//    ESM) and prints its size, with the packages that weigh most in it.
// 2. Compiles api/, lib/ and drizzle/ to JavaScript file by file, no bundling, next to
//    node_modules: what Vercel's Node.js runtime ships (node_modules traced, not bundled).
// 3. Times, in fresh Node processes (median of --runs, default 15, runs interleaved), the import of
//    (a) the traced function, (b) the bundle, and each dependency alone, each minus bare
//    `node -e ''`. Also timed inside the process (performance.now() around import()), which is
//    free of process start-up noise.
// Flags: --runs N, --out PATH (default bench/results/cold-<time>.json), --entry api/<function>.ts
// (default api/webhooks/clerk.ts; e.g. api/me.ts).
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { compileTree, ROOT } from "./compile.js";

const { values: flags } = parseArgs({
  options: { runs: { type: "string" }, out: { type: "string" }, entry: { type: "string" } },
});
const RUNS = Math.max(10, Number(flags.runs ?? 15));
const WORK = join(ROOT, "bench", "results", ".cold");
const ENTRY = flags.entry ?? "api/webhooks/clerk.ts";
if (!/^api\/[\w/-]+\.ts$/.test(ENTRY))
  throw new Error(`--entry must be api/<path>.ts, not ${ENTRY}`);

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface BundleInfo {
  file: string;
  bytes: number;
  gzipBytes: number;
  byPackage: { name: string; bytes: number }[];
}

async function bundle(): Promise<BundleInfo> {
  const file = join(WORK, "bundle", "clerk.mjs");
  const result = await build({
    entryPoints: [join(ROOT, ENTRY)],
    outfile: file,
    bundle: true,
    minify: true,
    platform: "node",
    format: "esm",
    target: "node20",
    metafile: true,
    logLevel: "warning",
  });
  const out = Object.values(result.metafile.outputs)[0]!;
  const byPackage = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(out.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
    const name = m ? m[1]! : (input.split("/")[0] ?? input);
    byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
  }
  const bytes = statSync(file).size;
  return {
    file,
    bytes,
    gzipBytes: gzipSync(readFileSync(file)).byteLength,
    byPackage: [...byPackage]
      .map(([name, b]) => ({ name, bytes: b }))
      .sort((a, b) => b.bytes - a.bytes),
  };
}

/** What Vercel would upload unbundled: the files node-file-trace finds from the entry. */
async function traced(entry: string): Promise<{ files: number; bytes: number } | null> {
  try {
    const { nodeFileTrace } = (await import("@vercel/nft")) as {
      nodeFileTrace: (
        files: string[],
        opts: { base: string },
      ) => Promise<{ fileList: Set<string> }>;
    };
    const { fileList } = await nodeFileTrace([entry], { base: ROOT });
    let bytes = 0;
    let files = 0;
    for (const f of fileList) {
      const st = statSync(join(ROOT, f));
      if (st.isFile()) {
        bytes += st.size;
        files++;
      }
    }
    return { files, bytes };
  } catch {
    return null; // @vercel/nft is optional (it comes with @vercel/node)
  }
}

interface Variant {
  name: string;
  /** Module to import; undefined = bare `node -e ''`. */
  module?: string;
}

function writeProbe(v: Variant): string[] {
  if (!v.module) return ["-e", ""];
  const file = join(WORK, "probes", `${v.name.replace(/[^a-z0-9]+/gi, "_")}.mjs`);
  mkdirSync(dirname(file), { recursive: true });
  // Import from a file inside the repository so bare names resolve to its node_modules.
  writeFileSync(file, `import ${JSON.stringify(v.module)};\n`);
  return [file];
}

function writeTimedProbe(v: Variant): string {
  const file = join(WORK, "probes", `${v.name.replace(/[^a-z0-9]+/gi, "_")}.timed.mjs`);
  writeFileSync(
    file,
    `const t = performance.now();\nawait import(${JSON.stringify(v.module)});\nprocess.stdout.write(String(performance.now() - t));\n`,
  );
  return file;
}

function wallMs(args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`node ${args.join(" ")} failed: ${r.stderr.toString()}`);
  return ms;
}

function inProcessMs(file: string): number {
  const r = spawnSync(process.execPath, [file], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`node ${file} failed: ${r.stderr}`);
  return Number(r.stdout);
}

async function main(): Promise<void> {
  console.log(
    `bench:cold: ${cpus().length} CPUs, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}, node ${process.version}, ${RUNS} runs per variant`,
  );
  mkdirSync(WORK, { recursive: true });
  const b = await bundle();
  console.log(
    `\nbundle (esbuild, minified, node, esm): ${relative(ROOT, b.file)} ${round(b.bytes / 1024)} KB (${round(b.gzipBytes / 1024)} KB gzipped)`,
  );
  for (const p of b.byPackage.slice(0, 8)) {
    console.log(
      `  ${round(p.bytes / 1024)
        .toFixed(1)
        .padStart(7)} KB  ${p.name}`,
    );
  }

  const tracedDir = join(WORK, "traced");
  await compileTree(tracedDir, ["api", "lib", "drizzle"]);
  const tracedEntry = join(tracedDir, ENTRY.replace(/\.ts$/, ".js"));
  const trace = await traced(relative(ROOT, tracedEntry));
  if (trace) {
    console.log(
      `traced (unbundled, as Vercel ships it): ${trace.files} files, ${round(trace.bytes / 1024 / 1024, 2)} MB`,
    );
  }

  const url = (f: string) => pathToFileURL(f).href;
  const variants: Variant[] = [
    { name: "bare node -e ''" },
    { name: "function, traced (unbundled)", module: url(tracedEntry) },
    { name: "function, bundled", module: url(b.file) },
    { name: "svix", module: "svix" },
    { name: "@clerk/backend", module: "@clerk/backend" },
    { name: "zod", module: "zod" },
    { name: "drizzle-orm/neon-http", module: "drizzle-orm/neon-http" },
    { name: "@neondatabase/serverless", module: "@neondatabase/serverless" },
  ];
  const args = variants.map(writeProbe);
  const timed = variants.map((v) => (v.module ? writeTimedProbe(v) : undefined));
  const walls: number[][] = variants.map(() => []);
  const inproc: number[][] = variants.map(() => []);
  // Warm the OS file cache once, then interleave the variants so drift hits them all alike.
  for (const a of args) wallMs(a);
  for (let run = 0; run < RUNS; run++) {
    for (const [i, a] of args.entries()) {
      walls[i]!.push(wallMs(a));
      const t = timed[i];
      if (t) inproc[i]!.push(inProcessMs(t));
    }
  }
  const bare = median(walls[0]!);
  const rows = variants.map((v, i) => ({
    name: v.name,
    wallMedianMs: round(median(walls[i]!)),
    overBareMs: i === 0 ? 0 : round(median(walls[i]!) - bare),
    inProcessImportMs: v.module ? round(median(inproc[i]!)) : null,
  }));
  console.log(
    `\n${"import of".padEnd(32)} ${"wall (median)".padStart(14)} ${"over bare".padStart(10)} ${"import() in-process".padStart(20)}`,
  );
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(32)} ${`${r.wallMedianMs.toFixed(1)} ms`.padStart(14)} ${`${r.overBareMs.toFixed(1)} ms`.padStart(10)} ${(r.inProcessImportMs === null ? "-" : `${r.inProcessImportMs.toFixed(1)} ms`).padStart(20)}`,
    );
  }
  const shipped = rows.find((r) => r.name === "function, traced (unbundled)")!;
  const bundled = rows.find((r) => r.name === "function, bundled")!;
  const targets = [
    {
      target: "bundle size, minified",
      value: round(b.bytes / 1024),
      unit: "KB",
      limit: "<= 200",
      met: b.bytes <= 200 * 1024,
    },
    {
      target: "cold import over bare node, traced (how Vercel ships it by default)",
      value: shipped.overBareMs,
      unit: "ms",
      limit: "<= 40",
      met: shipped.overBareMs <= 40,
    },
    {
      target: "cold import over bare node, bundled",
      value: bundled.overBareMs,
      unit: "ms",
      limit: "<= 40",
      met: bundled.overBareMs <= 40,
    },
  ];
  console.log("\ntargets:");
  for (const t of targets) {
    console.log(
      `  [${t.met ? "met " : "MISS"}] ${t.target}: ${t.value} ${t.unit} (target ${t.limit})`,
    );
  }
  const report = {
    startedAt: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model ?? null,
      node: process.version,
      loadavg: loadavg(),
    },
    runs: RUNS,
    bundle: { ...b, file: relative(ROOT, b.file) },
    traced: trace,
    imports: rows,
    targets,
  };
  const out = flags.out
    ? resolve(flags.out)
    : join(ROOT, "bench", "results", `cold-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nreport: ${out}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(1);
});
