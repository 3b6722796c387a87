// The backfill's own pace against Clerk's Backend API rate limit, so a run spends its requests
// instead of collecting 429s. Clerk allows 1,000 requests per 10 s on a production instance and
// 100 per 10 s on a development one, counted per instance: the app, GET /api/me's sync on demand
// and anyone else with the key share that budget, and Clerk's window need not start when ours
// does. So the limiter keeps a sliding window (at most `requests` in ANY span of `windowMs`, which
// no fixed window can then exceed) at a share of the limit, and a 429 still pauses every request
// for its Retry-After.

export interface RateLimit {
  requests: number;
  windowMs: number;
}

/** Clerk's documented limits per instance type. */
export const CLERK_RATE_LIMITS = {
  production: { requests: 1000, windowMs: 10_000 },
  development: { requests: 100, windowMs: 10_000 },
} as const satisfies Record<string, RateLimit>;
export type InstanceKind = keyof typeof CLERK_RATE_LIMITS;

/** The share of the instance's limit one run uses, leaving the rest to the app and other callers. */
export const RUN_SHARE = 0.9;

export function runLimit(kind: InstanceKind): RateLimit {
  const l = CLERK_RATE_LIMITS[kind];
  return { requests: Math.floor(l.requests * RUN_SHARE), windowMs: l.windowMs };
}

export interface Limiter {
  /** Resolves when one more request may go out; call right before each request. */
  acquire(): Promise<void>;
  /** Clerk answered 429: nothing goes out for `ms` (its Retry-After), prefetches included. */
  pause(ms: number): void;
}

export function createLimiter(
  limit: RateLimit | null,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Limiter {
  if (limit === null) return { acquire: async () => {}, pause: () => {} };
  // Send times of the last `requests` requests, oldest first: bounded, whatever the run's length.
  const sent: number[] = [];
  let pausedUntil = 0;
  let queue: Promise<void> = Promise.resolve();
  const take = async (): Promise<void> => {
    for (;;) {
      const now = performance.now();
      if (now < pausedUntil) {
        await sleep(pausedUntil - now);
        continue;
      }
      while (sent.length > 0 && sent[0]! <= now - limit.windowMs) sent.shift();
      if (sent.length < limit.requests) {
        sent.push(now);
        return;
      }
      await sleep(sent[0]! + limit.windowMs - now);
    }
  };
  return {
    acquire() {
      // One waiter at a time, in call order: concurrent callers (the prefetch) queue up.
      const turn = queue.then(take);
      queue = turn;
      return turn;
    },
    pause(ms) {
      pausedUntil = Math.max(pausedUntil, performance.now() + ms);
    },
  };
}
