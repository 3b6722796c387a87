// A local stand-in for Clerk's Backend API (the part the backfill and resync use), serving users
// built by the same builders as the webhook fixtures (tests/fixtures/clerk.ts), so the backfill
// reads exactly the objects the webhook receives. For tests and local development only: nothing
// under api/ or lib/ imports it.
//
//   GET /v1/users          limit 1..500 (default 10), offset >= 0, order_by ([+|-]created_at
//                          (default -created_at), updated_at, email_address, first_name,
//                          last_name, username, last_sign_in_at, last_active_at), created_at_after,
//                          created_at_before (epoch ms), user_id[], email_address[], and the
//                          cursor starting_after=<user id> (created_at orders only, never with a
//                          non-zero offset: 422 otherwise, as bapi/2026-05-12.yml documents)
//                          -> a JSON array of User objects, as Clerk answers
//   GET /v1/users/count    same filters -> {"object":"total_count","total_count":N}
//   GET /v1/users/:id      -> the User, or 404 resource_not_found
//
// `Authorization: Bearer <secret key>` is required (401 otherwise). A fixed-window rate limit
// answers 429 with `Retry-After` (seconds) and Clerk's error body, as Clerk does over 1,000
// requests per 10 s (production) or 100 (development). Faults: the next N requests answer a 5xx,
// every list request after the first K answers a 5xx (a persistent outage mid-run), or the next N
// connections are reset (a network error). Each user is kept as its serialized JSON, so a page of
// 500 is one string join and 100,000 users cost ~200 MB and no per-request serialization.
//
// As Clerk's, an offset page costs more the deeper it is (`offsetCost`: it walks and discards the
// rows before it), a cursor page the same anywhere. The spec does not say what `starting_after`
// does with the id of a user deleted since: this stand-in lists what follows the place that user
// had (it keeps the created_at of removed users), and answers 422 naming the parameter for an id
// it never had. `cursor: "refused" | "ignored"` plays an API that does not know the parameter.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { buildUser, type ClerkUserJson, type Json } from "../../tests/fixtures/clerk.js";
import { rng } from "../../tests/fixtures/random.js";
import { listen } from "./listen.js";

export const LOCAL_CLERK_SECRET_KEY = "sk_test_local_clerk_api_stand_in_0000000000";

export interface RateLimit {
  /** Requests allowed per window (all routes together, as Clerk counts per instance). */
  requests: number;
  windowMs: number;
}

export interface ClerkApiFaults {
  /** Status of injected failures (default 503). */
  status?: number;
  /** Answer the next N requests with `status`. */
  failNext?: number;
  /** Once this many GET /v1/users requests have been answered, answer every later one with `status`. */
  failAfterListRequests?: number;
  /** Reset the connection of the next N requests without answering (a network error). */
  resetNext?: number;
}

export interface ClerkApiStats {
  requests: number;
  listRequests: number;
  countRequests: number;
  getRequests: number;
  /** Answered 200 to GET /v1/users. */
  listServed: number;
  /** GET /v1/users answered 200 with starting_after / with a non-zero offset. */
  cursorPages: number;
  offsetPages: number;
  /** The Clerk-API-Version header of the latest GET /v1/users (null: none sent). */
  lastApiVersion: string | null;
  rateLimited: number;
  faulted: number;
  unauthorized: number;
}

export interface ClerkApiOptions {
  secretKey?: string;
  users?: Iterable<ClerkUserJson>;
  rateLimit?: RateLimit | null;
  port?: number;
  host?: string;
  /** Expose /__control (GET stats; POST {faults, rateLimit, resetStats}) for out-of-process use. */
  control?: boolean;
  /** How starting_after is met: as documented (default), refused with a 422, or ignored. */
  cursor?: "supported" | "refused" | "ignored";
  /** Latency of every GET /v1/users answer, in ms (a slow page, for the Ctrl-C tests). */
  listLatencyMs?: number;
  /** Added latency of an offset page: `msPer1000` for each 1,000 users it skips. */
  offsetCost?: { msPer1000: number } | null;
  /** Called before each GET /v1/users is answered (tests change the users mid-run with it). */
  onList?: (q: URLSearchParams) => void;
  /** Users made on demand instead of stored (the million-user bench): listed by +created_at. */
  generated?: GeneratedUsers;
}

