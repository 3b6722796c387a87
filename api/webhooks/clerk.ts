// POST /api/webhooks/clerk: Clerk user events, delivered and signed by Svix.
// Vercel Function (Node.js runtime) with Web-standard handlers; no Node built-ins, so it runs on
// Edge too. The logic lives in lib/webhook/handle-clerk.ts.
import { handleClerkWebhook } from "../../lib/webhook/handle-clerk.js";

export const POST = handleClerkWebhook;
// Every other method answers 405 with `allow: POST` (and is logged like any request).
export const GET = handleClerkWebhook;
export const PUT = handleClerkWebhook;
export const PATCH = handleClerkWebhook;
export const DELETE = handleClerkWebhook;
export const OPTIONS = handleClerkWebhook;
export const HEAD = handleClerkWebhook;
