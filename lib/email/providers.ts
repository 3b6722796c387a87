// Email providers behind one small interface: Resend's HTTP API over fetch (no SDK: the function
// bundle stays small and Web-standard), and `log`, which hands the email to a sink for a developer
// to read and sends nothing.
//
// A provider never throws for a failed send: it answers a SendResult whose `error` is a short code
// made of the HTTP status and Resend's error `name` (e.g. `http_422_validation_error`). Resend's
// `message` is never kept: it may echo an address.

export interface OutgoingEmail {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
}

export type SendResult =
  | { ok: true; id: string }
  | {
      ok: false;
      /** true: retrying cannot help (the row goes dead now); false: retry after a backoff. */
      permanent: boolean;
      /** Safe to store and log: no personal data. */
      error: string;
      /** The provider's Retry-After, when it sent one (429). */
      retryAfterSeconds?: number;
      /**
       * 429: the account is over a rate or a quota, not this email at fault. The sender stops for
       * now and counts no attempt against the email (a quota that runs out delays, never kills).
       */
      throttled?: boolean;
    };

export interface EmailProvider {
  readonly name: "resend" | "log";
  /** `idempotencyKey` is stable per outbox row: the same key is sent on every attempt. */
  send(email: OutgoingEmail, idempotencyKey: string): Promise<SendResult>;
}

// ------------------------------------------------------------------------------------- Resend

export interface ResendOptions {
  apiKey: string;
  /** Default https://api.resend.com; tests and the local stand-in point it at loopback. */
  apiUrl?: string;
  /** Per request; an answer that does not come in time is a retryable `timeout`. */
  timeoutMs?: number;
}

const SAFE_NAME = /^[a-z0-9_]{1,64}$/;

async function errorName(res: Response): Promise<string | undefined> {
  try {
    const body = (await res.json()) as { name?: unknown } | null;
    const name = typeof body?.name === "string" ? body.name.toLowerCase() : undefined;
    return name && SAFE_NAME.test(name) ? name : undefined;
  } catch {
    return undefined;
  }
}

function retryAfter(res: Response): number | undefined {
  const v = res.headers.get("retry-after");
  if (v === null) return undefined;
  const seconds = Number(v);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds, 86_400);
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.min((date - Date.now()) / 1000, 86_400));
}

/**
 * Which failures are retried (Resend's documented errors, https://resend.com/docs/api-reference/errors):
 * - 5xx (`application_error`, `internal_server_error`), network errors, timeouts: retried.
 * - 429 (`rate_limit_exceeded`, `daily_quota_exceeded`, `monthly_quota_exceeded`): `throttled`,
 *   retried, not before Retry-After, without counting an attempt.
 * - 409 `concurrent_idempotent_requests` (the same key is still in flight elsewhere): retried.
 * - 401/403 (`missing_api_key`, `invalid_api_key`, unverified domain): the account's configuration,
 *   not this email's fault: retried with backoff, so fixing the key lets the queue drain.
 * - any other 4xx (400/422 `validation_error`, `invalid_idempotency_key`, 409
 *   `invalid_idempotent_request`, ...): this request can never succeed as sent: permanent.
 */
export function classifyStatus(status: number, name: string | undefined): { permanent: boolean } {
  if (status >= 500 || status === 429 || status === 401 || status === 403) {
    return { permanent: false };
  }
  if (status === 409 && name === "concurrent_idempotent_requests") return { permanent: false };
  return { permanent: status >= 400 };
}

