// The two Postgres backends behind the local SQL-over-HTTP endpoint: embedded PGlite (default, no
// server needed) and a real PostgreSQL server through a pg Pool (real concurrency, real locks).
// Both return values as raw Postgres text with their type OIDs, as Neon's /sql endpoint does, so the
// Neon driver parses them on the client exactly as it does in production.
import { PGlite, type Transaction } from "@electric-sql/pglite";
import pg from "pg";

export interface Field {
  name: string;
  tableID: number;
  columnID: number;
  dataTypeID: number;
  dataTypeSize: number;
  dataTypeModifier: number;
  format: "text";
}

export interface QueryResult {
  command: string;
  rowCount: number | null;
  fields: Field[];
  rows: (string | null)[][];
  rowAsArray: true;
}

export interface Statement {
  query: string;
  params: unknown[];
}

export type IsolationLevel =
  | "ReadUncommitted"
  | "ReadCommitted"
  | "RepeatableRead"
  | "Serializable";

export interface BatchOptions {
  isolationLevel?: IsolationLevel;
  readOnly?: boolean;
  deferrable?: boolean;
  /** Test-only fault: run `select 1/0` in place of the statement at this index (a real DB error). */
  failAtIndex?: number;
  /**
   * Test-only fault: after the last statement, hold the transaction open until the client goes away
   * (at most STALL_LIMIT_MS) — a database that hangs before COMMIT, on either backend.
   */
  stallBeforeCommit?: boolean;
  /** Aborts when the HTTP client disconnects: the batch is cancelled and rolled back. */
  signal?: AbortSignal;
}

/** The HTTP client went away before the answer: the work was cancelled and rolled back. */
export class CancelledError extends Error {
  override name = "CancelledError";
  constructor() {
    super("query was cancelled");
  }
}

export const STALL_LIMIT_MS = 30_000;

/** Resolves when `signal` aborts, or after `limitMs`. */
export function untilAborted(signal: AbortSignal | undefined, limitMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, limitMs);
    signal?.addEventListener("abort", done, { once: true });
  });
}

export interface SqlBackend {
  readonly kind: "pglite" | "postgres";
  readonly description: string;
  /** One statement in its own transaction (autocommit); `signal` as in BatchOptions. */
  query(stmt: Statement, signal?: AbortSignal): Promise<QueryResult>;
  batch(stmts: Statement[], opts: BatchOptions): Promise<QueryResult[]>;
  close(): Promise<void>;
}

const ISOLATION_SQL: Record<IsolationLevel, string> = {
  ReadUncommitted: "READ UNCOMMITTED",
  ReadCommitted: "READ COMMITTED",
  RepeatableRead: "REPEATABLE READ",
  Serializable: "SERIALIZABLE",
};

export function transactionModes(opts: BatchOptions): string {
  const modes: string[] = [];
  if (opts.isolationLevel) modes.push(`ISOLATION LEVEL ${ISOLATION_SQL[opts.isolationLevel]}`);
  if (opts.readOnly !== undefined) modes.push(opts.readOnly ? "READ ONLY" : "READ WRITE");
  if (opts.deferrable !== undefined) modes.push(opts.deferrable ? "DEFERRABLE" : "NOT DEFERRABLE");
  return modes.join(", ");
}

const FAULT_SQL = "select 1/0 as injected_fault";

function field(name: string, dataTypeID: number, extra?: Partial<Omit<Field, "format">>): Field {
  return {
    name,
    tableID: extra?.tableID ?? 0,
    columnID: extra?.columnID ?? 0,
    dataTypeID,
    dataTypeSize: extra?.dataTypeSize ?? -1,
    dataTypeModifier: extra?.dataTypeModifier ?? -1,
    format: "text",
  };
}

// ---------------------------------------------------------------- PostgreSQL (pg Pool)

const rawTypes = { getTypeParser: () => (value: string) => value };

// Every statement runs through the extended protocol, as Neon's proxy runs it (`query_raw_txt`):
// one statement per query text, a second one is 42601 before anything runs.
//
// Unlike Neon, in the default "named" mode (StatementMode below), statements with parameters are
// prepared under a name once per pooled connection and their plan reused: the app sends the same
// few texts over and over, and re-planning them is most of PostgreSQL's CPU. That cache is the
// endpoint's own, and kept safe (the "unnamed" mode has no cache, so neither case arises there
// but the second, which is kept in both modes as the cheap conservative choice):
// - a plan made stale by DDL that changed its result type (0A000, "cached plan must not change
//   result type") costs the connection: it is destroyed and the request, rolled back, runs again
//   once on a fresh connection, so the client sees what Neon would have answered;
// - a request that may leave state a reset does not clear, or that prepares statements of its own
//   (matched on its text, generously), costs its connection too: destroyed, not pooled.
type ExtendedQuery = pg.QueryArrayConfig & { queryMode: "extended" };
const statementNames = new Map<string, string>();
function extended(text: string, values: unknown[], named: boolean): ExtendedQuery {
  const q: ExtendedQuery = {
    text,
    values,
    rowMode: "array",
    types: rawTypes,
    queryMode: "extended",
  };
  if (!named || values.length === 0) return q;
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < 10_000) {
    name = `local_endpoint_s${statementNames.size + 1}`;
    statementNames.set(text, name);
  }
  return name === undefined ? q : { ...q, name };
}

