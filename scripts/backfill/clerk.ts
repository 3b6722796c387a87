// Reading users from Clerk's Backend API with @clerk/backend's own client.
//
// How @clerk/backend (v3) maps our calls (read in node_modules/@clerk/backend/dist):
// - createClerkClient({ secretKey, apiUrl }) builds every URL as `${apiUrl}/v1/<path>` (apiUrl
//   defaults to https://api.clerk.com) and sends `Authorization: Bearer <secretKey>`; so
//   CLERK_API_URL=http://127.0.0.1:3002 points it at the local stand-in.
// - users.getUserList({ limit, offset, orderBy, createdAtAfter }) snake-cases the keys into the
//   query string of GET /v1/users (order_by=%2Bcreated_at, created_at_after=<epoch ms>) and, in
//   parallel, GET /v1/users/count with the same filters: it resolves to { data: User[],
//   totalCount }. Two requests per page against the rate limit; the count feeds the progress bar.
// - Single users (GET /v1/users/:id) are read with lib/clerk/backend-api.ts instead, the Web-fetch
//   client GET /api/me uses, so both paths fetch and validate a user the same way.
// - Non-2xx answers throw ClerkAPIResponseError { status, errors[], retryAfter (seconds, from the
//   Retry-After header) }; a fetch failure throws the same class with no status.
// - User objects are camelCase, but each keeps the JSON it was built from in `.raw`: we validate
//   that snake_case JSON with the webhook's zod schema (clerkUserSchema), so the backfill applies
//   exactly what a webhook carrying the same user would. toSnakeUser() maps the camelCase object
//   back for the day `.raw` is not there.
import { createClerkClient, type User } from "@clerk/backend";
import { ClerkApiError, fetchClerkUser } from "../../lib/clerk/backend-api.js";
import { type ClerkUser, clerkUserSchema } from "../../lib/clerk/schemas.js";
import { DEFAULT_RETRY, type RetryPolicy, withRetry } from "./retry.js";

export interface InvalidUser {
  /** Clerk id when it looks like one; the zod issue path and message (never a value). */
  id: string;
  issue: string;
}

export interface UserPage {
  /** Users as listed, validated; `invalid` are those the webhook's schema refuses too. */
  users: ClerkUser[];
  invalid: InvalidUser[];
  /** How many Clerk returned (valid + invalid): the offset advances by this. */
  listed: number;
  /** Clerk's total for the same filters, at the time of this page. */
  totalCount: number;
}

export interface ClerkSource {
  listUsers(p: { limit: number; offset: number; createdAfter?: number }): Promise<UserPage>;
  /** null when Clerk answers 404. */
  getUser(id: string): Promise<ClerkUser | null>;
}

export interface ClerkSourceOptions {
  secretKey: string;
  apiUrl?: string;
  retry?: RetryPolicy;
}

/** The camelCase User of @clerk/backend -> the snake_case JSON the schema reads. */
export function toSnakeUser(u: User): Record<string, unknown> {
  return {
    id: u.id,
    email_addresses: u.emailAddresses.map((e) => ({
      id: e.id,
      email_address: e.emailAddress,
      verification: e.verification ? { status: e.verification.status } : null,
    })),
    primary_email_address_id: u.primaryEmailAddressId,
    first_name: u.firstName,
    last_name: u.lastName,
    username: u.username,
    image_url: u.imageUrl,
    public_metadata: u.publicMetadata,
    created_at: u.createdAt,
    updated_at: u.updatedAt,
  };
}

const SAFE_ID = /^[A-Za-z0-9_-]{1,100}$/;

export function validateUser(
  u: User,
): { ok: true; user: ClerkUser } | { ok: false; bad: InvalidUser } {
  const parsed = clerkUserSchema.safeParse(u.raw ?? toSnakeUser(u));
  if (parsed.success) return { ok: true, user: parsed.data };
  const issue = parsed.error.issues[0];
  return {
    ok: false,
    bad: {
      id: typeof u.id === "string" && SAFE_ID.test(u.id) ? u.id : "(unknown)",
      issue: issue ? `${issue.path.join(".") || "user"}: ${issue.message}` : "invalid",
    },
  };
}

export function clerkSource(opts: ClerkSourceOptions): ClerkSource {
  const client = createClerkClient({
    secretKey: opts.secretKey,
    ...(opts.apiUrl ? { apiUrl: opts.apiUrl } : {}),
    // No telemetry from an operator's script (and none possible offline).
    telemetry: { disabled: true },
  });
  const retry = opts.retry ?? DEFAULT_RETRY;
  return {
    async listUsers({ limit, offset, createdAfter }) {
      const res = await withRetry(
        `GET /v1/users?offset=${offset}`,
        () =>
          client.users.getUserList({
            limit,
            offset,
            orderBy: "+created_at",
            ...(createdAfter === undefined ? {} : { createdAtAfter: createdAfter }),
          }),
        retry,
      );
      const users: ClerkUser[] = [];
      const invalid: InvalidUser[] = [];
      for (const u of res.data) {
        const v = validateUser(u);
        if (v.ok) users.push(v.user);
        else invalid.push(v.bad);
      }
      return { users, invalid, listed: res.data.length, totalCount: res.totalCount };
    },
    async getUser(id) {
      const config = { secretKey: opts.secretKey, apiUrl: apiUrl(opts.apiUrl) };
      return withRetry(
        `GET /v1/users/${SAFE_ID.test(id) ? id : ":id"}`,
        async () => {
          const lookup = await fetchClerkUser(id, config);
          if (lookup.kind === "found") return lookup.user;
          if (lookup.kind === "not_found") return null;
          throw new ClerkApiError(lookup);
        },
        retry,
      );
    },
  };
}

/** @clerk/backend's default when no apiUrl is given. */
function apiUrl(configured: string | undefined): string {
  return (configured ?? "https://api.clerk.com").replace(/\/+$/, "");
}
