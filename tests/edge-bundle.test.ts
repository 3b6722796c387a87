// api/ and lib/ must run on a worker platform (Vercel Edge) as well as Node: bundling the function
// for the browser/worker platform must succeed without a single Node built-in.
import { builtinModules } from "node:module";
import { build, type Plugin } from "esbuild";
import { describe, expect, it } from "vitest";

// Node's own built-ins: under Bun, builtinModules also lists Bun's (bun, bun:*) and the npm
// packages Bun implements natively (ws, undici), which a worker bundle may well contain.
const NOT_NODE = /^bun(:|$)|^(ws|undici)$/;
const BUILTINS = new Set(
  builtinModules.filter((m) => !NOT_NODE.test(m)).flatMap((m) => [m, `node:${m}`]),
);

function forbidNodeBuiltins(found: string[]): Plugin {
  return {
    name: "forbid-node-builtins",
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (BUILTINS.has(args.path) || args.path.startsWith("node:")) {
          found.push(`${args.path} (imported by ${args.importer})`);
          return { path: args.path, external: true };
        }
        return undefined;
      });
    },
  };
}

async function bundleForWorker(entry: string) {
  const found: string[] = [];
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    conditions: ["edge-light", "worker", "browser"],
    logLevel: "silent",
    plugins: [forbidNodeBuiltins(found)],
  });
  return { found, bytes: result.outputFiles[0]?.contents.byteLength ?? 0 };
}

describe("worker (Edge) compatibility", () => {
  it("bundles api/webhooks/clerk.ts without any Node built-in", async () => {
    const { found, bytes } = await bundleForWorker("api/webhooks/clerk.ts");
    expect(found).toEqual([]);
    expect(bytes).toBeGreaterThan(0);
  });

  it("bundles api/me.ts without any Node built-in", async () => {
    const { found, bytes } = await bundleForWorker("api/me.ts");
    expect(found).toEqual([]);
    expect(bytes).toBeGreaterThan(0);
  });

  it("bundles api/cron/welcome-emails.ts without any Node built-in", async () => {
    const { found, bytes } = await bundleForWorker("api/cron/welcome-emails.ts");
    expect(found).toEqual([]);
    expect(bytes).toBeGreaterThan(0);
  });

  it("would catch a Node built-in import (the check itself works)", async () => {
    const { found } = await bundleForWorker("scripts/local/sql-endpoint.ts");
    expect(found.some((f) => f.startsWith("node:http"))).toBe(true);
  });
});