export function createResendProvider(opts: ResendOptions): EmailProvider {
  const endpoint = `${(opts.apiUrl ?? "https://api.resend.com").replace(/\/+$/, "")}/emails`;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return {
    name: "resend",
    async send(email, idempotencyKey) {
      let res: Response;
      try {
        res = await fetch(endpoint, {
          method: "POST",
          headers: {
            authorization: `Bearer ${opts.apiKey}`,
            "content-type": "application/json",
            "idempotency-key": idempotencyKey,
            "user-agent": "clerk-neon-sync",
          },
          body: JSON.stringify({
            from: email.from,
            to: [email.to],
            subject: email.subject,
            html: email.html,
            text: email.text,
          }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        const name = (err as { name?: unknown } | null)?.name;
        const timedOut = name === "TimeoutError" || name === "AbortError";
        return { ok: false, permanent: false, error: timedOut ? "timeout" : "network_error" };
      }
      if (res.ok) {
        let id: unknown;
        try {
          id = ((await res.json()) as { id?: unknown } | null)?.id;
        } catch {
          id = undefined;
        }
        // Retrying is safe (same idempotency key): Resend answers the original id.
        if (typeof id !== "string" || id === "" || id.length > 200) {
          return { ok: false, permanent: false, error: `http_${res.status}_invalid_response` };
        }
        return { ok: true, id };
      }
      const name = await errorName(res);
      const { permanent } = classifyStatus(res.status, name);
      const result: SendResult = {
        ok: false,
        permanent,
        error: `http_${res.status}${name ? `_${name}` : ""}`,
      };
      const after = retryAfter(res);
      if (after !== undefined) result.retryAfterSeconds = after;
      if (res.status === 429) result.throttled = true;
      return result;
    },
  };
}

// ---------------------------------------------------------------------------------------- log

/** Receives what the log provider "sends". Nothing personal must reach the platform's logs. */
export type EmailSink = (email: OutgoingEmail, idempotencyKey: string) => void;

// The dev server's terminal, when it runs: kept on globalThis (like Vercel's request context) so
// every copy of this module a loader may create sees the one sink. Nothing deployed sets it.
const LOCAL_SINK = Symbol.for("clerk-neon-sync/local-email-sink");
type SinkHolder = { [LOCAL_SINK]?: EmailSink | undefined };

/** Local development only: where log-provider emails go when no sink is passed. */
export function setLocalEmailSink(sink: EmailSink | undefined): void {
  (globalThis as SinkHolder)[LOCAL_SINK] = sink;
}

/**
 * Sends nothing. With a sink (the dev server installs one writing to the terminal) the developer
 * sees the email; without one the email is dropped, so a preview deployment running with `log`
 * never writes an address or a name into its logs.
 */
export function createLogProvider(sink?: EmailSink): EmailProvider {
  return {
    name: "log",
    async send(email, idempotencyKey) {
      (sink ?? (globalThis as SinkHolder)[LOCAL_SINK])?.(email, idempotencyKey);
      return { ok: true, id: `log_${idempotencyKey}` };
    },
  };
}

/** Resend answers in well under a second; a send that hangs is cut here and retried later. */
export const SEND_TIMEOUT_MS = 8_000;

/** The provider the configuration names (lib/env.ts getEmailEnv): one place for the cron and the inline send. */
export function providerFor(
  env: { provider: "resend"; apiKey: string; apiUrl: string } | { provider: "log" },
  logSink?: EmailSink,
): EmailProvider {
  return env.provider === "resend"
    ? createResendProvider({ apiKey: env.apiKey, apiUrl: env.apiUrl, timeoutMs: SEND_TIMEOUT_MS })
    : createLogProvider(logSink);
}

/** One line per email for a developer's terminal: the key and subject, no address or body. */
export function formatEmailLine(email: OutgoingEmail, idempotencyKey: string): string {
  return `[email:log] ${idempotencyKey} "${email.subject}" (DEV_EMAIL_BODY=1 prints it whole)\n`;
}

/** The whole email for a developer's terminal (the dev server with DEV_EMAIL_BODY=1). */
export function formatEmailForTerminal(email: OutgoingEmail, idempotencyKey: string): string {
  const rule = "─".repeat(72);
  return [
    rule,
    `[email:log] ${idempotencyKey}`,
    `From:    ${email.from}`,
    `To:      ${email.to}`,
    `Subject: ${email.subject}`,
    "",
    email.text.trimEnd(),
    rule,
    "",
  ].join("\n");
}
