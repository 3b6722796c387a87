// The cold-start guard: every shipped function is one self-contained file (nothing to resolve in
// node_modules at run time), within a budget of bundled source modules and bytes. A dependency that
// drags in hundreds of files (a chainable zod, a whole SDK entry) fails here, in review, instead of
// in production's cold starts. The figures behind the budgets: docs/performance.md.
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { bundleOptions, functionEntries, modulesByPackage } from "../scripts/vercel/output.js";

/** Source modules bundled into each function, at most (today's count plus a small margin). */
const MODULE_BUDGET: Record<string, number> = {
  "api/cron/welcome-emails": 230, // 211 today
  "api/health": 230, // 209
  "api/me": 280, // 256
  "api/webhooks/clerk": 250, // 225
};
const BYTE_BUDGET = 1024 * 1024;

async function bundle(file: string) {
  const r = await build({ ...bundleOptions(file, "/dev/null/index.mjs"), write: false });
  const meta = r.metafile ?? { inputs: {}, outputs: {} };
  const output = Object.values(meta.outputs)[0];
  return {
    bytes: r.outputFiles?.[0]?.contents.byteLength ?? 0,
    byPackage: modulesByPackage(meta),
    modules: Object.keys(meta.inputs).length,
    runtimeImports: (output?.imports ?? []).map((i) => i.path),
  };
}

describe("shipped function budgets", () => {
  it("every api/ function has a budget", () => {
    expect(
      functionEntries()
        .map((f) => f.route)
        .sort(),
    ).toEqual(Object.keys(MODULE_BUDGET).sort());
  });

  for (const { route, file } of functionEntries()) {
    it(`${route}: one self-contained file within ${MODULE_BUDGET[route]} modules and 1 MB`, async () => {
      const b = await bundle(file);
      // Only Node's own modules may be imported at run time: no package is resolved on a cold start.
      expect(
        b.runtimeImports.filter((p) => !p.startsWith("node:") && !/^[a-z_]+$/.test(p)),
      ).toEqual([]);
      expect(b.modules, JSON.stringify(b.byPackage)).toBeLessThanOrEqual(MODULE_BUDGET[route] ?? 0);
      expect(b.bytes).toBeLessThanOrEqual(BYTE_BUDGET);
    });
  }

  it("would catch a heavy dependency (the check itself works)", async () => {
    // scripts/backfill.ts pulls in the CLI's dependencies: far over any function's budget.
    const b = await bundle("scripts/backfill.ts");
    expect(b.modules).toBeGreaterThan(MODULE_BUDGET["api/webhooks/clerk"] ?? 0);
  });
});
