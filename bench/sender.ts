// Process C's sending loop: C workers over keep-alive connections (node:http, one socket per
// worker, the cheapest client Node has, so the sender takes as little of the shared CPU as it can),
// each taking the next delivery, timing it from write to the last byte of the answer.
import { Agent, request } from "node:http";
import type { Delivery } from "./events.js";

export interface SendResult {
  wallMs: number;
  latenciesMs: number[];
  statuses: Map<number, number>;
  outcomes: Map<string, number>;
  failures: string[];
}

/** What is sent: a webhook delivery, or a GET /api/me (empty body, a bearer token). */
export type Sendable = Pick<Delivery, "body" | "headers">;

function post(
  agent: Agent,
  url: URL,
  d: Sendable,
  method: string,
): Promise<{ status: number; body: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method,
        headers: d.headers,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - t0 }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(method === "GET" ? undefined : d.body);
  });
}

export async function send(
  target: string,
  deliveries: Sendable[],
  concurrency: number,
  method = "POST",
): Promise<SendResult> {
  const url = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latenciesMs: number[] = new Array(deliveries.length);
  const statuses = new Map<number, number>();
  const outcomes = new Map<string, number>();
  const failures: string[] = [];
  let next = 0;
  const started = performance.now();
  async function worker(): Promise<void> {
    for (;;) {
      const i = next++;
      if (i >= deliveries.length) return;
      const d = deliveries[i]!;
      try {
        const r = await post(agent, url, d, method);
        latenciesMs[i] = r.ms;
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        // The webhook answers an `outcome`; GET /api/me a `source` (database | clerk).
        const json =
          r.status === 200 ? (JSON.parse(r.body) as { outcome?: string; source?: string }) : {};
        const outcome = json.outcome ?? json.source ?? "";
        if (outcome) outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        else if (failures.length < 5) failures.push(`${r.status} ${r.body.slice(0, 200)}`);
      } catch (err) {
        latenciesMs[i] = Number.NaN;
        if (failures.length < 5) failures.push(String(err));
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallMs = performance.now() - started;
  agent.destroy();
  return { wallMs, latenciesMs, statuses, outcomes, failures };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}
