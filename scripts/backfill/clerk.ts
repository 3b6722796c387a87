// Reading users from Clerk's Backend API: GET /v1/users with plain fetch, validated at the boundary.
//
// Why not @clerk/backend's client (3.25, read in node_modules/@clerk/backend/dist): its
// users.getUserList() always sends GET /v1/users/count alongside each page (two requests per page
// against the rate limit, and a count per page that is useless to a cursor), and its types have no
// `starting_after`. So the listing is one raw request per page, with the headers the SDK sends:
// `Authorization: Bearer <secret key>` and `Clerk-API-Version: 2026-05-12` (its
// SUPPORTED_BAPI_VERSION, the version whose spec, bapi/2026-05-12.yml, documents the cursor).
//
// - Cursor paging: `order_by=+created_at&starting_after=<id of the last user of the previous
//   page>`; Clerk refuses (422) a cursor with a non-zero offset or another order. An API that
//   does not know the parameter either refuses it (400/422 naming it) or ignores it and answers
//   the first page again: both are reported as CursorRefused, and the caller pages by offset.
// - Non-2xx answers throw ClerkApiError (lib/clerk/backend-api.ts), the class single-user reads
//   throw, so retry.ts classifies both alike (429 with Retry-After seconds, 5xx, network, 4xx).
// - Each user is validated with the webhook's own schema (clerkUserSchema), so the backfill applies
//   exactly what a webhook carrying the same user would; one it refuses is reported by id only.
import { z } from "zod";
import {
  CLERK_API_VERSION,
  ClerkApiError,
  failedLookup,
  fetchClerkUser,
} from "../../lib/clerk/backend-api.js";
import { type ClerkUser, clerkUserSchema } from "../../lib/clerk/schemas.js";
import { createLimiter, type Limiter, type RateLimit, runLimit } from "./rate-limit.js";
import { DEFAULT_RETRY, RetriesExhausted, type RetryPolicy, withRetry } from "./retry.js";

export interface InvalidUser {
  /** Clerk id when it looks like one; the zod issue path and message (never a value). */
  id: string;
  issue: string;
}

export interface ListQuery {
  limit: number;
  /** Clerk's created_at_after (epoch ms): --since. */
  createdAfter?: number;
  /** The cursor: id of the last user of the previous page. */
  startingAfter?: string;
  /** Offset paging: the fallback, and the first page of a run checkpointed by offset. */
  offset?: number;
}

export interface UserPage {
  /** Users as listed, validated; `invalid` are those the webhook's schema refuses too. */
  users: ClerkUser[];
  invalid: InvalidUser[];
  /** How many Clerk returned (valid + invalid). */
  listed: number;
  /** Id of the last user listed, valid or not: the next page's cursor (null: empty page). */
  lastId: string | null;
  /** created_at of the first and last users listed (epoch ms): a cursor page starts at or after
   *  the previous page's last, or the API ignored the cursor. */
  firstCreatedAt: number | null;
  lastCreatedAt: number | null;
}

export interface ClerkSource {
  listUsers(q: ListQuery): Promise<UserPage>;
  /** GET /v1/users/count with the same filter: the progress bar's total, once per run. */
  countUsers(q: { createdAfter?: number }): Promise<number>;
  /** null when Clerk answers 404. */
  getUser(id: string): Promise<ClerkUser | null>;
}

/** Clerk did not take `starting_after` (an older API): the caller pages by offset instead. */
export class CursorRefused extends Error {
  constructor(readonly reason: string) {
    super(`Clerk did not accept the starting_after cursor (${reason})`);
    this.name = "CursorRefused";
  }
}

export interface ClerkSourceOptions {
  secretKey: string;
  apiUrl?: string;
  retry?: RetryPolicy;
  /** The run's pace (rate-limit.ts); default: a production instance's share; null: none. */
  rateLimit?: RateLimit | null;
  /** Per request; a page deep into an offset listing can take long at Clerk (default 60 s). */
  timeoutMs?: number;
}

const SAFE_ID = /^[A-Za-z0-9_-]{1,100}$/;
const DEFAULT_API_URL = "https://api.clerk.com";

const listBody = z.array(z.unknown());
const countBody = z.object({ total_count: z.number().int().nonnegative() });
const errorBody = z.object({
  errors: z.array(
    z.object({
      code: z.string(),
      message: z.string().optional(),
      long_message: z.string().optional(),
      meta: z.object({ param_name: z.string().optional() }).optional(),
    }),
  ),
});
const listedUser = z.object({ id: z.string(), created_at: z.number() });

export function validateUser(
  raw: unknown,
): { ok: true; user: ClerkUser } | { ok: false; bad: InvalidUser } {
  const parsed = clerkUserSchema.safeParse(raw);
  if (parsed.success) return { ok: true, user: parsed.data };
  const issue = parsed.error.issues[0];
  const id = (raw as { id?: unknown } | null)?.id;
  return {
    ok: false,
    bad: {
      id: typeof id === "string" && SAFE_ID.test(id) ? id : "(unknown)",
      issue: issue ? `${issue.path.join(".") || "user"}: ${issue.message}` : "invalid",
    },
  };
}

/** The page's users, validated; the last one's id and created_at, whatever its validity. */
export function toPage(items: unknown[]): UserPage {
  const users: ClerkUser[] = [];
  const invalid: InvalidUser[] = [];
  for (const raw of items) {
    const v = validateUser(raw);
    if (v.ok) users.push(v.user);
    else invalid.push(v.bad);
  }
  const first = listedUser.safeParse(items[0]);
  const last = listedUser.safeParse(items.at(-1));
  return {
    users,
    invalid,
    listed: items.length,
    lastId: last.success ? last.data.id : null,
    firstCreatedAt: first.success ? first.data.created_at : null,
    lastCreatedAt: last.success ? last.data.created_at : null,
  };
}

