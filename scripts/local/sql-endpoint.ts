// A local endpoint that speaks Neon's SQL-over-HTTP protocol, so the production driver
// (drizzle-orm/neon-http -> @neondatabase/serverless neon()) runs unchanged in tests and dev.
//
// Protocol, as read in node_modules/@neondatabase/serverless/index.mjs (v1.2.0, function `ys`,
// the `neon()` query function, and `hs`, processQueryResult):
// - always `POST` with a string body (JSON, no content-type) and headers `Neon-Connection-String`,
//   `Neon-Raw-Text-Output: true`, `Neon-Array-Mode: true`; for `transaction()` (drizzle's
//   `db.batch`) also `Neon-Batch-Isolation-Level`, `Neon-Batch-Read-Only`, `Neon-Batch-Deferrable`
//   when set;
// - body `{"query","params"}` for one statement, `{"queries":[{query,params}...]}` for a batch;
// - a 2xx answer is `{fields:[{name,dataTypeID,...}], rows:[[text|null...]], command, rowCount}`
//   or `{results:[...]}`; the driver parses each value with the type parser of `dataTypeID`;
// - HTTP 400 with JSON `{message, code, detail, constraint, table, ...}` becomes a NeonDbError
//   carrying those fields (list `hi` in the driver); any other status becomes
//   NeonDbError("Server error (HTTP status N): <body>").
//
// On the failure paths it answers as Neon's proxy does (neondatabase/neon, proxy/src/serverless/;
// docs/local-sql-endpoint.md has the point-by-point list and tests/sql-endpoint-parity.test.ts
// holds the endpoint to it):
// - a client that disconnects before the answer cancels the running statement and rolls the
//   request back (sql_over_http.rs: `cancel.cancelled()` raced against each query);
// - query text with several statements is 42601 before anything runs (extended protocol);
// - no statement or session state survives a request (conn_pool_lib.rs: connections are reset or
//   discarded before reuse);
// - every error body has the same 17 keys, null when absent, and `code: ""` when the error is not
//   Postgres' (sql_over_http.rs, `handle`); a request body over 10 MiB is 413 (error.rs,
//   ReadPayloadError::BodyTooLarge), an answer over 10 MiB is 507 (ResponseTooLarge).
// This file is for tests and local development only: nothing under api/ or lib/ imports it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { listen } from "./listen.js";
import {
  type BatchOptions,
  CancelledError,
  type IsolationLevel,
  type SqlBackend,
  type Statement,
} from "./sql-backends.js";

export const NEON_SIZE_LIMIT = 10 * 1024 * 1024;

/**
 * The keys of every error body, in Neon's order (sql_over_http.rs, `handle`): `message` plus the 16
 * PostgreSQL fields the driver copies onto NeonDbError (its list `hi`).
 */
export const NEON_ERROR_KEYS = [
  "message",
  "code",
  "detail",
  "hint",
  "position",
  "internalPosition",
  "internalQuery",
  "severity",
  "where",
  "table",
  "column",
  "schema",
  "dataType",
  "constraint",
  "file",
  "line",
  "routine",
] as const;

export interface EndpointStats {
  /** HTTP requests to /sql: one per driver call, i.e. one per round trip. */
  requests: number;
  batches: number;
  statements: number;
  errors: number;
}

export interface Faults {
  /** Answer every /sql request with a 503 and never touch the database. */
  unavailable?: boolean;
  /**
   * Make the next N batches run their statements, then hold the transaction open until the client
   * goes away: a database that hangs, on PGlite too (where no lock can make a request wait).
   */
  stallNextBatches?: number;
  /** Make the next N batches fail at their last statement with a real Postgres error (22012). */
  failLastStatementOfNextBatches?: number;
  /** Answer the next N batches with a serialization failure (40001) before running them. */
  serializationFailures?: number;
}