interface Listing {
  length: number;
  /** The JSON of the users at [from, to) of the listing. */
  slice(from: number, to: number): string[];
  /** Index of the first user after the cursor's (a starting_after page). */
  after(cursor: string, offset: number): number;
}

/** Users that exist only as a function of their index: a million of them cost no memory. */
export interface GeneratedUsers {
  count: number;
  /** User i, oldest first: created_at strictly increases with i. */
  user(i: number): ClerkUserJson;
  createdAt(i: number): number;
  /** The index of an id of this set, else undefined. */
  indexOf(id: string): number | undefined;
}

/** GET /v1/users over generated users: +created_at, created_at_after, offset or starting_after. */
function generatedListing(g: GeneratedUsers, q: URLSearchParams, forCount: boolean): Listing {
  // A count does not depend on the order.
  const order = q.get("order_by") ?? (forCount ? "+created_at" : "-created_at");
  const unsupported = [...q.keys()].find(
    (k) => !["limit", "offset", "order_by", "starting_after", "created_at_after"].includes(k),
  );
  if (!["+created_at", "created_at"].includes(order) || unsupported)
    throw new ApiError(
      422,
      "form_param_value_invalid",
      "generated users are listed by +created_at, with created_at_after only",
      { param_name: unsupported ?? "order_by" },
    );
  const after = msParam(q, "created_at_after");
  // The first index listed: created_at increases with the index, so a binary search finds it.
  let first = 0;
  if (after !== undefined) {
    let hi = g.count;
    while (first < hi) {
      const mid = (first + hi) >>> 1;
      if (g.createdAt(mid) <= after) first = mid + 1;
      else hi = mid;
    }
  }
  return {
    length: g.count - first,
    slice: (from, to) => {
      const out: string[] = [];
      for (let i = first + from; i < Math.min(first + to, g.count); i++)
        out.push(JSON.stringify(g.user(i)));
      return out;
    },
    after: (cursor, offset) => {
      const i = g.indexOf(cursor);
      if (offset !== 0 || i === undefined)
        throw new ApiError(422, "form_param_value_invalid", "starting_after is not usable here", {
          param_name: "starting_after",
        });
      return Math.max(0, i + 1 - first);
    },
  };
}

export interface ClerkApi {
  /** The API URL to give the client (CLERK_API_URL / createClerkClient({ apiUrl })). */
  url: string;
  secretKey: string;
  stats: ClerkApiStats;
  /** Mutable: set or clear faults at any time. */
  faults: ClerkApiFaults;
  setRateLimit(limit: RateLimit | null): void;
  /** Inserts or replaces users (by id). */
  putUsers(users: Iterable<ClerkUserJson>): void;
  removeUser(id: string): boolean;
  getUser(id: string): ClerkUserJson | undefined;
  readonly size: number;
  resetStats(): void;
  close(): Promise<void>;
}

interface Entry {
  id: string;
  json: string;
  createdAt: number;
  updatedAt: number;
  emails: string[];
  primaryEmail: string;
  firstName: string;
  lastName: string;
  username: string;
  lastSignInAt: number;
  lastActiveAt: number;
}

const SORT_KEYS = {
  created_at: (e: Entry) => e.createdAt,
  updated_at: (e: Entry) => e.updatedAt,
  email_address: (e: Entry) => e.primaryEmail,
  first_name: (e: Entry) => e.firstName,
  last_name: (e: Entry) => e.lastName,
  username: (e: Entry) => e.username,
  last_sign_in_at: (e: Entry) => e.lastSignInAt,
  last_active_at: (e: Entry) => e.lastActiveAt,
} as const;
type SortKey = keyof typeof SORT_KEYS;

function str(v: Json | undefined): string {
  return typeof v === "string" ? v : "";
}
function num(v: Json | undefined): number {
  return typeof v === "number" ? v : 0;
}

