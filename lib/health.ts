// GET /api/health: one SQL round trip that proves the database answers and reports the latest
// applied migration (by its drizzle-kit tag), so a deployment can be checked against its branch;
// and the configuration that would stop the webhook or (in production) the cron from working, by
// variable name. ok (200) only when all of it is fine; otherwise 503 with what is wrong.
import { misconfiguredVariables } from "./config-check.js";
import { getDb } from "./db.js";
import { isDbTimeout, sqlState } from "./db-error.js";
import { ConfigError, getDbEnv } from "./env.js";
import { log } from "./log.js";
import { latestApplied, NOT_MIGRATED, pendingMigrations, readDatabaseState } from "./migrations.js";

const HEADERS = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };

function answer(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: HEADERS });
}

export async function handleHealth(_request: Request): Promise<Response> {
  const started = performance.now();
  const fail = (
    status: number,
    body: Record<string, unknown>,
    variables: string[],
    err?: unknown,
    schemaProblems?: string[],
  ): Response => {
    log({
      event: "health",
      level: "error",
      status,
      // The answer says unavailable either way; the log says whether the deadline cut it.
      error: isDbTimeout(err)
        ? "database_timeout"
        : typeof body.error === "string"
          ? body.error
          : undefined,
      sqlstate: sqlState(err),
      ms: Math.round((performance.now() - started) * 100) / 100,
      variables: variables.length > 0 ? variables : undefined,
      schema_problems: schemaProblems,
    });
    return answer(status, body);
  };

  // Names only: a value (even a malformed one) never reaches the answer or the log.
  const misconfigured = misconfiguredVariables();
  let env: ReturnType<typeof getDbEnv>;
  try {
    env = getDbEnv();
  } catch (err) {
    const names = [...(err instanceof ConfigError ? err.variables : ["DATABASE_URL"])];
    for (const v of misconfigured) if (!names.includes(v)) names.push(v);
    return fail(500, { ok: false, error: "misconfigured", misconfigured: names }, names);
  }

  try {
    // Bounded by the SQL deadline (SQL_TIMEOUT_MS) that lib/db.ts puts on every request. One
    // select: our journal and the schema's shape (lib/schema-shape.ts) together.
    const { applied, problems } = await readDatabaseState(getDb(env));
    const pending = pendingMigrations(applied);
    const body = {
      ok: misconfigured.length === 0 && problems.length === 0,
      db: "up",
      migrations: latestApplied(applied)?.tag ?? null,
      migrations_applied: applied.length,
      migrations_pending: pending.length,
      schema: problems.length === 0 ? "ok" : "mismatch",
      ...(problems.length > 0 ? { schema_problems: problems } : {}),
      misconfigured,
    };
    if (problems.length > 0) {
      return fail(503, { ...body, error: "schema_mismatch" }, misconfigured, undefined, problems);
    }
    if (misconfigured.length > 0) {
      return fail(503, { ...body, error: "misconfigured" }, misconfigured);
    }
    return answer(200, body);
  } catch (err) {
    // A Postgres error (it has a SQLSTATE) means the database answered: only the schema is
    // missing (42P01, migrations never ran). Anything else, it is unreachable or failing.
    if (sqlState(err) === NOT_MIGRATED) {
      return fail(
        503,
        {
          ok: false,
          db: "up",
          migrations: null,
          error: "not_migrated",
          misconfigured,
        },
        misconfigured,
        err,
      );
    }
    return fail(
      503,
      { ok: false, db: "down", error: "database_unavailable", misconfigured },
      misconfigured,
      err,
    );
  }
}
