// GET /api/cron/welcome-emails: drains the welcome-email outbox. Called by Vercel Cron (schedule in
// vercel.json) with `Authorization: Bearer $CRON_SECRET`. Web-standard handler, no Node built-ins,
// so it runs on Edge too. The logic lives in lib/email/ (cron.ts -> dispatch.ts -> providers.ts).
import { handleWelcomeCron } from "../../lib/email/cron.js";

export const GET = handleWelcomeCron;
// Every other method answers 405 with `allow: GET` (and is logged like any request).
export const POST = handleWelcomeCron;
export const PUT = handleWelcomeCron;
export const PATCH = handleWelcomeCron;
export const DELETE = handleWelcomeCron;
export const OPTIONS = handleWelcomeCron;
export const HEAD = handleWelcomeCron;
