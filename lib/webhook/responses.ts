import type { Outcome } from "../sync/apply.js";

export const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };

export function json(status: number, body: unknown, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, ...headers } });
}

export function outcomeResponse(outcome: Outcome): Response {
  return json(200, { ok: true, outcome });
}

/** Every refusal: a stable machine-readable code and a human sentence, nothing from the request. */
export function errorResponse(
  status: number,
  error: string,
  message: string,
  headers?: Record<string, string>,
): Response {
  return json(status, { ok: false, error, message }, headers);
}

/** The one wording of a schema mismatch, for every endpoint (lib/db-error.ts isSchemaMismatch). */
export const SCHEMA_MISMATCH_MESSAGE =
  "The database's schema does not match what this service needs; GET /api/health names what is " +
  "missing. Nothing was written.";

export const ERRORS = {
  method_not_allowed: [405, "Only POST is accepted."],
  payload_too_large: [413, "The body is larger than 1 MiB."],
  body_not_utf8: [400, "The body is not valid UTF-8."],
  missing_svix_headers: [400, "svix-id, svix-timestamp and svix-signature headers are required."],
  invalid_signature: [400, "The signature does not match any configured signing secret."],
  timestamp_out_of_tolerance: [400, "svix-timestamp is more than 5 minutes from now."],
  invalid_json: [400, "The body is not JSON."],
  invalid_event: [400, "The body is not a valid Clerk event."],
  misconfigured: [500, "The service is misconfigured."],
  database_unavailable: [503, "The database is unavailable; retry later."],
  schema_mismatch: [500, SCHEMA_MISMATCH_MESSAGE],
} as const satisfies Record<string, readonly [number, string]>;

export type ErrorCode = keyof typeof ERRORS;

export function refusal(code: ErrorCode, detail?: string): Response {
  const [status, message] = ERRORS[code];
  const headers: Record<string, string> | undefined =
    code === "method_not_allowed" ? { allow: "POST" } : undefined;
  return errorResponse(status, code, detail ? `${message} ${detail}` : message, headers);
}
