// The package's main entry point (`clerk-neon-sync`): what an app imports to run the sync inside
// its own server. Web handlers (Request -> Response) as deployed on Vercel, and the library
// functions behind them. Adapters: `clerk-neon-sync/node` (Node HTTP, Express 4/5),
// `clerk-neon-sync/fetch` (Bun.serve, Deno), `clerk-neon-sync/trpc`; tables: `clerk-neon-sync/schema`.
export type { ClerkUser } from "./clerk/schemas.js";
export { clerkUserSchema } from "./clerk/schemas.js";
export { type Db, getDb } from "./db.js";
export { handleWelcomeCron } from "./email/cron.js";
export { handleHealth } from "./health.js";
export { type GetMeOptions, getMe, type MeMentorado, type MeResult } from "./me/get-me.js";
export { handleMe } from "./me/handle-me.js";
export { type SessionResult, verifySession } from "./me/session.js";
export { OUTCOMES, type Outcome } from "./sync/apply.js";
export {
  type SyncClerkUserOptions,
  type SyncClerkUserResult,
  syncClerkUser,
} from "./sync-clerk-user.js";
export { handleClerkWebhook } from "./webhook/handle-clerk.js";