function toEntry(user: ClerkUserJson): Entry {
  const emails: string[] = [];
  let primaryEmail = "";
  const list = Array.isArray(user.email_addresses) ? user.email_addresses : [];
  for (const e of list) {
    if (typeof e !== "object" || e === null || Array.isArray(e)) continue;
    const address = str(e.email_address).toLowerCase();
    emails.push(address);
    if (e.id === user.primary_email_address_id) primaryEmail = address;
  }
  return {
    id: user.id,
    json: JSON.stringify(user),
    createdAt: user.created_at,
    updatedAt: user.updated_at,
    emails,
    primaryEmail,
    firstName: str(user.first_name),
    lastName: str(user.last_name),
    username: str(user.username),
    lastSignInAt: num(user.last_sign_in_at),
    lastActiveAt: num(user.last_active_at),
  };
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly meta?: Record<string, Json>,
  ) {
    super(message);
  }
}

function errorBody(code: string, message: string, meta?: Record<string, Json>): string {
  return JSON.stringify({
    errors: [{ message, long_message: message, code, ...(meta ? { meta } : {}) }],
    clerk_trace_id: `local_${Math.random().toString(36).slice(2, 12)}`,
  });
}

function send(res: ServerResponse, status: number, body: string, headers = {}): void {
  // Exactly "application/json": @clerk/backend only parses JSON on that exact content-type.
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(body);
}

function intParam(q: URLSearchParams, name: string, min: number, max: number, dflt: number) {
  const raw = q.get(name);
  if (raw === null || raw === "") return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ApiError(
      422,
      "form_param_value_invalid",
      `${name} must be between ${min} and ${max}`,
      {
        param_name: name,
      },
    );
  }
  return n;
}

function msParam(q: URLSearchParams, name: string): number | undefined {
  const raw = q.get(name);
  if (raw === null || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n)) {
    throw new ApiError(422, "form_param_format_invalid", `${name} must be epoch milliseconds`, {
      param_name: name,
    });
  }
  return n;
}

function parseOrder(raw: string | null): { key: SortKey; desc: boolean } {
  const value = raw ?? "-created_at";
  const desc = value.startsWith("-");
  const key = value.replace(/^[+-]/, "");
  if (!(key in SORT_KEYS)) {
    throw new ApiError(422, "form_param_value_invalid", `order_by ${value} is not supported`, {
      param_name: "order_by",
    });
  }
  return { key: key as SortKey, desc };
}

const ZERO_STATS: ClerkApiStats = {
  requests: 0,
  listRequests: 0,
  countRequests: 0,
  getRequests: 0,
  listServed: 0,
  rateLimited: 0,
  faulted: 0,
  unauthorized: 0,
  cursorPages: 0,
  offsetPages: 0,
  lastApiVersion: null,
};

