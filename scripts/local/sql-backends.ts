// The two Postgres backends behind the local SQL-over-HTTP endpoint: embedded PGlite (default, no
// server needed) and a real PostgreSQL server through a pg Pool (real concurrency, real locks).
// Both return values as raw Postgres text with their type OIDs, as Neon's /sql endpoint does, so the
// Neon driver parses them on the client exactly as it does in production.
import { PGlite } from "@electric-sql/pglite";
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
}

export interface SqlBackend {
  readonly kind: "pglite" | "postgres";
  readonly description: string;
  query(stmt: Statement): Promise<QueryResult>;
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

// Statements with parameters run as named prepared statements: each pooled connection parses and
// plans a given text once and reuses the plan, as a long-lived server-side connection does. (The
// app sends the same few statement texts over and over; re-planning them was the biggest share of
// PostgreSQL's CPU in the bench.)
const statementNames = new Map<string, string>();
function statementName(text: string, params: unknown[]): string | undefined {
  if (params.length === 0) return undefined;
  let name = statementNames.get(text);
  if (name === undefined) {
    if (statementNames.size > 10_000) return undefined;
    name = `s${statementNames.size + 1}`;
    statementNames.set(text, name);
  }
  return name;
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

export class PostgresBackend implements SqlBackend {
  readonly kind = "postgres" as const;
  readonly description: string;
  readonly pool: pg.Pool;

  constructor(connectionString: string, poolSize = 20) {
    this.pool = new pg.Pool({ connectionString, max: poolSize });
    // An idle client that loses its connection must not crash the process hosting the endpoint.
    this.pool.on("error", () => {});
    const u = new URL(connectionString);
    this.description = `PostgreSQL ${u.hostname}:${u.port || 5432}${u.pathname}`;
  }

  async query(stmt: Statement): Promise<QueryResult> {
    const r = await this.pool.query({
      name: statementName(stmt.query, stmt.params),
      text: stmt.query,
      values: stmt.params,
      rowMode: "array",
      types: rawTypes,
    });
    return fromPg(r);
  }

  async batch(stmts: Statement[], opts: BatchOptions): Promise<QueryResult[]> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query(`BEGIN ${transactionModes(opts)}`);
      const results: QueryResult[] = [];
      for (const [i, stmt] of stmts.entries()) {
        const text = i === opts.failAtIndex ? FAULT_SQL : stmt.query;
        const values = i === opts.failAtIndex ? [] : stmt.params;
        const r = await client.query({
          name: statementName(text, values),
          text,
          values,
          rowMode: "array",
          types: rawTypes,
        });
        results.push(fromPg(r));
      }
      await client.query("COMMIT");
      return results;
    } catch (err) {
      try {
        await client.query("ROLLBACK");
      } catch {
        broken = true;
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

// ---------------------------------------------------------------- PGlite (embedded)

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

  private async refreshParsers(): Promise<void> {
    const r = await this.db.query<{ oid: number }>("select oid::int as oid from pg_type");
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
      await this.refreshParsers();
    }
    return result;
  }

  async query(stmt: Statement): Promise<QueryResult> {
    return this.run(this.db, stmt.query, stmt.params);
  }

  async batch(stmts: Statement[], opts: BatchOptions): Promise<QueryResult[]> {
    // PGlite's transaction() holds its single connection exclusively and rolls back on throw.
    return this.db.transaction(async (tx) => {
      const modes = transactionModes(opts);
      if (modes) await tx.query(`SET TRANSACTION ${modes}`);
      const results: QueryResult[] = [];
      for (const [i, stmt] of stmts.entries()) {
        const failing = i === opts.failAtIndex;
        results.push(
          await this.run(tx, failing ? FAULT_SQL : stmt.query, failing ? [] : stmt.params),
        );
      }
      return results;
    });
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

/** PostgreSQL when a connection string is given, else PGlite (in memory, or persisted in dataDir). */
export async function openBackend(opts: {
  databaseUrl?: string;
  dataDir?: string;
  poolSize?: number;
}): Promise<SqlBackend> {
  if (opts.databaseUrl) return new PostgresBackend(opts.databaseUrl, opts.poolSize);
  return PgliteBackend.open(opts.dataDir);
}
