// The values the global setup provides (tests/helpers/global-setup.ts), under either runner:
// vitest's `inject`, or, under `bun test` (whose `vitest` module is bun:test, without inject), the
// environment variables the Bun preload (tests/helpers/bun-preload.ts) sets from the same setup.
import type { ProvidedContext } from "vitest";
import * as vitest from "vitest";

type Key = keyof ProvidedContext;
const viaVitest = (vitest as { inject?: <K extends Key>(key: K) => ProvidedContext[K] }).inject;

/** The environment variable the Bun preload stores a provided value in. */
export function providedEnvName(key: Key): string {
  return `CNS_TEST_PROVIDED_${key}`;
}

export function inject<K extends Key>(key: K): ProvidedContext[K] {
  if (typeof viaVitest === "function") return viaVitest(key);
  const raw = process.env[providedEnvName(key)];
  if (raw === undefined) throw new Error(`test setup did not provide ${key} (no global setup ran)`);
  return JSON.parse(raw) as ProvidedContext[K];
}
