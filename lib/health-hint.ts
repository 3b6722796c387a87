// What to do about a /api/health answer that is not ok, for a person reading it (the dev server's
// banner points at it; a deployment's check reads it). Added to the answer of lib/health.ts as
// `hint` without changing its fields: one sentence per known condition, never a value of the
// configuration (not even the database's host).
import { isMissingRoutine } from "./schema-shape.js";

const MIGRATE =
  "apply the pending migrations with `npm run db:migrate` (DATABASE_URL set to this database), " +
  "or redeploy: the Vercel build applies them; `npm run dev -- --migrate` applies them from a laptop";

export function healthHint(body: Record<string, unknown>): string | undefined {
  if (body.error === "not_migrated") return MIGRATE;
  if (body.error === "database_unavailable") {
    return (
      "the database could not be reached or did not answer within SQL_TIMEOUT_MS: check the host " +
      "in DATABASE_URL and the network (the log line of this request has the cause)"
    );
  }
  if (typeof body.migrations_pending === "number" && body.migrations_pending > 0) return MIGRATE;
  const problems: unknown[] = Array.isArray(body.schema_problems) ? body.schema_problems : [];
  if (body.error === "schema_mismatch" && problems.length > 0 && problems.every(isMissingRoutine)) {
    return (
      "this version's routines are missing (schema_problems): the code was deployed without " +
      `migrating; ${MIGRATE}`
    );
  }
  if (body.error === "schema_mismatch") {
    return (
      "the database lacks what the sync needs (schema_problems): on the app's own tables, " +
      "`npm run db:adopt` reports it and `-- --apply` adds it (docs/adopting.md)"
    );
  }
  return undefined;
}

/** The same answer, with `hint` when there is one. */
export async function withHealthHint(response: Response): Promise<Response> {
  const body = (await response
    .clone()
    .json()
    .catch(() => null)) as Record<string, unknown> | null;
  const hint = body && typeof body === "object" ? healthHint(body) : undefined;
  if (!hint) return response;
  return new Response(JSON.stringify({ ...body, hint }), {
    status: response.status,
    headers: response.headers,
  });
}
