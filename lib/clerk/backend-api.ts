// Clerk's Backend API, the one call the functions need: GET /v1/users/{id}, with Web fetch only
// (no SDK client on a function's cold path, no Node built-in). The backfill and resync read single
// users through this too, so a user fetched on demand and one fetched by a script are validated by
// the very schema the webhook uses (clerkUserSchema): they apply exactly what a webhook would.
import { type ClerkUser, clerkUserSchema } from "./schemas.js";

export interface ClerkApiConfig {
  secretKey: string;
  /** e.g. https://api.clerk.com (no trailing slash). */
  apiUrl: string;
  /** Per request; a slow Clerk answers 503 rather than holding the caller (default 5000 ms). */
  timeoutMs?: number;
}

/**
 * The Backend API version whose User object clerkUserSchema reads: what @clerk/backend 3 sends
 * (its SUPPORTED_BAPI_VERSION), and one whose GET /v1/users takes the `starting_after` cursor.
 */
export const CLERK_API_VERSION = "2026-05-12";
const DEFAULT_TIMEOUT_MS = 5000;

export type UserLookup =
  | { kind: "found"; user: ClerkUser }
  /** Clerk does not know the id: the user was deleted (or never existed). */
  | { kind: "not_found" }
  /** Worth retrying: 5xx, 429 (with Clerk's Retry-After, seconds) or no answer at all. */
  | { kind: "unavailable"; status: number | null; retryAfterSeconds: number | null }
  /** Clerk refused our credentials (401/403): a configuration error, never the caller's. */
  | { kind: "unauthorized"; status: number }
  /** Any other answer, or a user the schema refuses: retrying the same call cannot help. */
  | { kind: "refused"; status: number; issue: string };

function retryAfter(headers: Headers): number | null {
  const raw = headers.get("retry-after");
  if (raw === null) return null;
  const n = Number(raw);
  if (Number.isFinite(n) && n >= 0) return Math.ceil(n);
  const at = Date.parse(raw);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** GET /v1/users/{id}: exactly one HTTP request, no retry (the caller decides). */
export async function fetchClerkUser(id: string, config: ClerkApiConfig): Promise<UserLookup> {
  let res: Response;
  let body: unknown;
  try {
    res = await fetch(`${config.apiUrl}/v1/users/${encodeURIComponent(id)}`, {
      headers: {
        authorization: `Bearer ${config.secretKey}`,
        "clerk-api-version": CLERK_API_VERSION,
        accept: "application/json",
      },
      signal: AbortSignal.timeout(config.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    });
    body = res.ok ? await res.json() : await res.body?.cancel();
  } catch {
    // Network failure, timeout, or a 2xx whose body is not JSON (a proxy's error page).
    return { kind: "unavailable", status: null, retryAfterSeconds: null };
  }
  if (res.ok) {
    const parsed = clerkUserSchema.safeParse(body);
    if (parsed.success) return { kind: "found", user: parsed.data };
    const issue = parsed.error.issues[0];
    return {
      kind: "refused",
      status: res.status,
      issue: issue ? `${issue.path.join(".") || "user"}: ${issue.message}` : "invalid",
    };
  }
  if (res.status === 404) return { kind: "not_found" };
  return failedLookup(res.status, res.headers, `HTTP ${res.status}`);
}

/** A non-2xx answer of any Backend API call, classified as for a single user (404 aside). */
export function failedLookup(
  status: number,
  headers: Headers,
  issue: string,
): ClerkApiError["lookup"] {
  if (status === 429 || status >= 500) {
    return { kind: "unavailable", status, retryAfterSeconds: retryAfter(headers) };
  }
  if (status === 401 || status === 403) return { kind: "unauthorized", status };
  return { kind: "refused", status, issue };
}

/** A lookup that is not `found`/`not_found`, as an error (for callers that retry on errors). */
export class ClerkApiError extends Error {
  readonly lookup: Exclude<UserLookup, { kind: "found" } | { kind: "not_found" }>;
  constructor(lookup: ClerkApiError["lookup"]) {
    const what =
      lookup.kind === "unavailable"
        ? lookup.status === null
          ? "no answer"
          : `HTTP ${lookup.status}`
        : lookup.kind === "unauthorized"
          ? `HTTP ${lookup.status} (check CLERK_SECRET_KEY)`
          : `HTTP ${lookup.status}: ${lookup.issue}`;
    super(`Clerk Backend API: ${what}`);
    this.name = "ClerkApiError";
    this.lookup = lookup;
  }
}