/**
 * How the PostgreSQL backend sends statements:
 * - "named" (the default): prepared under a name once per pooled connection, plan reused, and
 *   `RESET ALL` between requests (see resetSql). Cheaper than Neon; tests and the dev stack use it.
 * - "unnamed": as Neon's proxy does (`query_raw_txt`: Parse/Bind/Execute of the unnamed statement,
 *   planned on every request) with Neon's pool reset (`conn_pool_lib.rs`). What Neon's compute
 *   spends, so what the bench measures by default.
 */
export type StatementMode = "named" | "unnamed";

/** Env var choosing the mode when the caller does not (tests, dev stack, bench). */
export const STATEMENTS_ENV = "LOCAL_SQL_STATEMENTS";

export function statementModeFromEnv(
  value = process.env[STATEMENTS_ENV],
): StatementMode | undefined {
  if (value === undefined || value === "") return undefined;
  if (value === "named" || value === "unnamed") return value;
  throw new Error(`${STATEMENTS_ENV} must be "named" or "unnamed", not ${JSON.stringify(value)}`);
}

/** Texts that may leave session state behind that RESET ALL does not clear. */
const LEAVES_STATE =
  /\b(prepare|deallocate|listen|declare|temp|temporary|pg_advisory_lock\w*|role|session_authorization)\b/i;

function isStalePlan(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return e?.code === "0A000" && /cached plan/i.test(String(e.message));
}

// What Neon's pool does to a connection before the next request may have it: no transaction left
// open, no `SET` surviving. Prepared statements of the client's own never get here (LEAVES_STATE);
// the endpoint's cache stays.
const RESET_SQL = "RESET ALL";
// Neon's own reset (`conn_pool_lib.rs`), minus its leading ROLLBACK (see resetSql).
const NEON_RESET_SQL =
  "CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; DEALLOCATE ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES";

/**
 * The reset for a connection going back to the pool. ROLLBACK is sent only when the server says
 * a transaction is still open ('T') or failed ('E') after the request: outside a transaction,
 * PostgreSQL answers it with a WARNING ("there is no transaction in progress") that it also
 * writes to the server's log, once per request. pg reads the status off every ReadyForQuery, so
 * it is exact, including for a client's own `BEGIN` sent as a single statement.
 */
function resetSql(client: pg.PoolClient, mode: StatementMode): string {
  const open = client.getTransactionStatus() !== "I";
  const reset = mode === "unnamed" ? NEON_RESET_SQL : RESET_SQL;
  return open ? `ROLLBACK; ${reset}` : reset;
}

function fromPg(r: pg.QueryArrayResult): QueryResult {
  return {
    command: r.command,
    rowCount: r.rowCount,
    fields: r.fields.map((f) => field(f.name, f.dataTypeID, f)),
    rows: r.rows as (string | null)[][],
    rowAsArray: true,
  };
}

/** The server process behind a pooled connection (set by pg at connect; not in @types/pg). */
function backendPid(client: pg.PoolClient): number | undefined {
  const pid = (client as pg.PoolClient & { processID?: unknown }).processID;
  return typeof pid === "number" ? pid : undefined;
}

export class PostgresBackend implements SqlBackend {
  readonly kind = "postgres" as const;
  readonly description: string;
  readonly pool: pg.Pool;
  private readonly connectionString: string;
  readonly statements: StatementMode;

  constructor(connectionString: string, poolSize = 20, statements: StatementMode = "named") {
    this.connectionString = connectionString;
    this.statements = statements;
    this.pool = new pg.Pool({ connectionString, max: poolSize });
    // An idle client that loses its connection must not crash the process hosting the endpoint.
    this.pool.on("error", () => {});
    const u = new URL(connectionString);
    this.description = `PostgreSQL ${u.hostname}:${u.port || 5432}${u.pathname} (${statements} statements)`;
  }

