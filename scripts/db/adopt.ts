// `npm run db:adopt [-- --apply | --undo] [--column <table>.<our_column>=<their_column> ...]
//   [--erase users.<column> ...] [--welcome-existing] [--mapping-file <path>] [--json]`
// Adopts an app's existing users and mentorados (docs/adopting.md). Read-only by default: a report
// of what the sync finds, what blocks it, and the one additive migration --apply would run with
// its exact inverse. Exit 0 adoptable (or applied), 1 blocked, 2 cannot connect or bad arguments.
// The work is in scripts/db/adopt/*.ts; this file parses, connects and prints.
import { fileURLToPath } from "node:url";
import type { Db } from "../../lib/db.js";
import { apply, inspect, storedInverse, undoWarning } from "./adopt/apply.js";
import { type AdoptOptions, ArgumentError, parseAdoptArgs } from "./adopt/args.js";
import { reportJson, reportText } from "./adopt/report.js";
import { connectionProblem, describeConnectionProblem } from "./connection-error.js";
import { localUrlProblem } from "./migrate.js";

export interface Output {
  code: 0 | 1 | 2;
  stdout: string;
  stderr: string;
}

/** The whole command against a database: what it prints and its exit status. */
export async function runAdopt(db: Db, options: AdoptOptions): Promise<Output> {
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  if (options.mode === "undo") {
    const inverse = await storedInverse(db);
    if (inverse === null) {
      const message =
        "db:adopt --undo: this database was not adopted (no clerk_sync.adoption row): nothing to undo";
      return options.json
        ? { code: 1, stdout: json({ adopted: false, message }), stderr: "" }
        : { code: 1, stdout: "", stderr: `${message}\n` };
    }
    const warning = undoWarning(inverse);
    return options.json
      ? { code: 0, stdout: json({ adopted: true, inverse, warning }), stderr: "" }
      : { code: 0, stdout: `${warning}\n\n${inverse}\n`, stderr: "" };
  }
  if (options.mode === "report") {
    const plan = await inspect(db, options);
    if (plan.argumentProblems.length) return badArguments(plan.argumentProblems);
    const code = plan.blockers.length ? 1 : 0;
    return {
      code,
      stdout: options.json ? json(reportJson(plan)) : `${reportText(plan)}\n`,
      stderr: "",
    };
  }
  const result = await apply(db, options);
  if (result.plan.argumentProblems.length) return badArguments(result.plan.argumentProblems);
  const report = options.json ? "" : `${reportText(result.plan, result.kind === "blocked")}\n\n`;
  switch (result.kind) {
    case "blocked":
      return options.json
        ? { code: 1, stdout: json({ applied: false, ...reportJson(result.plan) }), stderr: "" }
        : {
            code: 1,
            stdout: report,
            stderr: "db:adopt --apply: not applied, the database is blocked (above)\n",
          };
    case "already":
      return {
        code: 0,
        stdout: options.json
          ? json({ applied: false, alreadyAdopted: true, mappingFile: result.mappingFile })
          : `already adopted: nothing changed; ${result.mappingFile} written again from the stored mapping\n${
              options.erase.length ||
              Object.keys({ ...options.overrides.users, ...options.overrides.mentorados }).length
                ? "--column and --erase given now are not used: to change the mapping, undo the adoption first (--undo) and adopt again\n"
                : ""
            }`,
        stderr: "",
      };
    case "applied":
      return {
        code: 0,
        stdout: options.json
          ? json({
              applied: true,
              migrations: result.migrations,
              routines: result.routines,
              welcomeAfterMentoradoId: result.welcomeAfter,
              mappingFile: result.mappingFile,
              ...reportJson(result.plan),
            })
          : `${report}applied: our migrations (${result.migrations.length ? result.migrations.join(", ") : "none pending"}), ` +
            `then the adoption in one transaction; profiles with id <= ${result.welcomeAfter} get no welcome email.\n` +
            `mapping written to ${result.mappingFile}: commit it, then deploy.\n` +
            (result.routines.length
              ? `the sync's routines for this mapping: ${result.routines.join(", ")}\n`
              : `the sync's routines for this mapping are created by npm run db:migrate once it is in drizzle/mapping.ts\n`) +
            "npm run db:adopt -- --undo prints the inverse.\n",
        stderr: "",
      };
  }
}

function badArguments(problems: string[]): Output {
  return { code: 2, stdout: "", stderr: problems.map((p) => `db:adopt: ${p}\n`).join("") };
}

interface Connection {
  db: Db;
  close(): Promise<void>;
}

/**
 * The production driver on DATABASE_URL; a postgres:// URL on this machine without
 * NEON_LOCAL_FETCH_ENDPOINT gets an in-process local SQL endpoint in front of it, as npm run dev does.
 */
async function connect(env: NodeJS.ProcessEnv): Promise<Connection> {
  const { getDb } = await import("../../lib/db.js");
  if (!localUrlProblem(env)) return { db: getDb(), close: async () => undefined };
  const { openBackend } = await import("../local/sql-backends.js");
  const { startSqlEndpoint } = await import("../local/sql-endpoint.js");
  const backend = await openBackend({ databaseUrl: env.DATABASE_URL as string, poolSize: 2 });
  // Asked directly first: through the endpoint, a refused connection is only an HTTP 500.
  await backend.query({ query: "select 1", params: [] }).catch(async (err: unknown) => {
    await backend.close();
    throw err;
  });
  const endpoint = await startSqlEndpoint({ backend, port: 0, host: "127.0.0.1" });
  env.NEON_LOCAL_FETCH_ENDPOINT = endpoint.url;
  return {
    db: getDb(),
    async close() {
      await endpoint.close();
      await backend.close();
    },
  };
}

async function main(): Promise<number> {
  let options: AdoptOptions;
  try {
    options = parseAdoptArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof ArgumentError)) throw err;
    process.stderr.write(`db:adopt: ${err.message}\n`);
    return 2;
  }
  const url = process.env.DATABASE_URL?.trim();
  if (!url || !/^postgres(ql)?:\/\/\S+$/.test(url)) {
    process.stderr.write(
      `db:adopt: DATABASE_URL ${url ? "must be a postgres:// connection string" : "is not set"}\n`,
    );
    return 2;
  }
  let conn: Connection | undefined;
  try {
    conn = await connect(process.env);
    const out = await runAdopt(conn.db, options);
    process.stdout.write(out.stdout);
    process.stderr.write(out.stderr);
    return out.code;
  } catch (err) {
    const problem = connectionProblem(err);
    if (problem) {
      process.stderr.write(
        `db:adopt: ${describeConnectionProblem(problem, "DATABASE_URL", url, process.env.NEON_LOCAL_FETCH_ENDPOINT || undefined)}\n`,
      );
      return 2;
    }
    throw err;
  } finally {
    await conn?.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      // Not a connection problem: the database answered with an error (the SQLSTATE names it).
      const e = err as { message?: unknown; cause?: { code?: unknown; message?: unknown } };
      const code = typeof e.cause?.code === "string" ? ` (SQLSTATE ${e.cause.code})` : "";
      const message = String(e.cause?.message ?? e.message ?? err).split("\n")[0];
      process.stderr.write(`db:adopt failed: ${message}${code}\n`);
      process.exit(2);
    },
  );
}
