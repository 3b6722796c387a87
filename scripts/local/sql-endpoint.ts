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
// Neon caps request and response bodies at 10 MiB and answers 507 past that; so do we.
// This file is for tests and local development only: nothing under api/ or lib/ imports it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { listen } from "./listen.js";
import type { BatchOptions, IsolationLevel, SqlBackend, Statement } from "./sql-backends.js";

export const NEON_SIZE_LIMIT = 10 * 1024 * 1024;

/** PostgreSQL error fields the driver copies onto NeonDbError (same list as the driver's `hi`). */
const PG_ERROR_FIELDS = [
  "severity",
  "code",
  "detail",
  "hint",
  "position",
  "internalPosition",
  "internalQuery",
  "where",
  "schema",
  "table",
  "column",
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

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > limit) throw new HttpError(507, `request is larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw new HttpError(507, `request is larger than ${limit} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function asStatement(v: unknown): Statement {
  if (typeof v !== "object" || v === null) throw new HttpError(400, "invalid query object");
  const { query, params } = v as { query?: unknown; params?: unknown };
  if (typeof query !== "string") throw new HttpError(400, "query must be a string");
  if (params !== undefined && !Array.isArray(params))
    throw new HttpError(400, "params must be an array");
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
    if (!ISOLATION_LEVELS.has(iso)) throw new HttpError(400, `invalid isolation level: ${iso}`);
    opts.isolationLevel = iso as IsolationLevel;
  }
  const ro = header(req, "Neon-Batch-Read-Only");
  if (ro !== undefined) opts.readOnly = ro === "true";
  const def = header(req, "Neon-Batch-Deferrable");
  if (def !== undefined) opts.deferrable = def === "true";
  return opts;
}

function pgErrorBody(err: unknown): Record<string, unknown> | undefined {
  if (typeof err !== "object" || err === null || !("code" in err)) return undefined;
  const e = err as Record<string, unknown>;
  if (typeof e.code !== "string" || !/^[0-9A-Z]{5}$/.test(e.code)) return undefined;
  const body: Record<string, unknown> = { message: String(e.message ?? "") };
  for (const k of PG_ERROR_FIELDS) if (e[k] !== undefined) body[k] = e[k];
  return body;
}

function send(res: ServerResponse, status: number, body: string, limit: number): void {
  if (Buffer.byteLength(body) > limit) {
    status = 507;
    body = JSON.stringify({ message: `response is larger than ${limit} bytes` });
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
    try {
      if (req.method !== "POST") throw new HttpError(405, "POST only");
      const text = await readBody(req, limit);
      if (faults.unavailable) throw new HttpError(503, "database unavailable (injected)");
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new HttpError(400, "request body is not JSON");
      }
      let answer: unknown;
      if (typeof body === "object" && body !== null && "queries" in body) {
        const list = (body as { queries: unknown }).queries;
        if (!Array.isArray(list)) throw new HttpError(400, "queries must be an array");
        const stmts = list.map(asStatement);
        const bo = batchOptions(req);
        if (faults.serializationFailures) {
          faults.serializationFailures--;
          stats.errors++;
          const wait = delayMs - (Date.now() - started);
          if (wait > 0) await sleep(wait);
          send(
            res,
            400,
            JSON.stringify({
              message: "could not serialize access due to concurrent update (injected)",
              code: "40001",
              severity: "ERROR",
            }),
            limit,
          );
          return;
        }
        if (faults.failLastStatementOfNextBatches) {
          faults.failLastStatementOfNextBatches--;
          bo.failAtIndex = stmts.length - 1;
        }
        stats.batches++;
        stats.statements += stmts.length;
        answer = { results: await backend.batch(stmts, bo) };
      } else {
        const stmt = asStatement(body);
        stats.statements++;
        answer = await backend.query(stmt);
      }
      const wait = delayMs - (Date.now() - started);
      if (wait > 0) await sleep(wait);
      send(res, 200, JSON.stringify(answer), limit);
    } catch (err) {
      stats.errors++;
      const wait = delayMs - (Date.now() - started);
      if (wait > 0) await sleep(wait);
      const pgBody = pgErrorBody(err);
      if (pgBody) send(res, 400, JSON.stringify(pgBody), limit);
      else if (err instanceof HttpError)
        send(res, err.status, JSON.stringify({ message: err.message }), limit);
      else
        send(
          res,
          500,
          JSON.stringify({ message: err instanceof Error ? err.message : String(err) }),
          limit,
        );
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
      send(res, 404, JSON.stringify({ message: "not found" }), limit);
      return;
    }
    handler(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, JSON.stringify({ message: String(err) }), limit);
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
