// `bun test`'s stand-in for vitest.config.ts (bunfig.toml preloads it): Bun's runner has no
// globalSetup nor setupFiles, and runs every file in this one process. So the global setup runs
// here once (its provided values go to the environment, where tests/helpers/provided.ts reads
// them), its teardown is a global afterAll, and the per-test setup (empty tables before each test,
// the log leak check) is loaded once for the whole run. Under vitest this file is never loaded.

import { readFile } from "node:fs/promises";
// bun test maps "vitest" to bun:test; an afterAll in a preload runs once, after every file.
import * as runner from "vitest";
import type { TestProject } from "vitest/node";
import setup from "./global-setup.js";
import { providedEnvName } from "./provided.js";

const TIMEOUT_MS = 60_000;

/** The part of Bun's plugin API used here (its types are @types/bun's, not loaded by `check`). */
interface BunPlugins {
  plugin(p: {
    name: string;
    setup(build: {
      onLoad(
        o: { filter: RegExp },
        load: (args: { path: string }) => Promise<{ contents: string; loader: "ts" }>,
      ): void;
    }): void;
  }): void;
}

const project = {
  provide(key: Parameters<typeof providedEnvName>[0], value: unknown) {
    process.env[providedEnvName(key)] = JSON.stringify(value);
  },
};
// vitest.config.ts's testTimeout and hookTimeout; Bun's default is 5 s. bun:test's
// setDefaultTimeout applies to the file that calls it only, and bunfig.toml has no such setting:
// so every test file is loaded with that call put in front of its first line (same line, so the
// line numbers of failures are unchanged).
const bun = (globalThis as unknown as { Bun: BunPlugins }).Bun;
bun.plugin({
  name: "vitest-timeouts",
  setup(build) {
    build.onLoad({ filter: /\.test\.ts$/ }, async (args) => ({
      contents: `import { setDefaultTimeout as __cnsTimeout } from "bun:test"; __cnsTimeout(${TIMEOUT_MS}); ${await readFile(args.path, "utf8")}`,
      loader: "ts",
    }));
  },
});
const teardown = await setup(project as unknown as TestProject);
runner.afterAll(teardown);
await import("./setup.js");
