// A local stand-in of Resend's HTTP API (only what the dispatcher uses), for tests and local runs.
// Nothing under api/ or lib/ imports it: RESEND_API_URL points the real provider code at it.
//
// Built from Resend's documentation:
// - `POST /emails` with `Authorization: Bearer re_...` and a JSON body {from, to, subject, html,
//   text}; `to` is a string or an array of at most 50 addresses; 200 answers `{"id": "<uuid>"}`.
// - Idempotency keys (https://resend.com/docs/dashboard/emails/idempotency-keys): header
//   `Idempotency-Key`, 1-256 characters. When an email with the same key was already sent in the
//   last 24 hours, the same response is returned and nothing is sent again. Same key with a
//   different payload -> 409 `invalid_idempotent_request`; same key while the first request is
//   still in progress -> 409 `concurrent_idempotent_requests`. Only a successful send stores a key:
//   a failed request can be retried with the same key.
// - Errors (https://resend.com/docs/api-reference/errors) are JSON `{statusCode, message, name}`:
//   401 `missing_api_key`, 403 `invalid_api_key`, 400 `invalid_idempotency_key`, 422
//   `missing_required_field` / `validation_error`, 429 `rate_limit_exceeded` (with Retry-After),
//   500 `internal_server_error`.
//
// Test controls: `faults` (a queue, one fault consumed per POST /emails: any status, optionally
// after the email was "sent", as when the answer is lost), a fixed delay, a hook called after each
// real send (e.g. to make the database fail right then), and a clock for the 24-hour window.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { listen } from "./listen.js";

export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

export interface SentEmail {
  id: string;
  idempotencyKey: string | null;
  from: string;
  to: string[];
  subject: string;
  html: string | undefined;
  text: string | undefined;
  at: number;
}

export interface RecordedRequest {
  idempotencyKey: string | null;
  status: number;
  /** true when the answer was a stored one (idempotent replay): nothing was sent. */
  replayed: boolean;
}

export interface InjectedFault {
  status: number;
  /** Resend's error `name`; default from the status (500 internal_server_error, ...). */
  name?: string;
  message?: string;
  retryAfterSeconds?: number;
  /** Send (and store the key) first, then answer with this fault: the answer was "lost". */
  afterSend?: boolean;
}

export interface EmailApiOptions {
  port?: number;
  host?: string;
  /** Accepted API key; default: any key that looks like `re_...`. */
  apiKey?: string;
  /** Milliseconds each accepted send takes (the key is "in progress" meanwhile). */
  delayMs?: number;
  clock?: () => number;
}

export interface EmailApi {
  /** Base URL, to use as RESEND_API_URL. */
  url: string;
  server: Server;
  sent: SentEmail[];
  requests: RecordedRequest[];
  faults: InjectedFault[];
  delayMs: number;
  /** Called after an email is recorded as sent and before the answer goes out. */
  afterSend: ((email: SentEmail) => void | Promise<void>) | undefined;
  /**
   * A provider that hangs: every send from now on waits, once its key is taken, until `release()`
   * (so a test can look at the world while a request is still pending). `arrived` resolves when
   * the first held request is in.
   */
  hold(): { arrived: Promise<void>; release: () => void };
  /** POST /emails requests received and not yet answered. */
  readonly pending: number;
  /** Sends recorded per idempotency key (for "exactly once" assertions). */
  sendsByKey(): Map<string | null, number>;
  reset(): void;
  close(): Promise<void>;
}

const DEFAULT_NAMES: Record<number, string> = {
  400: "validation_error",
  401: "missing_api_key",
  403: "invalid_api_key",
  404: "not_found",
  409: "concurrent_idempotent_requests",
  422: "validation_error",
  429: "rate_limit_exceeded",
  500: "internal_server_error",
  502: "application_error",
  503: "application_error",
};

