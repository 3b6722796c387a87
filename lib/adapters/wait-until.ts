// `waitUntil` outside Vercel: the welcome email goes out right after the answer, as on Vercel.
//
// lib/email/after-sync.ts hands its promise to @vercel/functions' `waitUntil`, which reads
// `globalThis[Symbol.for("@vercel/request-context")].get().waitUntil`. Vercel's runtime installs
// that for every invocation; an app's own server (Express, Bun.serve) has none, so without this
// the inline send is skipped (`no_request_context`) and the email waits for the daily sweeper.
//
// Here the context is per request, through AsyncLocalStorage (Node and Bun both have it): only
// requests served through `withWaitUntil` get one, so a script or a test calling a handler
// directly still sees none. Every promise is tracked until it settles, so the process can finish
// them before it exits (`settlePending`, `drainOnShutdown`); what a killed process could not
// finish stays pending in email_outbox for the sweeper.
import { AsyncLocalStorage } from "node:async_hooks";
import { log } from "../log.js";

const REQUEST_CONTEXT = Symbol.for("@vercel/request-context");
type WaitUntil = (promise: Promise<unknown>) => void;
type Context = { waitUntil?: unknown } | undefined;
type ContextSource = { get?: () => Context } | undefined;
type Holder = { [REQUEST_CONTEXT]?: ContextSource };

const requests = new AsyncLocalStorage<{ waitUntil: WaitUntil }>();
const pending = new Set<Promise<unknown>>();
let installed = false;

const track: WaitUntil = (promise) => {
  // Like Vercel: a rejected promise is logged and the process carries on (after-sync's promise
  // never rejects; this is for any other caller).
  const tracked: Promise<unknown> = promise
    .catch(() => {
      // The error itself is not logged: it may carry anything, personal data included.
      log({ event: "wait_until", level: "error", outcome: "rejected" });
    })
    .finally(() => pending.delete(tracked));
  pending.add(tracked);
};

/**
 * Installs the context source once. A platform context already there (Vercel's, when the app
 * itself is deployed on Vercel) keeps priority: it is the one that keeps that invocation alive.
 */
function install(): void {
  if (installed) return;
  installed = true;
  const holder = globalThis as Holder;
  const platform = holder[REQUEST_CONTEXT];
  Object.defineProperty(holder, REQUEST_CONTEXT, {
    configurable: true,
    enumerable: false,
    value: {
      get: (): Context => {
        const fromPlatform = platform?.get?.();
        if (typeof fromPlatform?.waitUntil === "function") return fromPlatform;
        return requests.getStore();
      },
    },
  });
}

/** A Web handler (Request -> Response) whose work after the answer is tracked here. */
export type WebHandler = (request: Request) => Promise<Response>;

/**
 * Wraps a handler so that the `waitUntil` calls made while it runs (the welcome email) are
 * tracked by this process and run right after the answer. For `Bun.serve`, Deno, or any server
 * that speaks Request -> Response; the Node adapter (./node.ts) uses it too.
 */
export function withWaitUntil(handler: WebHandler): WebHandler {
  install();
  return (request) => requests.run({ waitUntil: track }, () => handler(request));
}

/** Work handed to waitUntil and not settled yet. */
export function pendingCount(): number {
  return pending.size;
}

/**
 * Resolves once every tracked promise (and any they add) has settled, or after `timeoutMs`,
 * whichever comes first: true when nothing is left pending.
 */
export async function settlePending(timeoutMs = 25_000): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    while (pending.size > 0) {
      if ((await Promise.race([Promise.allSettled([...pending]), timedOut])) === "timeout") break;
    }
  } finally {
    clearTimeout(timer);
  }
  return pending.size === 0;
}

export interface DrainOptions {
  /** Stops accepting requests first (e.g. `() => server.close()`, `() => server.stop()`). */
  close?: () => unknown;
  /** Longest wait for pending work (default 25 s: under the usual 30 s kill grace period). */
  timeoutMs?: number;
  signals?: NodeJS.Signals[];
}

/**
 * Opt-in graceful stop: on SIGTERM (or SIGINT) stop accepting requests, finish the pending
 * welcome emails, then exit. Anything still pending at the deadline stays in email_outbox for
 * the sweeper; nothing is lost either way. Returns a function that removes the listeners.
 */
export function drainOnShutdown(options: DrainOptions = {}): () => void {
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  const onSignal = (signal: NodeJS.Signals): void => {
    for (const s of signals) process.off(s, onSignal);
    options.close?.();
    void settlePending(options.timeoutMs).then((settled) => {
      log({
        event: "shutdown",
        level: settled ? "info" : "warn",
        outcome: settled ? "settled" : "left_for_sweeper",
        type: signal,
        n_pending: pending.size,
      });
      process.exit(0);
    });
  };
  for (const s of signals) process.on(s, onSignal);
  return () => {
    for (const s of signals) process.off(s, onSignal);
  };
}
