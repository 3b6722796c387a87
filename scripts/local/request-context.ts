// The request context Vercel's runtime gives every function invocation, for code running outside
// Vercel (the local api-server, tests). @vercel/functions' `waitUntil` reads
// `globalThis[Symbol.for("@vercel/request-context")].get().waitUntil` and hands it the promise;
// without this, it silently does nothing. Here every promise is tracked until it settles, so the
// dev server can wait for them before closing and tests can await them (`idle()`).
//
// Local development and tests only: nothing under api/ or lib/ imports this file.

const REQUEST_CONTEXT = Symbol.for("@vercel/request-context");
type Holder = { [REQUEST_CONTEXT]?: unknown };

export interface LocalRequestContext {
  /** Promises handed to waitUntil and not yet settled. */
  readonly pending: number;
  /** Resolves once every promise handed to waitUntil so far (and any they add) has settled. */
  idle(): Promise<void>;
  /** Puts back whatever context was installed before. */
  uninstall(): void;
}

export function installRequestContext(): LocalRequestContext {
  const inFlight = new Set<Promise<unknown>>();
  const waitUntil = (promise: Promise<unknown>): void => {
    // Vercel logs a rejected waitUntil promise and carries on; so does this, without crashing.
    const tracked: Promise<unknown> = promise
      .catch((err: unknown) => {
        console.error("[local] a waitUntil promise rejected:", err);
      })
      .finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };
  const holder = globalThis as Holder;
  const previous = Object.getOwnPropertyDescriptor(holder, REQUEST_CONTEXT);
  // The same shape Vercel's runtime installs: one context object for the process.
  Object.defineProperty(holder, REQUEST_CONTEXT, {
    configurable: true,
    enumerable: false,
    value: { get: () => ({ waitUntil }) },
  });
  return {
    get pending() {
      return inFlight.size;
    },
    async idle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    uninstall() {
      if (previous) Object.defineProperty(holder, REQUEST_CONTEXT, previous);
      else delete holder[REQUEST_CONTEXT];
    },
  };
}