export interface EndpointOptions {
  backend: SqlBackend;
  port?: number;
  host?: string;
  /** Fixed delay before each /sql answer, to emulate the round trip to Neon (bench --rtt-ms). */
  delayMs?: number;
  /** Expose /__control for tests and the bench (stats, faults). Never on in production: it is local. */
  control?: boolean;
  sizeLimit?: number;
}

export interface SqlEndpoint {
  url: string;
  server: Server;
  stats: EndpointStats;
  faults: Faults;
  setDelay(ms: number): void;
  resetStats(): void;
  close(): Promise<void>;
}

/** A refusal that is not a Postgres error: Neon answers it with `code: ""`. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const tooLarge = () => new HttpError(413, `request is too large (max is ${limit} bytes)`);
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw tooLarge();
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function asStatement(v: unknown): Statement {
  const bad = (what: string) =>
    new HttpError(400, `could not parse the HTTP request body: ${what}`);
  if (typeof v !== "object" || v === null) throw bad("invalid query object");
  const { query, params } = v as { query?: unknown; params?: unknown };
  if (typeof query !== "string") throw bad("query must be a string");
  if (params !== undefined && !Array.isArray(params)) throw bad("params must be an array");
  return { query, params: params ?? [] };
}

const ISOLATION_LEVELS = new Set([
  "ReadUncommitted",
  "ReadCommitted",
  "RepeatableRead",
  "Serializable",
]);

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function batchOptions(req: IncomingMessage): BatchOptions {
  const opts: BatchOptions = {};
  const iso = header(req, "Neon-Batch-Isolation-Level");
  if (iso !== undefined) {
    if (!ISOLATION_LEVELS.has(iso)) throw new HttpError(400, "invalid isolation level");
    opts.isolationLevel = iso as IsolationLevel;
  }
  // Like Neon, anything but exactly "true" is false.
  const ro = header(req, "Neon-Batch-Read-Only");
  if (ro !== undefined) opts.readOnly = ro === "true";
  const def = header(req, "Neon-Batch-Deferrable");
  if (def !== undefined) opts.deferrable = def === "true";
  return opts;
}

/** The Postgres error fields of `err` when it is a Postgres error (it has a SQLSTATE). */
function pgFields(err: unknown): Record<string, unknown> | undefined {
  if (typeof err !== "object" || err === null || !("code" in err)) return undefined;
  const e = err as Record<string, unknown>;
  if (typeof e.code !== "string" || !/^[0-9A-Z]{5}$/.test(e.code)) return undefined;
  return e;
}

/**
 * Neon's error body: all 17 keys, null when absent. For an error that is not Postgres' the
 * proxy's defaults apply: `code` and `severity` are "" (they are strings in its DbError), the
 * others null.
 */
export function neonErrorBody(
  message: string,
  pg?: Record<string, unknown>,
): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const k of NEON_ERROR_KEYS) {
    if (k === "message") body[k] = message;
    else if (pg && pg[k] !== undefined && pg[k] !== null) body[k] = String(pg[k]);
    else body[k] = k === "code" || k === "severity" ? "" : null;
  }
  return body;
}