  // Bumped when DDL has made a cached plan stale: connections that served requests under an
  // older epoch are destroyed at checkout instead of being used.
  private planEpoch = 0;
  private readonly clientEpochs = new WeakMap<pg.PoolClient, number>();

  private async connect(): Promise<pg.PoolClient> {
    for (;;) {
      const client = await this.pool.connect();
      const seen = this.clientEpochs.get(client);
      if (seen === undefined || seen === this.planEpoch) {
        this.clientEpochs.set(client, this.planEpoch);
        return client;
      }
      client.release(true);
    }
  }

  /** pg_cancel_backend from a connection of its own: the pool may be full of waiting requests. */
  private async cancelBackend(pid: number): Promise<void> {
    const c = new pg.Client({ connectionString: this.connectionString });
    c.on("error", () => {});
    try {
      await c.connect();
      await c.query("select pg_cancel_backend($1)", [pid]);
    } catch {
      // The connection is destroyed below whatever happens: the server then ends the session.
    } finally {
      await c.end().catch(() => {});
    }
  }

  /**
   * Runs `work` on one pooled connection. When `signal` aborts (the HTTP client went away), the
   * running statement is cancelled on the server, the work fails with CancelledError, and the
   * connection is thrown away rather than pooled, as Neon's proxy discards it. Otherwise the
   * connection is reset before it goes back to the pool, or destroyed when `keep` is false.
   */
  private async withClient<T>(
    signal: AbortSignal | undefined,
    keep: boolean,
    work: (client: pg.PoolClient, check: () => void) => Promise<T>,
  ): Promise<T> {
    const client = await this.connect();
    let cancelling: Promise<void> | undefined;
    let discard = !keep;
    const onAbort = () => {
      const pid = backendPid(client);
      cancelling = pid === undefined ? Promise.resolve() : this.cancelBackend(pid);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const check = () => {
      if (signal?.aborted) throw new CancelledError();
    };
    try {
      check();
      const result = await work(client, check);
      check();
      return result;
    } catch (err) {
      if (isStalePlan(err)) {
        // Every connection may hold plans from before the DDL: none of them is used again.
        this.planEpoch++;
        discard = true;
      }
      throw signal?.aborted ? new CancelledError() : err;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      if (signal?.aborted) {
        await cancelling;
        client.release(true);
      } else if (discard) {
        client.release(true);
      } else {
        // Not awaited: the answer need not wait for the reset, only the next borrower does.
        client.query(resetSql(client, this.statements)).then(
          () => client.release(),
          (e: Error) => client.release(e),
        );
      }
    }
  }

  /** Runs once more, on a connection of the new epoch, a request that met a stale plan. */
  private async retryingStalePlans<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (!isStalePlan(err)) throw err;
      return run();
    }
  }

  query(stmt: Statement, signal?: AbortSignal): Promise<QueryResult> {
    const keep = !LEAVES_STATE.test(stmt.query);
    return this.retryingStalePlans(() =>
      this.withClient(signal, keep, async (client) =>
        fromPg(await client.query(extended(stmt.query, stmt.params, this.statements === "named"))),
      ),
    );
  }

  batch(stmts: Statement[], opts: BatchOptions): Promise<QueryResult[]> {
    const keep = !stmts.some((s) => LEAVES_STATE.test(s.query));
    return this.retryingStalePlans(() =>
      this.withClient(opts.signal, keep, async (client, check) => {
        await client.query(`BEGIN ${transactionModes(opts)}`);
        try {
          const results: QueryResult[] = [];
          for (const [i, stmt] of stmts.entries()) {
            check();
            const failing = i === opts.failAtIndex;
            const r = await client.query(
              extended(
                failing ? FAULT_SQL : stmt.query,
                failing ? [] : stmt.params,
                this.statements === "named",
              ),
            );
            results.push(fromPg(r));
          }
          if (opts.stallBeforeCommit) await untilAborted(opts.signal, STALL_LIMIT_MS);
          check();
          await client.query("COMMIT");
          return results;
        } catch (err) {
          // After a cancel the connection is destroyed, which rolls back too; this is for errors.
          await client.query("ROLLBACK").catch(() => {});
          throw err;
        }
      }),
    );
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

// ---------------------------------------------------------------- PGlite (embedded)

// RESET ALL and DEALLOCATE ALL may run inside the request's transaction (unlike DISCARD ALL).
const PGLITE_RESET_SQL = "RESET ALL; DEALLOCATE ALL";

type PgliteRaw = {
  rows: (string | null)[][];
  fields: { name: string; dataTypeID: number }[];
  affectedRows?: number;
  command?: string;
  rowCount?: number;
};

export class PgliteBackend implements SqlBackend {
  readonly kind = "pglite" as const;
  readonly description: string;
  readonly db: PGlite;
  // PGlite parses values by OID unless told otherwise; we want Postgres' own text, untouched.
  private rawParsers: Record<number, (v: string) => string> = {};

  private constructor(db: PGlite, dataDir: string | undefined) {
    this.db = db;
    this.description = dataDir ? `PGlite (embedded, ${dataDir})` : "PGlite (embedded, in memory)";
  }

  static async open(dataDir?: string): Promise<PgliteBackend> {
    const db = await PGlite.create(dataDir ? { dataDir } : {});
    const backend = new PgliteBackend(db, dataDir);
    await backend.refreshParsers();
    return backend;
  }

  private async refreshParsers(q: Pick<PGlite, "query"> = this.db): Promise<void> {
    const r = await q.query<{ oid: number }>("select oid::int as oid from pg_type");
    for (const { oid } of r.rows) this.rawParsers[oid] = (v) => v;
  }

  private toResult(r: PgliteRaw): QueryResult {
    const command = r.command ?? "";
    const rowCount =
      r.rowCount ?? (command === "SELECT" ? r.rows.length : (r.affectedRows ?? null));
    return {
      command,
      rowCount,
      fields: r.fields.map((f) => field(f.name, f.dataTypeID)),
      rows: r.rows,
      rowAsArray: true,
    };
  }

  private async run(
    q: Pick<PGlite, "query">,
    text: string,
    params: unknown[],
  ): Promise<QueryResult> {
    const r = (await q.query(text, params, {
      rowMode: "array",
      parsers: this.rawParsers,
    })) as unknown as PgliteRaw;
    const result = this.toResult(r);
    // Types created after start (enums, domains) would otherwise be parsed by PGlite.
    if (result.fields.some((f) => this.rawParsers[f.dataTypeID] === undefined)) {
      // On the caller's connection: inside a transaction, `this.db` would wait for it forever.
      await this.refreshParsers(q);
    }
    return result;
  }

  /**
   * PGlite runs one statement at a time on its single connection and cannot cancel one that is
   * running; what it can do is check between statements (and before COMMIT) whether the client
   * went away, and roll back if it did. Each request ends with the connection's state reset (in
   * the same transaction, so only a committed request's reset counts and no other request runs in
   * between), as Neon resets a pooled connection.
   */
  private exclusive<T>(
    signal: AbortSignal | undefined,
    work: (tx: Transaction, check: () => Promise<void>) => Promise<T>,
    modes = "",
  ): Promise<T> {
    const check = async () => {
      // PGlite's work does not yield to I/O: let a pending client disconnect be seen first (one
      // full turn of the event loop, through its poll phase, takes two immediates).
      if (signal) for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
      if (signal?.aborted) throw new CancelledError();
    };
    return this.db.transaction(async (tx) => {
      if (modes) await tx.query(`SET TRANSACTION ${modes}`);
      await check();
      const result = await work(tx, check);
      await tx.exec(PGLITE_RESET_SQL);
      await check();
      return result;
    });
  }

  async query(stmt: Statement, signal?: AbortSignal): Promise<QueryResult> {
    return this.exclusive(signal, (tx) => this.run(tx, stmt.query, stmt.params));
  }

  async batch(stmts: Statement[], opts: BatchOptions): Promise<QueryResult[]> {
    return this.exclusive(
      opts.signal,
      async (tx, check) => {
        const results: QueryResult[] = [];
        for (const [i, stmt] of stmts.entries()) {
          if (i > 0) await check();
          const failing = i === opts.failAtIndex;
          results.push(
            await this.run(tx, failing ? FAULT_SQL : stmt.query, failing ? [] : stmt.params),
          );
        }
        if (opts.stallBeforeCommit) await untilAborted(opts.signal, STALL_LIMIT_MS);
        return results;
      },
      transactionModes(opts),
    );
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

/**
 * PostgreSQL when a connection string is given, else PGlite (in memory, or persisted in dataDir).
 * `statements` (PostgreSQL only; default: LOCAL_SQL_STATEMENTS, else "named") is StatementMode;
 * PGlite always prepares unnamed statements.
 */
export async function openBackend(opts: {
  databaseUrl?: string;
  dataDir?: string;
  poolSize?: number;
  statements?: StatementMode;
}): Promise<SqlBackend> {
  if (opts.databaseUrl) {
    const mode = opts.statements ?? statementModeFromEnv() ?? "named";
    return new PostgresBackend(opts.databaseUrl, opts.poolSize, mode);
  }
  return PgliteBackend.open(opts.dataDir);
}
