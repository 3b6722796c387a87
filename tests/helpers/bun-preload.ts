// `bun test`'s stand-in for vitest.config.ts (bunfig.toml preloads it): Bun's runner has no
// globalSetup nor setupFiles, and runs every file in this one process. So the global setup runs
// here once (its provided values go to the environment, where tests/helpers/provided.ts reads
// them), its teardown is a global afterAll, and the per-test setup (empty tables before each test,
// the log leak check) is loaded once for the whole run. Under vitest this file is never loaded.

// bun test maps "vitest" to bun:test; an afterAll in a preload runs once, after every file.
import * as runner from "vitest";
import type { TestProject } from "vitest/node";
import setup from "./global-setup.js";
import { providedEnvName } from "./provided.js";

const project = {
  provide(key: Parameters<typeof providedEnvName>[0], value: unknown) {
    process.env[providedEnvName(key)] = JSON.stringify(value);
  },
};
// vitest.config.ts's testTimeout (Bun's default is 5 s). bun:test's own, not in vitest's types.
(runner as unknown as { setDefaultTimeout: (ms: number) => void }).setDefaultTimeout(60_000);
const teardown = await setup(project as unknown as TestProject);
runner.afterAll(teardown);
await import("./setup.js");