function send(res: ServerResponse, status: number, body: string, limit: number): void {
  if (res.destroyed) return;
  if (Buffer.byteLength(body) > limit) {
    status = 507;
    body = JSON.stringify(neonErrorBody(`response is too large (max is ${limit} bytes)`));
  }
  res.writeHead(status, { "content-type": "application/json" });
  res.end(body);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startSqlEndpoint(opts: EndpointOptions): Promise<SqlEndpoint> {
  const { backend } = opts;
  const limit = opts.sizeLimit ?? NEON_SIZE_LIMIT;
  const stats: EndpointStats = { requests: 0, batches: 0, statements: 0, errors: 0 };
  const faults: Faults = {};
  let delayMs = opts.delayMs ?? 0;

  async function handleSql(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.requests++;
    const started = Date.now();
    // The client going away before its answer (a function's deadline, an aborted fetch) cancels
    // the work and rolls it back, as Neon's proxy does.
    const gone = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) gone.abort();
    });
    const answer = async (status: number, body: unknown) => {
      const wait = delayMs - (Date.now() - started);
      if (wait > 0) await sleep(wait);
      send(res, status, JSON.stringify(body), limit);
    };
    try {
      if (req.method !== "POST") throw new HttpError(405, "POST only");
      const text = await readBody(req, limit);
      if (faults.unavailable) throw new HttpError(503, "database unavailable (injected)");
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (err) {
        throw new HttpError(400, `could not parse the HTTP request body: ${String(err)}`);
      }
      let result: unknown;
      if (typeof body === "object" && body !== null && "queries" in body) {
        const list = (body as { queries: unknown }).queries;
        if (!Array.isArray(list)) throw new HttpError(400, "could not parse the HTTP request body");
        const stmts = list.map(asStatement);
        const bo = batchOptions(req);
        bo.signal = gone.signal;
        if (faults.serializationFailures) {
          faults.serializationFailures--;
          stats.errors++;
          await answer(
            400,
            neonErrorBody("could not serialize access due to concurrent update (injected)", {
              code: "40001",
              severity: "ERROR",
            }),
          );
          return;
        }
        if (faults.failLastStatementOfNextBatches) {
          faults.failLastStatementOfNextBatches--;
          bo.failAtIndex = stmts.length - 1;
        }
        if (faults.stallNextBatches) {
          faults.stallNextBatches--;
          bo.stallBeforeCommit = true;
        }
        stats.batches++;
        stats.statements += stmts.length;
        result = { results: await backend.batch(stmts, bo) };
      } else {
        const stmt = asStatement(body);
        stats.statements++;
        result = await backend.query(stmt, gone.signal);
      }
      await answer(200, result);
    } catch (err) {
      stats.errors++;
      if (err instanceof CancelledError) {
        // What Neon answers to a client that is no longer there (no one reads it).
        send(
          res,
          400,
          JSON.stringify({ message: "Query cancelled, connection was terminated", code: "08P01" }),
          limit,
        );
        return;
      }
      const pg = pgFields(err);
      const message = err instanceof Error ? err.message : String(err);
      if (pg) await answer(400, neonErrorBody(message, pg));
      else if (err instanceof HttpError) await answer(err.status, neonErrorBody(message));
      else await answer(500, neonErrorBody(message));
    }
  }

  async function handleControl(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === "GET") {
      send(res, 200, JSON.stringify({ stats, faults, delayMs, backend: backend.kind }), limit);
      return;
    }
    const patch = JSON.parse((await readBody(req, limit)) || "{}") as {
      faults?: Faults;
      resetStats?: boolean;
      delayMs?: number;
    };
    if (patch.resetStats)
      Object.assign(stats, { requests: 0, batches: 0, statements: 0, errors: 0 });
    if (patch.faults) {
      for (const k of Object.keys(faults) as (keyof Faults)[]) delete faults[k];
      Object.assign(faults, patch.faults);
    }
    if (patch.delayMs !== undefined) delayMs = patch.delayMs;
    send(res, 200, JSON.stringify({ stats, faults, delayMs }), limit);
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const handler =
      path === "/sql"
        ? handleSql
        : opts.control && path === "/__control"
          ? handleControl
          : undefined;
    if (!handler) {
      send(res, 404, JSON.stringify(neonErrorBody("not found")), limit);
      return;
    }
    handler(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, JSON.stringify(neonErrorBody(String(err))), limit);
    });
  });
  server.keepAliveTimeout = 60_000;

  const port = await listen(server, opts.port, opts.host);
  return {
    url: `http://${opts.host ?? "127.0.0.1"}:${port}/sql`,
    server,
    stats,
    faults,
    setDelay: (ms) => {
      delayMs = ms;
    },
    resetStats: () => Object.assign(stats, { requests: 0, batches: 0, statements: 0, errors: 0 }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
