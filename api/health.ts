// GET /api/health: 200 {ok:true, db:"up", migrations:"<latest applied tag>"} after one SQL round
// trip, 503 {ok:false, db:"down"} when the database is unreachable. Vercel Function (Node.js
// runtime, Web-standard handlers); the logic lives in lib/health.ts. Other methods: 405.
import { handleHealth } from "../lib/health.js";

export const GET = handleHealth;
export const HEAD = handleHealth;
