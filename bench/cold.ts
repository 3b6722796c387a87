// `npm run bench:cold`: what a cold start of each shipped function costs, measured on what
// Vercel's own CLI builds (scripts/vercel/offline-build.ts runs `vercel build` offline).
//
// 1. Builds the repository twice with `vercel build`: as it ships (vercel.json's build: every api/
//    function bundled into one file, scripts/vercel/output.ts) and, for comparison, as Vercel's
//    zero-config Node builder would ship the same api/ files (compiled file by file, node_modules
//    traced, not bundled). The migration step of the first build runs against an in-memory PGlite.
// 2. Per function and variant: files and bytes shipped; the modules its import loads, per package
//    (counted by a module-loader hook); the source modules bundled into it, per package.
// 3. Per Node major (20, 22, 24: scripts/ci/node-binary.sh fetches missing ones from the npm
//    registry) and function: median wall time of a fresh `node` importing the handler, minus the
//    median of bare `node -e ''`, runs interleaved; the import() time inside the process; and,
//    inside the process, import + the handler's answer to a request that needs no network.
// Flags: --runs N (default 11), --nodes 20,22,24, --out PATH (default bench/results/cold-<time>.json).
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { openBackend } from "../scripts/local/sql-backends.js";
import { startSqlEndpoint } from "../scripts/local/sql-endpoint.js";
import { offlineVercelBuild, walkFiles } from "../scripts/vercel/offline-build.js";
import {
  bundleOptions,
  functionEntries,
  modulesByPackage,
  ROOT,
} from "../scripts/vercel/output.js";

const { values: flags } = parseArgs({
  options: {
    runs: { type: "string" },
    nodes: { type: "string" },
    out: { type: "string" },
  },
});
const RUNS = Math.max(5, Number(flags.runs ?? 11));
const NODES = (flags.nodes ?? "20,22,24").split(",").map((n) => n.trim());
const TARGET_IMPORT_MS = 60;
const TARGET_BYTES = 1024 * 1024;

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** vercel.json and package.json as a zero-config project would have them (no bundling step). */
function zeroConfigOverrides(): Record<string, string> {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  // @vercel/node runs a `vercel-build` script once per function: drop it for this variant.
  delete pkg.scripts["vercel-build"];
  return {
    "package.json": JSON.stringify(pkg, null, 2),
    "vercel.json": JSON.stringify({
      buildCommand: "mkdir -p public && echo ok > public/robots.txt",
      outputDirectory: "public",
      functions: { "api/**/*.ts": { maxDuration: 30 } },
    }),
  };
}

interface ShippedFunction {
  variant: string;
  route: string;
  handler: string;
  runtime: string;
  files: number;
  bytes: number;
  loadedByPackage: Record<string, number>;
  loaded: number;
}

