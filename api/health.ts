// GET /api/health: 200 {ok:true, db:"up", migrations:"<latest applied tag>"} after one SQL round
// trip, 503 {ok:false, db:"down"} when the database is unreachable, with a `hint` saying what to
// do when something is off (pending migrations, an unreachable database). Vercel Function
// (Node.js runtime, Web-standard handlers); the logic lives in lib/health.ts. Other methods: 405.
import { handleHealth } from "../lib/health.js";
import { withHealthHint } from "../lib/health-hint.js";

export const GET = async (request: Request): Promise<Response> =>
  withHealthHint(await handleHealth(request));
export const HEAD = GET;
