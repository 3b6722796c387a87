// Talks to the SQL endpoint's /__control route (test-only): request counts and injected faults.

import type { EndpointStats, Faults } from "../../scripts/local/sql-endpoint.js";
import { inject } from "./provided.js";

function controlUrl(): string {
  return inject("sqlEndpoint").replace(/\/sql$/, "/__control");
}

export async function control(patch: {
  faults?: Faults;
  resetStats?: boolean;
  delayMs?: number;
}): Promise<EndpointStats> {
  const res = await fetch(controlUrl(), { method: "POST", body: JSON.stringify(patch) });
  if (!res.ok) throw new Error(`control failed: ${res.status}`);
  return ((await res.json()) as { stats: EndpointStats }).stats;
}

export async function stats(): Promise<EndpointStats> {
  const res = await fetch(controlUrl());
  return ((await res.json()) as { stats: EndpointStats }).stats;
}

/** Runs fn and returns how many SQL HTTP requests (round trips) it made. */
export async function countRoundTrips(fn: () => Promise<unknown>): Promise<number> {
  const before = (await stats()).requests;
  await fn();
  return (await stats()).requests - before;
}
