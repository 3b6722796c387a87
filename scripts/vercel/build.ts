// `npm run vercel-build`: Vercel's build step for this project, run ONCE per deployment by
// @vercel/static-build (vercel.json `builds`), before the deployment takes traffic:
//   1. bundle every api/ function into .vercel/output (Build Output API), so a bad build fails
//      before it touches the database;
//   2. apply the pending migrations to the environment's database (DATABASE_URL, set by the Neon
//      integration per environment: each preview deployment migrates its own branch). With
//      BUILD_MIGRATIONS=check (an environment whose DATABASE_URL is a least-privilege role that
//      cannot run DDL), only check that none is pending: someone else migrates it, beforehand.
// A failure at either step fails the build, and the previous deployment keeps serving.
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { ConfigError, getDbEnv } from "../../lib/env.js";
import { isMissingRoutine } from "../../lib/schema-shape.js";
import {
  checkDatabase,
  type DatabaseCheck,
  explainMigrationFailure,
  localUrlProblem,
  migrate,
} from "../db/migrate.js";
import { writeBuildOutput } from "./output.js";

function fail(message: string): never {
  console.error(`vercel-build: ${message}`);
  process.exit(1);
}

/** What the build does to the database: `apply` the pending migrations (default), or `check`. */
const buildMigrations = z.enum(["apply", "check"]).default("apply");

async function main(): Promise<void> {
  const mode = buildMigrations.safeParse(process.env.BUILD_MIGRATIONS || undefined);
  if (!mode.success) {
    fail("BUILD_MIGRATIONS must be apply (the default) or check.");
  }
  try {
    getDbEnv();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    fail(
      process.env.DATABASE_URL
        ? `${err.variables.join(", ")} is invalid for this environment (the value is not shown).`
        : "DATABASE_URL is not set for this environment: connect Neon to the Vercel project " +
            "(Storage -> Neon) for Production and Preview before deploying, then redeploy.",
    );
  }

  const started = Date.now();
  const built = await writeBuildOutput();
  for (const f of built) {
    console.log(
      `function ${f.route}: ${(f.bytes / 1024).toFixed(0)} KB, ${f.modules} modules bundled`,
    );
  }

  const local = localUrlProblem(process.env);
  if (local) fail(local);
  const { getDb } = await import("../../lib/db.js");
  const check = async (what: string): Promise<DatabaseCheck> => {
    try {
      return await checkDatabase(getDb());
    } catch (err) {
      fail(`${what} failed: ${explainMigrationFailure(err)}`);
    }
  };
  if (mode.data === "check") {
    const { pending, problems } = await check("migrations check");
    if (pending.length > 0) {
      // Deploying would run this code on an older schema: refuse, and say who has to act.
      fail(
        `migrations: ${pending.length} not applied to this database (${pending.map((m) => m.tag).join(", ")}) ` +
          "and BUILD_MIGRATIONS=check applies none: run `npm run db:migrate` with the database " +
          "owner's DATABASE_URL, then redeploy.",
      );
    }
    failOnShape(problems);
    console.log(
      `migrations: none pending, checked only (BUILD_MIGRATIONS=check; ${Date.now() - started} ms in all)`,
    );
    return;
  }
  try {
    const result = await migrate(getDb());
    console.log(
      `migrations: ${result.applied.length} applied, ${result.total} in total` +
        `${result.routines.length ? `, routines created: ${result.routines.join(", ")}` : ""} ` +
        `(${Date.now() - started} ms in all)`,
    );
  } catch (err) {
    // The same one line as `npm run db:migrate`: the host, login or database at fault, never
    // the password; not the driver's "Failed query: create schema ..." alone.
    fail(`migrations failed: ${explainMigrationFailure(err)}`);
  }
  failOnShape((await check("schema check")).problems);
}

/** The functions would answer schema_mismatch: fail the build, naming what is missing. */
function failOnShape(problems: string[]): void {
  if (problems.length === 0) return;
  // This version's routines are missing only where no migration ran with this code.
  const routines = problems.some(isMissingRoutine)
    ? " The sync's routines of this version are created by `npm run db:migrate` with the database owner's DATABASE_URL."
    : "";
  fail(
    `schema: this database lacks what the sync needs: ${problems.join("; ")}.${routines} ` +
      "Where the app owns users and mentorados, add them as docs/database-layout.md says, then redeploy.",
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
}
