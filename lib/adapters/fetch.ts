// The handlers for servers that speak Web Request -> Response natively: Bun.serve, Deno.serve.
// They need no conversion, only a `waitUntil` for the welcome email (./wait-until.ts).
import { handleWelcomeCron } from "../email/cron.js";
import { handleHealth } from "../health.js";
import { handleMe } from "../me/handle-me.js";
import { handleClerkWebhook } from "../webhook/handle-clerk.js";
import { withWaitUntil } from "./wait-until.js";

export {
  drainOnShutdown,
  pendingCount,
  settlePending,
  type WebHandler,
  withWaitUntil,
} from "./wait-until.js";

/** The handlers, each with its waitUntil, keyed by the paths the Vercel deployment uses. */
export const routes = {
  "/api/webhooks/clerk": withWaitUntil(handleClerkWebhook),
  "/api/me": withWaitUntil(handleMe),
  "/api/health": withWaitUntil(handleHealth),
  /** The sweeper (`Authorization: Bearer $CRON_SECRET`): something must call it at least daily. */
  "/api/cron/welcome-emails": withWaitUntil(handleWelcomeCron),
} as const;
