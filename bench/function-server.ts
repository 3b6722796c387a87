// Process B of the bench: the function, alone in its process so its CPU can be measured.
// A tiny HTTP server (@hono/node-server) whose fetch calls the real api/webhooks/clerk.ts handler
// (POST /api/webhooks/clerk), the real api/me.ts (GET /api/me), the seed plan's flow
// (POST /bench/baseline) or the floor (POST /bench/floor, one `select 1`), with the Neon driver
// pointed at process A. GET /bench/stats answers this process's CPU and memory and the time its
// handlers spent, in total and waiting for SQL, so the sender can attribute CPU per event.
import { serve } from "@hono/node-server";
import * as meRoute from "../api/me.js";
import * as clerkRoute from "../api/webhooks/clerk.js";
import { baselineHandler } from "./baseline.js";
import { floorHandler } from "./floor.js";
import type { FunctionServerReady, FunctionStats } from "./protocol.js";
import { ME_ROUTE, ROUTES } from "./protocol.js";

// The Neon driver calls the global fetch at request time: time every SQL fetch (wall), so
// "handler time excluding SQL waiting" = (sum of handler time - sum of SQL waits) / events.
const sqlEndpoint = process.env.NEON_LOCAL_FETCH_ENDPOINT ?? "";
const realFetch = globalThis.fetch;
let sqlWaitMs = 0;
let sqlFetches = 0;
// Object.assign keeps fetch's other members (Bun's `preconnect`), so the type is still fetch's.
globalThis.fetch = Object.assign(async (input: string | URL | Request, init?: RequestInit) => {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (url !== sqlEndpoint) return realFetch(input, init);
  const t0 = performance.now();
  try {
    const res = await realFetch(input, init);
    // The driver reads the body next; what we time is the wait for the answer's head.
    return res;
  } finally {
    sqlWaitMs += performance.now() - t0;
    sqlFetches++;
  }
}, realFetch);

type Handler = (request: Request) => Promise<Response>;
const ours = clerkRoute as unknown as Record<string, Handler | undefined>;
const me = meRoute as unknown as Record<string, Handler | undefined>;

let handled = 0;
let handlerMs = 0;

async function timed(handler: Handler, request: Request): Promise<Response> {
  const t0 = performance.now();
  try {
    return await handler(request);
  } finally {
    handlerMs += performance.now() - t0;
    handled++;
  }
}

function stats(): FunctionStats {
  const cpu = process.cpuUsage();
  return {
    userUs: cpu.user,
    systemUs: cpu.system,
    rssBytes: process.memoryUsage.rss(),
    maxRssKb: process.resourceUsage().maxRSS,
    handled,
    handlerMs,
    sqlWaitMs,
    sqlFetches,
  };
}

const server = serve(
  {
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request: Request) => {
      const path = new URL(request.url).pathname;
      if (path === ROUTES.ours) {
        const handler = ours[request.method];
        if (handler) return timed(handler, request);
        return new Response(null, { status: 405 });
      }
      if (path === ROUTES.baseline) return timed(baselineHandler, request);
      if (path === ROUTES.floor) return timed(floorHandler, request);
      if (path === ME_ROUTE) {
        const handler = me[request.method];
        if (handler) return timed(handler, request);
        return new Response(null, { status: 405 });
      }
      if (path === "/bench/stats") {
        return new Response(JSON.stringify(stats()), {
          headers: { "content-type": "application/json" },
        });
      }
      return new Response("not found", { status: 404 });
    },
  },
  (info) => {
    const ready: FunctionServerReady = { type: "ready", url: `http://127.0.0.1:${info.port}` };
    process.send?.(ready);
  },
);
if ("keepAliveTimeout" in server) server.keepAliveTimeout = 60_000;

function stop(): void {
  server.close();
  // A --cpu-prof profile is written on a normal exit.
  setImmediate(() => process.exit(0));
}
process.on("disconnect", stop);
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
