// Writes what Vercel deploys, in Vercel's Build Output API (v3) layout, under .vercel/output:
//
//   config.json                                  {"version": 3}
//   functions/api/<path>.func/index.mjs          one bundled, minified ESM file per api/ file
//   functions/api/<path>.func/.vc-config.json    Node.js runtime, handler, maxDuration
//   static/                                      empty: no file of the repository is published
//
// Why bundle: Vercel's zero-config Node builder ships each function unbundled (our compiled files
// plus ~400 traced node_modules files), and on Node 22/24 the ESM loader's per-module cost makes a
// cold import of that graph take 0.4-0.6 s (drizzle-orm alone ~0.5 s). One esbuild file imports in
// a small fraction of that. The bundle is built from the very same api/ and lib/ sources that
// `npm run dev` and the tests run. Figures: docs/performance.md.
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { type BuildOptions, build, type Metafile, type Plugin } from "esbuild";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const OUTPUT_DIR = join(ROOT, ".vercel", "output");

/**
 * Seconds a function may run (Vercel's maxDuration). Svix gives up on an answer after 15 s and
 * every SQL request has its own deadline well under that; the extra room is for the work done after
 * the answer (the welcome email, through waitUntil) and for the daily sweeper's batch.
 */
export const MAX_DURATION_SECONDS = 30;

/** api/x/y.ts -> "api/x/y"; files and folders starting with `_` or `.` are not functions. */
export function functionEntries(root = ROOT): { route: string; file: string }[] {
  const out: { route: string; file: string }[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (/^[._]/.test(e.name)) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|mts)$/.test(e.name) && !e.name.endsWith(".d.ts")) {
        out.push({
          route: relative(root, p)
            .split(sep)
            .join("/")
            .replace(/\.m?ts$/, ""),
          file: p,
        });
      }
    }
  };
  walk(join(root, "api"));
  return out.sort((a, b) => a.route.localeCompare(b.route));
}

/** The newest Node.js major that package.json's `engines.node` names ("22.x || 24.x" -> 24). */
export function runtimeFromEngines(root = ROOT): `nodejs${number}.x` {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    engines?: { node?: string };
  };
  const majors = [...(pkg.engines?.node ?? "").matchAll(/(\d+)\.x/g)].map((m) => Number(m[1]));
  if (majors.length === 0) throw new Error('package.json engines.node must name majors ("24.x")');
  return `nodejs${Math.max(...majors)}.x`;
}

/**
 * `@vercel/functions`' entry is one CommonJS index that loads all of the package (its OIDC,
 * websocket and cache clients, `ws`, Node's net/tls/http): ~70 KB and a dozen Node built-ins per
 * cold start, for the one function we call. Its `waitUntil` is a file of its own
 * (wait-until.js + get-context.js), which the package's exports map does not expose: the bundle
 * takes that file, the same code. Importing any other name from the package then fails the build
 * loudly ("No matching export"), rather than silently shipping the whole package again.
 */
const vercelFunctionsWaitUntilOnly: Plugin = {
  name: "vercel-functions-wait-until-only",
  setup(b) {
    b.onResolve({ filter: /^@vercel\/functions$/ }, () => ({
      path: join(ROOT, "node_modules", "@vercel", "functions", "wait-until.js"),
    }));
  },
};

/** The esbuild settings of a shipped function: the tests and benchmarks bundle with these too. */
export function bundleOptions(entry: string, outfile: string): BuildOptions {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    minify: true,
    platform: "node",
    format: "esm",
    target: "node22",
    metafile: true,
    logLevel: "warning",
    plugins: [vercelFunctionsWaitUntilOnly],
  };
}

export interface BuiltFunction {
  route: string;
  dir: string;
  bytes: number;
  /** Source modules bundled into it, per package ("(project)" for ours). */
  modulesByPackage: Record<string, number>;
  modules: number;
}

export function modulesByPackage(meta: Metafile): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const input of Object.keys(meta.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
    const name = m?.[1] ?? "(project)";
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** Bundles every api/ function into .vercel/output (replacing what was there). */
export async function writeBuildOutput(
  opts: { root?: string; outputDir?: string } = {},
): Promise<BuiltFunction[]> {
  const root = opts.root ?? ROOT;
  const outputDir = opts.outputDir ?? join(root, ".vercel", "output");
  rmSync(outputDir, { recursive: true, force: true });
  mkdirSync(join(outputDir, "static"), { recursive: true });
  writeFileSync(join(outputDir, "config.json"), `${JSON.stringify({ version: 3 }, null, 2)}\n`);
  const runtime = runtimeFromEngines(root);
  const built: BuiltFunction[] = [];
  for (const { route, file } of functionEntries(root)) {
    const dir = join(outputDir, "functions", `${route}.func`);
    const outfile = join(dir, "index.mjs");
    const result = await build(bundleOptions(file, outfile));
    writeFileSync(
      join(dir, ".vc-config.json"),
      `${JSON.stringify(
        {
          runtime,
          handler: "index.mjs",
          launcherType: "Nodejs",
          // Web-standard handlers (export GET/POST): no Node (req, res) helpers needed.
          shouldAddHelpers: false,
          supportsResponseStreaming: true,
          maxDuration: MAX_DURATION_SECONDS,
        },
        null,
        2,
      )}\n`,
    );
    const counts = modulesByPackage(result.metafile ?? { inputs: {}, outputs: {} });
    built.push({
      route,
      dir,
      bytes: statSync(outfile).size,
      modulesByPackage: counts,
      modules: Object.values(counts).reduce((a, b) => a + b, 0),
    });
  }
  return built;
}
