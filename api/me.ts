// GET /api/me: the signed-in person's synced record (`Authorization: Bearer <Clerk session token>`),
// synced on demand when the webhook has not arrived yet. Vercel Function (Node.js runtime) with
// Web-standard handlers; no Node built-ins, so it runs on Edge too. The logic lives in
// lib/me/handle-me.ts (the edge) and lib/me/get-me.ts (the library function).
import { handleMe } from "../lib/me/handle-me.js";

export const GET = handleMe;
export const HEAD = handleMe;
export const OPTIONS = handleMe;
// Every other method answers 405 with `allow` (and is logged like any request).
export const POST = handleMe;
export const PUT = handleMe;
export const PATCH = handleMe;
export const DELETE = handleMe;
