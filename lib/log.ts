// One structured JSON line per event. Only fields of this closed set are written, and the
// free-text ones are checked against a strict pattern first: a header from an unsigned request
// may carry anything, including an email address.
export interface LogFields {
  event: string;
  level?: "info" | "warn" | "error";
  svix_id?: string | undefined;
  type?: string | undefined;
  outcome?: string | undefined;
  status?: number | undefined;
  ms?: number | undefined;
  sql_round_trips?: number | undefined;
  error?: string | undefined;
  sqlstate?: string | undefined;
  constraint?: string | undefined;
  /** The table and column a schema error names (identifiers only, never a value). */
  table?: string | undefined;
  column?: string | undefined;
  /** /api/health and the build: what the sync needs and the database lacks (object names). */
  schema_problems?: string[] | undefined;
  variables?: string[] | undefined;
  /** GET /api/me: where the answer came from (`database` | `clerk`). */
  source?: "database" | "clerk" | undefined;
  /** HTTP requests made to Clerk's Backend API while handling the request (0 or 1). */
  clerk_requests?: number | undefined;
  /** The status Clerk's Backend API answered, when it was not a success. */
  clerk_status?: number | undefined;
  /** email_outbox.id: the only handle logged for an email (never its address, name or body). */
  outbox_id?: number | undefined;
  [counter: `n_${string}`]: number | undefined;
}

const SAFE_ID = /^[A-Za-z0-9_.:-]{1,100}$/;

/** A value from outside, kept only when it looks like an identifier (svix id, event type). */
export function safeId(value: string | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  return SAFE_ID.test(value) && !value.includes("@") ? value : "(redacted)";
}

export function log(fields: LogFields): void {
  const line = JSON.stringify({ level: "info", ...fields });
  if (fields.level === "error") console.error(line);
  else console.log(line);
}

/**
 * The one log line of a request: `finish(response, extra)` writes `fields`, then `extra`, the
 * answer's status and the milliseconds since the request started, and returns the response.
 */
export function requestLog(
  fields: LogFields,
): (response: Response, extra?: Partial<LogFields>) => Response {
  const started = performance.now();
  return (response, extra = {}) => {
    log({
      ...fields,
      ...extra,
      status: response.status,
      ms: Math.round((performance.now() - started) * 100) / 100,
    });
    return response;
  };
}
