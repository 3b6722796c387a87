// Messages and figures shared by the bench's three processes:
//   A  bench/sql-server.ts       the local Neon SQL endpoint + its database (PostgreSQL or PGlite)
//   B  bench/function-server.ts  the function (api/webhooks/clerk.ts) and the baseline, over HTTP
//   C  bench/run.ts              the sender: builds signed events, sends them, checks the rows
// A and B are forked by C with an IPC channel; A is driven over IPC, B over HTTP (its /bench/*
// routes), so nothing but the measured requests reaches the function's HTTP server.

/** Options of process A, passed as its first argument (JSON). */
export interface SqlServerOptions {
  /** Admin URL of a PostgreSQL server: a fresh database is created on it and dropped at exit. */
  adminUrl?: string;
  poolSize: number;
  delayMs: number;
  /** How the PostgreSQL backend sends statements (scripts/local/sql-backends.ts StatementMode). */
  statements: "named" | "unnamed";
}

export interface SqlServerReady {
  type: "ready";
  sqlUrl: string;
  controlUrl: string;
  backend: string;
  backendKind: "pglite" | "postgres";
  /** Whether planning and execution time can be read (pg_stat_statements), and if not, why. */
  statementStats: { available: boolean; planning: boolean; note: string };
  /** The server's autovacuum setting ("on", "off"), null on PGlite: Neon runs it on. */
  autovacuum: string | null;
}

export type SqlServerRequest =
  | { id: number; op: "reset" }
  /** `preload`: users, profiles and ledger rows inserted first, as a live database holds them. */
  | { id: number; op: "seed"; emails: string[]; preload: number }
  | { id: number; op: "rows" }
  | { id: number; op: "stats" }
  | { id: number; op: "shutdown" };

export interface SqlServerReply {
  type: "reply";
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export interface ProcessStats {
  /** process.cpuUsage(), microseconds. */
  userUs: number;
  systemUs: number;
  rssBytes: number;
  /** process.resourceUsage().maxRSS: peak resident set since the process started, kilobytes. */
  maxRssKb: number;
}

export interface SqlServerStats extends ProcessStats {
  /** CPU of this database's PostgreSQL backends (from /proc), ms; null when not measurable. */
  pgBackendCpuMs: number | null;
  /** pg_current_wal_lsn() in bytes (the whole server's WAL, not only this database's). */
  walBytes: number | null;
  /** pg_stat_statements totals for this database, ms; null when not available. */
  planMs: number | null;
  execMs: number | null;
}

/** What process A returns for the final check. */
export interface Rows {
  users: { id: number; clerk_id: string; email: string | null; email_verified: boolean | null }[];
  mentorados: { id: number; user_id: number | null; email: string; origem: string }[];
  ledger: { svix_id: string; outcome: string }[];
  outbox: number;
}

/** GET /bench/stats on process B. */
export interface FunctionStats extends ProcessStats {
  /** Requests answered by the two measured routes. */
  handled: number;
  /** Sum over those requests of the time spent inside the handler (wall, ms). */
  handlerMs: number;
  /** Sum over the handler's SQL fetches of the time spent waiting for them (wall, ms). */
  sqlWaitMs: number;
  sqlFetches: number;
}

export interface FunctionServerReady {
  type: "ready";
  url: string;
}

export const BENCH_SECRET = "whsec_YmVuY2gtc2VjcmV0LWZvci1sb2NhbC1vbmx5IQ==";
/** Only its header reaches the local endpoint; there is no server behind it. */
export const BENCH_DATABASE_URL = "postgres://bench:bench@localhost:5432/bench";

export const ROUTES = {
  ours: "/api/webhooks/clerk",
  baseline: "/bench/baseline",
  floor: "/bench/floor",
} as const;
export type Variant = keyof typeof ROUTES;

/** GET /api/me, measured for users the webhook has already synced (its common case). */
export const ME_ROUTE = "/api/me";
/** The Clerk secret key /api/me's configuration requires; a synced user never reaches Clerk. */
export const BENCH_CLERK_SECRET_KEY = "sk_test_bench_local_only";