const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;
const FROM = /^(?:[^<>\r\n]*<[^\s<>@]+@[^\s<>@]+\.[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+\.[^\s<>@]+)$/;

interface Stored {
  fingerprint: string;
  at: number;
  /** undefined while the first request is still in progress. */
  body: string | undefined;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorName: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function answer(res: ServerResponse, status: number, body: string, headers = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

interface Payload {
  from: string;
  to: string[];
  subject: string;
  html: string | undefined;
  text: string | undefined;
}

function validate(raw: string): Payload {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new ApiError(400, "validation_error", "The request body is not valid JSON.");
  }
  if (typeof body !== "object" || body === null)
    throw new ApiError(400, "validation_error", "The request body must be an object.");
  const b = body as Record<string, unknown>;
  const missing = ["from", "to", "subject"].filter((k) => b[k] === undefined || b[k] === "");
  if (missing.length > 0)
    throw new ApiError(422, "missing_required_field", `Missing \`${missing.join("`, `")}\` field.`);
  if (typeof b.from !== "string" || !FROM.test(b.from))
    throw new ApiError(
      422,
      "validation_error",
      "Invalid `from` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.",
    );
  const to = Array.isArray(b.to) ? b.to : [b.to];
  if (to.length === 0 || to.length > 50)
    throw new ApiError(422, "validation_error", "The `to` field must have 1 to 50 addresses.");
  if (!to.every((t): t is string => typeof t === "string" && EMAIL.test(t)))
    throw new ApiError(
      422,
      "validation_error",
      "Invalid `to` field. The email address needs to follow the `email@example.com` format.",
    );
  if (typeof b.subject !== "string")
    throw new ApiError(422, "validation_error", "The `subject` field must be a string.");
  const html = typeof b.html === "string" ? b.html : undefined;
  const text = typeof b.text === "string" ? b.text : undefined;
  if (html === undefined && text === undefined)
    throw new ApiError(422, "validation_error", "One of `html`, `text` or `react` is required.");
  return { from: b.from, to, subject: b.subject, html, text };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startEmailApi(opts: EmailApiOptions = {}): Promise<EmailApi> {
  const clock = opts.clock ?? Date.now;
  const keys = new Map<string, Stored>();
  let gate: { held: Promise<void>; arrive: () => void; release: () => void } | undefined;
  let pending = 0;
  const api: EmailApi = {
    url: "",
    server: undefined as unknown as Server,
    sent: [],
    requests: [],
    faults: [],
    delayMs: opts.delayMs ?? 0,
    afterSend: undefined,
    hold() {
      let arrive: () => void = () => {};
      let release: () => void = () => {};
      const arrived = new Promise<void>((r) => {
        arrive = r;
      });
      const held = new Promise<void>((r) => {
        release = r;
      });
      const open = () => {
        if (gate?.held === held) gate = undefined;
        release();
      };
      gate = { held, arrive, release: open };
      return { arrived, release: open };
    },
    get pending() {
      return pending;
    },
    sendsByKey() {
      const m = new Map<string | null, number>();
      for (const s of api.sent) m.set(s.idempotencyKey, (m.get(s.idempotencyKey) ?? 0) + 1);
      return m;
    },
    reset() {
      api.sent.length = 0;
      api.requests.length = 0;
      api.faults.length = 0;
      api.delayMs = opts.delayMs ?? 0;
      api.afterSend = undefined;
      gate?.release();
      keys.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };

  async function sendEmails(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const idempotencyKey = (req.headers["idempotency-key"] as string | undefined) ?? null;
    const record = (status: number, replayed = false) =>
      api.requests.push({ idempotencyKey, status, replayed });
    let claimedKey = false;
    try {
      const raw = await readBody(req);

      const auth = req.headers.authorization ?? "";
      const token = /^Bearer\s+(\S+)$/i.exec(auth)?.[1];
      if (!token)
        throw new ApiError(401, "missing_api_key", "Missing API key in the authorization header.");
      if (opts.apiKey ? token !== opts.apiKey : !/^re_\S+$/.test(token))
        throw new ApiError(403, "invalid_api_key", "API key is invalid.");
      if (idempotencyKey !== null && (idempotencyKey.length < 1 || idempotencyKey.length > 256))
        throw new ApiError(400, "invalid_idempotency_key", "The key must be between 1-256 chars.");

      const fault = api.faults.shift();
      if (fault && !fault.afterSend) {
        throw new ApiError(
          fault.status,
          fault.name ?? DEFAULT_NAMES[fault.status] ?? "application_error",
          fault.message ?? "Injected fault.",
          fault.retryAfterSeconds === undefined
            ? {}
            : { "retry-after": String(fault.retryAfterSeconds) },
        );
      }

      const payload = validate(raw);
      const fingerprint = JSON.stringify(payload);
      if (idempotencyKey !== null) {
        const stored = keys.get(idempotencyKey);
        if (stored && clock() - stored.at < IDEMPOTENCY_WINDOW_MS) {
          if (stored.body === undefined)
            throw new ApiError(
              409,
              "concurrent_idempotent_requests",
              "Same idempotency key used while original request is still in progress.",
            );
          if (stored.fingerprint !== fingerprint)
            throw new ApiError(
              409,
              "invalid_idempotent_request",
              "Same idempotency key used with a different request payload.",
            );
          record(200, true);
          answer(res, 200, stored.body);
          return;
        }
        keys.set(idempotencyKey, { fingerprint, at: clock(), body: undefined });
        claimedKey = true;
      }
      // "Processing": a second request with the same key now gets 409 concurrent_idempotent_requests.
      if (api.delayMs > 0) await sleep(api.delayMs);
      if (gate) {
        gate.arrive();
        await gate.held;
      }

      const email: SentEmail = { id: randomUUID(), idempotencyKey, ...payload, at: clock() };
      api.sent.push(email);
      const body = JSON.stringify({ id: email.id });
      if (idempotencyKey !== null) keys.set(idempotencyKey, { fingerprint, at: clock(), body });
      claimedKey = false;
      await api.afterSend?.(email);

      if (fault?.afterSend) {
        const name = fault.name ?? DEFAULT_NAMES[fault.status] ?? "application_error";
        record(fault.status);
        answer(
          res,
          fault.status,
          JSON.stringify({ statusCode: fault.status, message: "Injected fault.", name }),
        );
        return;
      }
      record(200);
      answer(res, 200, body);
    } catch (err) {
      // A failed request does not keep its key: it may be retried with the same one.
      if (claimedKey && idempotencyKey !== null) keys.delete(idempotencyKey);
      const e =
        err instanceof ApiError
          ? err
          : new ApiError(500, "internal_server_error", "An unexpected error occurred.");
      record(e.status);
      answer(
        res,
        e.status,
        JSON.stringify({ statusCode: e.status, message: e.message, name: e.errorName }),
        e.headers,
      );
    }
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/emails" && req.method === "POST") {
      pending++;
      void sendEmails(req, res).finally(() => {
        pending--;
      });
      return;
    }
    const status = path === "/emails" ? 405 : 404;
    answer(
      res,
      status,
      JSON.stringify({
        statusCode: status,
        message: status === 405 ? "Method not allowed." : "Not found.",
        name: status === 405 ? "method_not_allowed" : "not_found",
      }),
    );
  });
  const port = await listen(server, opts.port, opts.host);
  api.server = server;
  api.url = `http://${opts.host ?? "127.0.0.1"}:${port}`;
  return api;
}

// `tsx scripts/local/email-api.ts [port]`: run the stand-in alone (RESEND_API_URL=http://127.0.0.1:3025)
// and print a line per request (ids and status only).
if (
  process.argv[1] &&
  import.meta.url === (await import("node:url")).pathToFileURL(process.argv[1]).href
) {
  const api = await startEmailApi({ port: Number(process.argv[2] ?? 3025) });
  const { stdout } = process;
  stdout.write(`Resend stand-in on ${api.url} (POST /emails)\n`);
  api.afterSend = (email) => {
    stdout.write(`sent ${email.id} key=${email.idempotencyKey ?? "-"}\n`);
  };
  process.on("SIGINT", () => void api.close().then(() => process.exit(0)));
}