/** The error codes of a Clerk error body (empty when it is not one), and whether one names the cursor. */
function errorCodes(body: unknown): { codes: string[]; namesCursor: boolean } {
  const parsed = errorBody.safeParse(body);
  if (!parsed.success) return { codes: [], namesCursor: false };
  const namesCursor = parsed.data.errors.some(
    (e) =>
      e.meta?.param_name === "starting_after" ||
      `${e.message ?? ""} ${e.long_message ?? ""}`.includes("starting_after"),
  );
  return { codes: parsed.data.errors.map((e) => e.code), namesCursor };
}

export function clerkSource(opts: ClerkSourceOptions): ClerkSource {
  const apiUrl = (opts.apiUrl ?? DEFAULT_API_URL).replace(/\/+$/, "");
  const retry = opts.retry ?? DEFAULT_RETRY;
  const limiter: Limiter = createLimiter(
    opts.rateLimit === undefined ? runLimit("production") : opts.rateLimit,
  );
  const timeoutMs = opts.timeoutMs ?? 60_000;

  /** One request, no retry: the JSON body of a 2xx or of a 400/422 (the caller reads its error
   *  codes); any other answer throws a ClerkApiError that retry.ts classifies. */
  async function get(
    path: string,
    query: URLSearchParams,
  ): Promise<{ ok: true; body: unknown } | { ok: false; status: number; body: unknown }> {
    await limiter.acquire();
    let res: Response;
    let body: unknown;
    try {
      res = await fetch(`${apiUrl}/v1${path}?${query}`, {
        headers: {
          authorization: `Bearer ${opts.secretKey}`,
          "clerk-api-version": CLERK_API_VERSION,
          accept: "application/json",
          "user-agent": "clerk-neon-sync-backfill",
        },
        signal: AbortSignal.timeout(timeoutMs),
      });
      body = await res.json().catch(() => undefined);
    } catch {
      throw new ClerkApiError({ kind: "unavailable", status: null, retryAfterSeconds: null });
    }
    if (res.ok) return { ok: true, body };
    if (res.status === 400 || res.status === 422) return { ok: false, status: res.status, body };
    const failure = failedLookup(
      res.status,
      res.headers,
      errorCodes(body).codes.join(",") || "error",
    );
    if (failure.kind === "unavailable" && failure.status === 429)
      limiter.pause(1000 * (failure.retryAfterSeconds ?? 1));
    throw new ClerkApiError(failure);
  }

  const filters = (createdAfter: number | undefined) => {
    const q = new URLSearchParams();
    if (createdAfter !== undefined) q.set("created_at_after", String(createdAfter));
    return q;
  };

  return {
    async listUsers({ limit, createdAfter, startingAfter, offset }) {
      const q = filters(createdAfter);
      q.set("limit", String(limit));
      q.set("order_by", "+created_at");
      if (startingAfter !== undefined) q.set("starting_after", startingAfter);
      else q.set("offset", String(offset ?? 0));
      const what =
        startingAfter === undefined
          ? `GET /v1/users?offset=${offset ?? 0}`
          : `GET /v1/users?starting_after=${SAFE_ID.test(startingAfter) ? startingAfter : "…"}`;
      const res = await withRetry(
        what,
        async () => {
          const r = await get("/users", q);
          if (r.ok) return r;
          const { codes, namesCursor } = errorCodes(r.body);
          const issue = codes.join(",") || "error";
          if (startingAfter !== undefined && namesCursor)
            return { ok: false as const, refused: `HTTP ${r.status} ${issue}` };
          throw new ClerkApiError({ kind: "refused", status: r.status, issue });
        },
        retry,
      );
      if (!res.ok) throw new CursorRefused(res.refused);
      const items = listBody.safeParse(res.body);
      if (!items.success)
        throw new RetriesExhausted(what, "the answer is not a list of users", 1, false);
      // An API that ignores the parameter answers from the start of the list: the cursor's own
      // user may be on it (pages.ts also checks the order against the previous page).
      if (
        startingAfter !== undefined &&
        items.data.some((u) => (u as { id?: unknown } | null)?.id === startingAfter)
      )
        throw new CursorRefused("ignored: the page lists the cursor's own user");
      return toPage(items.data);
    },
    async countUsers({ createdAfter }) {
      const what = "GET /v1/users/count";
      const res = await withRetry(
        what,
        async () => {
          const r = await get("/users/count", filters(createdAfter));
          if (r.ok) return r.body;
          const issue = errorCodes(r.body).codes.join(",") || "error";
          throw new ClerkApiError({ kind: "refused", status: r.status, issue });
        },
        retry,
      );
      const parsed = countBody.safeParse(res);
      if (!parsed.success) throw new RetriesExhausted(what, "the answer is not a count", 1, false);
      return parsed.data.total_count;
    },
    async getUser(id) {
      const config = { secretKey: opts.secretKey, apiUrl };
      return withRetry(
        `GET /v1/users/${SAFE_ID.test(id) ? id : ":id"}`,
        async () => {
          await limiter.acquire();
          const lookup = await fetchClerkUser(id, config);
          if (lookup.kind === "found") return lookup.user;
          if (lookup.kind === "not_found") return null;
          if (lookup.kind === "unavailable" && lookup.status === 429)
            limiter.pause(1000 * (lookup.retryAfterSeconds ?? 1));
          throw new ClerkApiError(lookup);
        },
        retry,
      );
    },
  };
}
