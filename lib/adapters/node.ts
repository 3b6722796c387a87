// The handlers inside a Node HTTP server or an Express 4/5 app.
//
// Svix signs the exact bytes it sent, so the webhook must read the body before any body parser
// does: re-serialising a parsed `req.body` only reproduces compact JSON, and a parser's own size
// limit answers its own error page instead of our 413. Mount the webhook BEFORE the app's global
// parser (one line, see docs/inside-your-server.md); mounted after one, it answers a loud 500
// `body_already_read` naming the fix instead of a misleading `invalid_signature`.
//
// The Node <-> Web conversion is @hono/node-server's (streams, headers, back-pressure), not ours.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { getRequestListener } from "@hono/node-server";
import { handleWelcomeCron } from "../email/cron.js";
import { handleHealth } from "../health.js";
import { log } from "../log.js";
import { handleMe } from "../me/handle-me.js";
import { handleClerkWebhook } from "../webhook/handle-clerk.js";
import { errorResponse } from "../webhook/responses.js";
import { type WebHandler, withWaitUntil } from "./wait-until.js";

export { drainOnShutdown, pendingCount, settlePending, withWaitUntil } from "./wait-until.js";

/** Express's `(req, res, next)`, or a plain `http.createServer` listener (next unused). */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse, next?: unknown) => void;

const BODY_ALREADY_READ =
  "A body parser read this request before the webhook: mount the webhook before express.json() " +
  "(or any global body parser), e.g. app.post('/api/webhooks/clerk', clerkWebhook()) above " +
  "app.use(express.json()). Svix signs the exact bytes, which a parsed body no longer has.";

/**
 * True when something has already consumed the request's body stream (what body-parser checks
 * too, through on-finished: the message is complete and no longer readable).
 */
function bodyConsumed(req: IncomingMessage | Http2ServerRequest): boolean {
  return req.readableEnded || (req.complete && !req.readable);
}

/**
 * A Web handler as a Node/Express handler: the request's own bytes go to the handler, its
 * Response is written back as is, and its `waitUntil` work runs after the answer (./wait-until).
 * The global Request/Response are left alone (hono's override is off): this runs inside the
 * app's process.
 */
export function toNodeHandler(
  handler: WebHandler,
  opts: { needsRawBody?: boolean } = {},
): NodeHandler {
  const wrapped = withWaitUntil(handler);
  const listener = getRequestListener(
    (request, { incoming }) => {
      if (opts.needsRawBody && bodyConsumed(incoming)) {
        log({
          event: "clerk_webhook",
          level: "error",
          outcome: "error",
          error: "body_already_read",
        });
        return errorResponse(500, "body_already_read", BODY_ALREADY_READ);
      }
      return wrapped(request);
    },
    { overrideGlobalObjects: false },
  );
  return (req, res) => {
    void listener(req, res);
  };
}

/** POST /api/webhooks/clerk. Mount it before the app's body parser. */
export function clerkWebhook(): NodeHandler {
  return toNodeHandler(handleClerkWebhook, { needsRawBody: true });
}

/** GET /api/me (`Authorization: Bearer <Clerk session token>`); anywhere in the middleware. */
export function me(): NodeHandler {
  return toNodeHandler(handleMe);
}

/** GET /api/health. */
export function health(): NodeHandler {
  return toNodeHandler(handleHealth);
}

/**
 * GET /api/cron/welcome-emails (`Authorization: Bearer $CRON_SECRET`): the sweeper of the welcome
 * emails the inline send could not deliver. Something must call it at least daily.
 */
export function welcomeCron(): NodeHandler {
  return toNodeHandler(handleWelcomeCron);
}