export async function startClerkApi(opts: ClerkApiOptions = {}): Promise<ClerkApi> {
  const secretKey = opts.secretKey ?? LOCAL_CLERK_SECRET_KEY;
  const entries = new Map<string, Entry>();
  let version = 0;
  const views = new Map<string, { version: number; list: Entry[] }>();
  let rateLimit = opts.rateLimit ?? null;
  let windowStart = 0;
  let windowCount = 0;
  const faults: ClerkApiFaults = {};
  const stats: ClerkApiStats = { ...ZERO_STATS };
  // created_at of removed users: a cursor naming one still has a place in the order.
  const removed = new Map<string, number>();

  function putUsers(users: Iterable<ClerkUserJson>): void {
    for (const u of users) entries.set(u.id, toEntry(u));
    version++;
  }
  if (opts.users) putUsers(opts.users);

  /** The filtered, sorted listing, cached until the users change (pages reuse it). */
  function view(q: URLSearchParams): Entry[] {
    return sortedView(q).list;
  }

  function sortedView(q: URLSearchParams): {
    list: Entry[];
    cmp: (a: { createdAt: number; id: string }, b: { createdAt: number; id: string }) => number;
  } {
    const { key, desc } = parseOrder(q.get("order_by"));
    const after = msParam(q, "created_at_after");
    const before = msParam(q, "created_at_before");
    const ids = q.getAll("user_id");
    const emails = q.getAll("email_address").map((e) => e.toLowerCase());
    const cacheKey = JSON.stringify([key, desc, after, before, ids, emails]);
    const dir = desc ? -1 : 1;
    // Only the created_at orders take a cursor: this comparator is theirs (ties by id).
    const cmp = (a: { createdAt: number; id: string }, b: { createdAt: number; id: string }) =>
      a.createdAt !== b.createdAt
        ? a.createdAt < b.createdAt
          ? -dir
          : dir
        : a.id < b.id
          ? -1
          : a.id > b.id
            ? 1
            : 0;
    const cached = views.get(cacheKey);
    if (cached?.version === version) return { list: cached.list, cmp };
    const idSet = new Set(ids);
    const list = [...entries.values()].filter(
      (e) =>
        (after === undefined || e.createdAt > after) &&
        (before === undefined || e.createdAt < before) &&
        (idSet.size === 0 || idSet.has(e.id)) &&
        (emails.length === 0 || e.emails.some((a) => emails.includes(a))),
    );
    const get = SORT_KEYS[key];
    list.sort((a, b) => {
      const x = get(a);
      const y = get(b);
      if (x < y) return -dir;
      if (x > y) return dir;
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
    if (views.size > 32) views.clear();
    views.set(cacheKey, { version, list });
    return { list, cmp };
  }

  /** Index of the first entry after the cursor's user (present or removed) in the listing. */
  function afterCursor(q: URLSearchParams, cursor: string, offset: number): number {
    if (offset !== 0)
      throw new ApiError(
        422,
        "form_param_value_invalid",
        "starting_after cannot be combined with a non-zero offset",
        { param_name: "starting_after" },
      );
    const order = (q.get("order_by") ?? "-created_at").replace(/^[+-]/, "");
    if (order !== "created_at")
      throw new ApiError(
        422,
        "form_param_value_invalid",
        "starting_after requires ordering by created_at",
        { param_name: "starting_after" },
      );
    const { list, cmp } = sortedView(q);
    const createdAt = entries.get(cursor)?.createdAt ?? removed.get(cursor);
    if (createdAt === undefined)
      throw new ApiError(
        422,
        "form_param_value_invalid",
        "starting_after is not the id of a user of this instance",
        { param_name: "starting_after" },
      );
    const anchor = { createdAt, id: cursor };
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cmp(list[mid]!, anchor) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  function checkRateLimit(res: ServerResponse): boolean {
    if (!rateLimit) return true;
    const now = Date.now();
    if (now - windowStart >= rateLimit.windowMs) {
      windowStart = now;
      windowCount = 0;
    }
    if (windowCount < rateLimit.requests) {
      windowCount++;
      return true;
    }
    stats.rateLimited++;
    const retryAfter = Math.max(1, Math.ceil((windowStart + rateLimit.windowMs - now) / 1000));
    send(res, 429, errorBody("too_many_requests", "Too many requests, retry later"), {
      "retry-after": String(retryAfter),
    });
    return false;
  }

  /** The answer to GET /v1/users and how long Clerk would take to give it. */
  function listPage(req: IncomingMessage, q: URLSearchParams): { body: string; delayMs: number } {
    const version = req.headers["clerk-api-version"];
    stats.lastApiVersion = typeof version === "string" ? version : null;
    opts.onList?.(q);
    const limit = intParam(q, "limit", 1, 500, 10);
    const offset = intParam(q, "offset", 0, Number.MAX_SAFE_INTEGER, 0);
    const cursor = q.get("starting_after");
    if (cursor !== null && opts.cursor === "refused")
      throw new ApiError(
        422,
        "form_param_unknown",
        "starting_after is not a valid parameter for this request",
        { param_name: "starting_after" },
      );
    const list = listing(q);
    const start =
      cursor !== null && opts.cursor !== "ignored" ? list.after(cursor, offset) : offset;
    const page = list.slice(start, start + limit);
    stats.listServed++;
    if (cursor !== null) stats.cursorPages++;
    else if (offset > 0) stats.offsetPages++;
    const cost = cursor === null ? (opts.offsetCost?.msPer1000 ?? 0) * (offset / 1000) : 0;
    return {
      body: `[${page.join(",")}]`,
      delayMs: cost + (opts.listLatencyMs ?? 0),
    };
  }

  /** The users a GET /v1/users (or its count) lists, as serialized JSON. */
  function listing(q: URLSearchParams, forCount = false): Listing {
    if (opts.generated) return generatedListing(opts.generated, q, forCount);
    const list = view(q);
    return {
      length: list.length,
      slice: (from, to) => list.slice(from, to).map((e) => e.json),
      after: (cursor, offset) => afterCursor(q, cursor, offset),
    };
  }

  function generatedJson(id: string): string | undefined {
    const i = opts.generated?.indexOf(id);
    return i === undefined ? undefined : JSON.stringify(opts.generated!.user(i));
  }

  function route(req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (req.method !== "GET") throw new ApiError(405, "method_not_allowed", "GET only");
    const path = url.pathname.replace(/\/+$/, "");
    const q = url.searchParams;
    if (path === "/v1/users") {
      stats.listRequests++;
      const { body, delayMs } = listPage(req, q);
      if (delayMs > 0) setTimeout(() => send(res, 200, body), delayMs);
      else send(res, 200, body);
      return;
    }
    if (path === "/v1/users/count") {
      stats.countRequests++;
      send(
        res,
        200,
        JSON.stringify({ object: "total_count", total_count: listing(q, true).length }),
      );
      return;
    }
    const m = /^\/v1\/users\/([^/]+)$/.exec(path);
    if (m) {
      stats.getRequests++;
      const id = decodeURIComponent(m[1]!);
      const json = entries.get(id)?.json ?? generatedJson(id);
      if (json === undefined) throw new ApiError(404, "resource_not_found", "User not found");
      send(res, 200, json);
      return;
    }
    throw new ApiError(404, "resource_not_found", "Not found");
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (opts.control && url.pathname === "/__control") {
      handleControl(req, res);
      return;
    }
    stats.requests++;
    if (faults.resetNext && faults.resetNext > 0) {
      faults.resetNext--;
      stats.faulted++;
      req.socket.destroy();
      return;
    }
    const isList = url.pathname.replace(/\/+$/, "") === "/v1/users";
    const failing =
      (faults.failNext !== undefined && faults.failNext > 0) ||
      (isList &&
        faults.failAfterListRequests !== undefined &&
        stats.listServed >= faults.failAfterListRequests);
    if (failing) {
      if (faults.failNext) faults.failNext--;
      stats.faulted++;
      const status = faults.status ?? 503;
      send(res, status, errorBody("internal_clerk_error", `injected ${status}`));
      return;
    }
    if (!checkRateLimit(res)) return;
    if (req.headers.authorization !== `Bearer ${secretKey}`) {
      stats.unauthorized++;
      send(
        res,
        401,
        errorBody("authentication_invalid", "The provided Clerk Secret Key is invalid"),
      );
      return;
    }
    try {
      route(req, res, url);
    } catch (err) {
      if (err instanceof ApiError)
        send(res, err.status, errorBody(err.code, err.message, err.meta));
      else send(res, 500, errorBody("internal_clerk_error", String(err)));
    }
  }

  function handleControl(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method === "POST") {
        const patch = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as {
          faults?: ClerkApiFaults;
          rateLimit?: RateLimit | null;
          resetStats?: boolean;
        };
        if (patch.faults) {
          for (const k of Object.keys(faults) as (keyof ClerkApiFaults)[]) delete faults[k];
          Object.assign(faults, patch.faults);
        }
        if (patch.rateLimit !== undefined) rateLimit = patch.rateLimit;
        if (patch.resetStats) resetStats();
      }
      send(res, 200, JSON.stringify({ stats, faults, rateLimit, users: entries.size }));
    });
  }

  function resetStats(): void {
    Object.assign(stats, { ...ZERO_STATS });
  }

  const server: Server = createServer(handle);
  server.keepAliveTimeout = 60_000;
  const port = await listen(server, opts.port, opts.host);
  return {
    url: `http://${opts.host ?? "127.0.0.1"}:${port}`,
    secretKey,
    stats,
    faults,
    setRateLimit: (limit) => {
      rateLimit = limit;
      windowStart = 0;
      windowCount = 0;
    },
    putUsers,
    removeUser: (id) => {
      const entry = entries.get(id);
      if (!entry) return false;
      entries.delete(id);
      removed.set(id, entry.createdAt);
      version++;
      return true;
    },
    getUser: (id) => {
      const e = entries.get(id);
      return e ? (JSON.parse(e.json) as ClerkUserJson) : undefined;
    },
    get size() {
      return entries.size;
    },
    resetStats,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * `n` varied users, oldest first, one minute apart from `start`: mostly verified emails, some
 * unverified, some phone-only, some Google sign-ups, some with a turma in public_metadata.
 * Email i is `<prefix>+<i>@example.test`, so a test can pre-register some of them. With `idPrefix`
 * user i's id is `user_<idPrefix><i>` (stable across restarts, so docs can name one); otherwise
 * ids are random, as Clerk's are.
 */
export function generateUsers(n: number, opts: GenerateOptions = {}): ClerkUserJson[] {
  const users: ClerkUserJson[] = [];
  for (let i = 0; i < n; i++) users.push(buildUser(generatedSpec(i, opts)));
  return users;
}

interface GenerateOptions {
  start?: number;
  prefix?: string;
  stepMs?: number;
  idPrefix?: string;
}

/** The spec of generateUsers' user i. */
function generatedSpec(i: number, opts: GenerateOptions & { id?: string; seed?: number }) {
  const createdAt = (opts.start ?? Date.UTC(2024, 0, 1)) + i * (opts.stepMs ?? 60_000);
  const prefix = opts.prefix ?? "member";
  const kind = i % 20;
  const id = opts.id ?? (opts.idPrefix === undefined ? undefined : `user_${opts.idPrefix}${i}`);
  return {
    ...(id === undefined ? {} : { id }),
    ...(opts.seed === undefined ? {} : { seed: opts.seed }),
    email: kind === 19 ? null : `${prefix}+${i}@example.test`,
    verified: kind !== 18,
    phone: kind === 19 ? `+5511900${String(i).padStart(6, "0")}` : null,
    google: kind === 17,
    firstName: kind === 16 ? null : `Nome${i}`,
    lastName: kind === 16 ? null : `Sobrenome${i}`,
    username: kind === 16 ? `member${i}` : null,
    turma: i % 3 === 0 ? `turma_${i % 7}` : undefined,
    createdAt,
    updatedAt: createdAt + 1000 + (i % 50),
  };
}

const ID_DIGITS = 8;
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/**
 * generateUsers' n users, made on demand and the same every time (ids, nested ids, timestamps):
 * user i's id is a Clerk-shaped `user_` + 27 characters ending in i in base 36, so the stand-in
 * finds a cursor's place without storing anything.
 */
export function generatedUsers(n: number, opts: GenerateOptions = {}): GeneratedUsers {
  const idOf = (i: number) => {
    const random = rng(i + 1);
    let tag = "";
    for (let k = 0; k < 27 - ID_DIGITS; k++) tag += BASE62[Math.floor(random() * 62)];
    return `user_${tag}${i.toString(36).padStart(ID_DIGITS, "0")}`;
  };
  const start = opts.start ?? Date.UTC(2024, 0, 1);
  const step = opts.stepMs ?? 60_000;
  return {
    count: n,
    user: (i) => buildUser(generatedSpec(i, { ...opts, id: idOf(i), seed: i })),
    createdAt: (i) => start + i * step,
    indexOf: (id) => {
      const i = Number.parseInt(id.slice(-ID_DIGITS), 36);
      return Number.isInteger(i) && i >= 0 && i < n && idOf(i) === id ? i : undefined;
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      users: { type: "string", default: "1000" },
      port: { type: "string", default: "3002" },
      "rate-limit": { type: "string" },
    },
  });
  const limit = values["rate-limit"]?.match(/^(\d+)\/(\d+)s$/);
  const api = await startClerkApi({
    users: generateUsers(Number(values.users), { idPrefix: "dev" }),
    port: Number(values.port),
    rateLimit: limit ? { requests: Number(limit[1]), windowMs: Number(limit[2]) * 1000 } : null,
    control: true,
  });
  console.log(`local Clerk Backend API: ${api.size} users on ${api.url}`);
  console.log(`  CLERK_API_URL=${api.url} CLERK_SECRET_KEY=${api.secretKey} npm run backfill`);
  const stop = () => void api.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