/** Counts the modules one import loads, by package, with a loader hook (a run of its own). */
function modulesLoaded(handler: string, work: string): Record<string, number> {
  const hooks = join(work, "count-hooks.mjs");
  const register = join(work, "count-register.mjs");
  const logFile = join(work, `loaded-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(
    hooks,
    `import { appendFileSync } from "node:fs";
export async function load(url, context, next) {
  appendFileSync(process.env.CNS_MODULE_LOG, url + "\\n");
  return next(url, context);
}\n`,
  );
  writeFileSync(
    register,
    `import { register } from "node:module";\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
  );
  const r = spawnSync(
    process.execPath,
    [
      "--import",
      register,
      "--input-type=module",
      "-e",
      `await import(${JSON.stringify(pathToFileURL(handler).href)})`,
    ],
    { encoding: "utf8", env: { ...process.env, CNS_MODULE_LOG: logFile } },
  );
  if (r.status !== 0) throw new Error(`loading ${handler} failed: ${r.stderr}`);
  const counts: Record<string, number> = {};
  const urls = readFileSync(logFile, "utf8").split("\n").filter(Boolean);
  rmSync(logFile);
  for (const url of urls) {
    if (url.startsWith("node:")) continue;
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    const name = m?.[1] ?? "(function)";
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

function describeOutput(variant: string, output: string, work: string): ShippedFunction[] {
  return functionEntries().map(({ route }) => {
    const dir = join(output, "functions", `${route}.func`);
    const config = JSON.parse(readFileSync(join(dir, ".vc-config.json"), "utf8")) as {
      handler: string;
      runtime: string;
    };
    const files = walkFiles(dir).filter((f) => !f.endsWith(".vc-config.json"));
    const handler = join(dir, config.handler);
    const loadedByPackage = modulesLoaded(handler, work);
    return {
      variant,
      route,
      handler,
      runtime: config.runtime,
      files: files.length,
      bytes: files.reduce((n, f) => n + statSync(f).size, 0),
      loadedByPackage,
      loaded: Object.values(loadedByPackage).reduce((a, b) => a + b, 0),
    };
  });
}

function nodeBinary(major: string): string {
  const r = spawnSync(join(ROOT, "scripts", "ci", "node-binary.sh"), [major], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`no Node ${major}: ${r.stderr}`);
  return r.stdout.trim();
}

function wallMs(node: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(node, args, { stdio: ["ignore", "ignore", "pipe"] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${node} ${args.join(" ")} failed: ${r.stderr.toString()}`);
  return ms;
}

function inProcessMs(node: string, handler: string): number {
  const code = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(handler).href)}); process.stdout.write(String(performance.now() - t));`;
  const r = spawnSync(node, ["--input-type=module", "-e", code], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`import of ${handler} failed: ${r.stderr}`);
  return Number(r.stdout);
}

/**
 * Import, then the handler's answer to a request that needs no network (no configuration is
 * given, so every function answers 405 or 500 at once), body read: what a cold instance spends
 * before its first answer beyond Node's own start. The first Web `Request`/`Response` loads
 * Node's undici, which some imports (GET /api/me's) already did.
 */
function firstAnswerMs(node: string, handler: string): number {
  const code = `const t = performance.now();
const m = await import(${JSON.stringify(pathToFileURL(handler).href)});
const method = m.PATCH ? "PATCH" : "GET";
const res = await m[method](new Request("http://localhost/", { method }));
await res.arrayBuffer();
process.stdout.write("\\nFIRST_ANSWER_MS=" + (performance.now() - t));`;
  const r = spawnSync(node, ["--input-type=module", "-e", code], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "" },
  });
  const ms = /FIRST_ANSWER_MS=([\d.]+)/.exec(r.stdout)?.[1];
  if (r.status !== 0 || ms === undefined) {
    throw new Error(`first answer of ${handler} failed: ${r.stderr}`);
  }
  return Number(ms);
}

interface Timing {
  node: string;
  variant: string;
  route: string;
  overBareMs: number;
  inProcessMs: number;
  firstAnswerMs: number;
}

function time(
  nodes: { major: string; bin: string }[],
  fns: ShippedFunction[],
): {
  bare: Record<string, number>;
  timings: Timing[];
} {
  const bare: Record<string, number> = {};
  const timings: Timing[] = [];
  for (const { major, bin } of nodes) {
    const version = spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout.trim();
    const walls = fns.map(() => [] as number[]);
    const inproc = fns.map(() => [] as number[]);
    const answers = fns.map(() => [] as number[]);
    const bares: number[] = [];
    // Warm the OS file cache once, then interleave so drift hits every variant alike.
    for (const f of fns) wallMs(bin, [f.handler]);
    for (let run = 0; run < RUNS; run++) {
      bares.push(wallMs(bin, ["-e", ""]));
      for (const [i, f] of fns.entries()) {
        walls[i]!.push(wallMs(bin, [f.handler]));
        inproc[i]!.push(inProcessMs(bin, f.handler));
        answers[i]!.push(firstAnswerMs(bin, f.handler));
      }
    }
    bare[version] = round(median(bares));
    for (const [i, f] of fns.entries()) {
      timings.push({
        node: version,
        variant: f.variant,
        route: f.route,
        overBareMs: round(median(walls[i]!) - median(bares)),
        inProcessMs: round(median(inproc[i]!)),
        firstAnswerMs: round(median(answers[i]!)),
      });
    }
    console.log(`  timed on Node ${version} (major ${major})`);
  }
  return { bare, timings };
}

async function bundledSources(): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const { route, file } of functionEntries()) {
    const r = await build({ ...bundleOptions(file, join(tmpdir(), "cns-cold.mjs")), write: false });
    out[route] = modulesByPackage(r.metafile ?? { inputs: {}, outputs: {} });
  }
  return out;
}

const fmtPackages = (c: Record<string, number>) =>
  Object.entries(c)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");

