import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    globalSetup: ["tests/helpers/global-setup.ts"],
    setupFiles: ["tests/helpers/setup.ts"],
    // One database for the run, emptied before each test: files run one after another.
    fileParallelism: false,
    // `npm run test:stress` (STRESS=1) runs the same tests with counts 10-20x larger.
    testTimeout: process.env.STRESS === "1" ? 1_200_000 : 60_000,
    hookTimeout: 60_000,
  },
});
