// The webhook served over real HTTP on loopback (the handler behind @hono/node-server), a signed
// sender, and a bounded-concurrency runner: for tests that go through the whole stack.
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll } from "vitest";
import { handleClerkWebhook } from "../../lib/webhook/handle-clerk.js";
import { type ClerkEventJson, svixHeaders } from "../fixtures/clerk.js";
import { TEST_SECRET } from "./constants.js";

export interface Served {
  url: string;
  close(): Promise<void>;
}

export async function serveWebhook(): Promise<Served> {
  const server = serve({ fetch: handleClerkWebhook, port: 0, hostname: "127.0.0.1" });
  if (!server.listening) await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api/webhooks/clerk`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ("closeAllConnections" in server) server.closeAllConnections();
      }),
  };
}

/** Serves the webhook for the calling test file (started before its tests, closed after). */
export function useWebhookServer(): { readonly url: string } {
  let served: Served | undefined;
  beforeAll(async () => {
    served = await serveWebhook();
  });
  afterAll(async () => {
    await served?.close();
  });
  return {
    get url() {
      if (!served) throw new Error("the webhook server is not started yet");
      return served.url;
    },
  };
}

export interface Delivery {
  svixId: string;
  body: string;
  timestamp?: number;
}

export function delivery(event: ClerkEventJson, svixId: string): Delivery {
  return { svixId, body: JSON.stringify(event) };
}

export interface HttpAnswer {
  status: number;
  outcome?: string;
  error?: string;
}

export async function post(url: string, d: Delivery, secret = TEST_SECRET): Promise<HttpAnswer> {
  const headers = svixHeaders(d.body, { secret, svixId: d.svixId, timestamp: d.timestamp });
  const res = await fetch(url, { method: "POST", headers, body: d.body });
  const json = (await res.json()) as { outcome?: string; error?: string };
  return { status: res.status, outcome: json.outcome, error: json.error };
}

/** Runs fn over items with at most `concurrency` in flight; returns results in item order. */
export async function inPool<T, R>(
  items: T[],
  concurrency: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let inFlight = 0;
  let peak = 0;
  async function worker(): Promise<void> {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      inFlight++;
      peak = Math.max(peak, inFlight);
      try {
        results[i] = await fn(items[i] as T);
      } finally {
        inFlight--;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  lastPeak = peak;
  return results;
}

let lastPeak = 0;
/** The highest number of requests in flight during the last inPool run. */
export function peakInFlight(): number {
  return lastPeak;
}

export { rng, shuffle } from "../fixtures/random.js";

/** Test sizes: small in `npm test`, large under `npm run test:stress` (STRESS=1). */
export const STRESS = process.env.STRESS === "1";
export function size(normal: number, stress: number): number {
  return STRESS ? stress : normal;
}

/** A counts line the note can quote. */
export function report(name: string, counts: Record<string, number | string>): void {
  process.stdout.write(
    `[figures] ${name}: ${Object.entries(counts)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ")}\n`,
  );
}