async function main(): Promise<void> {
  console.log(
    `bench:cold: ${cpus().length} CPUs, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}, ${RUNS} runs per import, Node majors ${NODES.join(", ")}`,
  );
  const work = join(ROOT, "bench", "results", ".cold");
  mkdirSync(work, { recursive: true });

  // The shipped build migrates a database: an in-memory PGlite behind the local Neon endpoint.
  const backend = await openBackend({});
  const endpoint = await startSqlEndpoint({ backend });
  const builds: { variant: string; dir: string; output: string }[] = [];
  try {
    console.log("vercel build (as shipped: bundled functions)...");
    const shipped = await offlineVercelBuild({
      env: {
        DATABASE_URL: "postgres://local:local@localhost:5432/main",
        NEON_LOCAL_FETCH_ENDPOINT: endpoint.url,
      },
    });
    if (shipped.status !== 0) throw new Error(`vercel build failed:\n${shipped.log}`);
    builds.push({ variant: "shipped (bundled)", ...shipped });
    console.log("vercel build (zero-config Node builder, unbundled, for comparison)...");
    const zero = await offlineVercelBuild({ overrides: zeroConfigOverrides() });
    if (zero.status !== 0) throw new Error(`zero-config vercel build failed:\n${zero.log}`);
    builds.push({ variant: "zero-config (unbundled)", ...zero });
  } finally {
    await endpoint.close();
    await backend.close();
  }

  try {
    const fns = builds.flatMap((b) => describeOutput(b.variant, b.output, work));
    const sources = await bundledSources();
    console.log(
      `\n${"function".padEnd(26)} ${"variant".padEnd(24)} ${"runtime".padEnd(11)} ${"files".padStart(5)} ${"KB".padStart(7)} ${"modules loaded".padStart(14)}`,
    );
    for (const f of fns) {
      console.log(
        `${f.route.padEnd(26)} ${f.variant.padEnd(24)} ${f.runtime.padEnd(11)} ${String(f.files).padStart(5)} ${(f.bytes / 1024).toFixed(0).padStart(7)} ${String(f.loaded).padStart(14)}`,
      );
    }
    console.log("\nmodules loaded by an import, per package:");
    for (const f of fns)
      console.log(`  ${f.route} [${f.variant}]: ${fmtPackages(f.loadedByPackage)}`);
    console.log("\nsource modules inside each bundle, per package:");
    for (const [route, c] of Object.entries(sources)) console.log(`  ${route}: ${fmtPackages(c)}`);

    const nodes = NODES.map((major) => ({ major, bin: nodeBinary(major) }));
    console.log("\ntiming fresh processes...");
    const { bare, timings } = time(nodes, fns);
    console.log(
      `\nbare \`node -e ''\` (median): ${Object.entries(bare)
        .map(([n, ms]) => `${n} ${ms} ms`)
        .join(", ")}`,
    );
    /** One row per function and variant, one column per Node version. */
    const table = (title: string, cell: (t: Timing) => string): void => {
      const versions = Object.keys(bare);
      console.log(`\n${title.padEnd(34)} ${versions.map((n) => n.padStart(22)).join("")}`);
      for (const f of fns) {
        const cells = versions.map((n) => {
          const t = timings.find(
            (x) => x.node === n && x.route === f.route && x.variant === f.variant,
          );
          return (t ? cell(t) : "-").padStart(22);
        });
        console.log(`${`${f.route} ${f.variant.split(" ")[0]}`.padEnd(34)} ${cells.join("")}`);
      }
    };
    table("import over bare node (median)", (t) => `${t.overBareMs} (${t.inProcessMs} in-proc)`);
    table("import + first answer, in-proc", (t) => String(t.firstAnswerMs));

    const newest = Object.keys(bare).find((n) => n.startsWith("v24.")) ?? Object.keys(bare).at(-1);
    console.log(`\ntargets (${newest ?? "?"}, shipped functions):`);
    const targets = fns
      .filter((f) => f.variant.startsWith("shipped"))
      .flatMap((f) => {
        const t = timings.find(
          (x) => x.node === newest && x.route === f.route && x.variant === f.variant,
        );
        return [
          {
            target: `${f.route} import over bare`,
            value: t?.overBareMs ?? null,
            unit: "ms",
            limit: TARGET_IMPORT_MS,
            met: t ? t.overBareMs <= TARGET_IMPORT_MS : null,
          },
          {
            target: `${f.route} shipped size`,
            value: round(f.bytes / 1024),
            unit: "KB",
            limit: TARGET_BYTES / 1024,
            met: f.bytes <= TARGET_BYTES,
          },
        ];
      });
    for (const t of targets) {
      console.log(
        `  [${t.met === null ? "n/a " : t.met ? "met " : "MISS"}] ${t.target}: ${t.value} ${t.unit} (<= ${t.limit})`,
      );
    }

    const report = {
      startedAt: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? null, loadavg: loadavg() },
      runs: RUNS,
      functions: fns.map((f) => ({ ...f, handler: relative(work, f.handler) })),
      bundledSources: sources,
      bareMs: bare,
      timings,
      targets,
    };
    const out = flags.out
      ? resolve(flags.out)
      : join(
          ROOT,
          "bench",
          "results",
          `cold-${new Date().toISOString().replace(/[:.]/g, "-")}.json`,
        );
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nreport: ${out}`);
  } finally {
    for (const b of builds) rmSync(b.dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(1);
});
