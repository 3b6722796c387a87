// The growth table: how ours and the baseline cost as the tables grow (bench/preload.ts), per RTT.
// PostgreSQL CPU per event is what a Neon bill follows (compute time); WAL per event is what every
// write costs in storage and replication; events/s is the whole stack on a shared machine.

export interface GrowthPoint {
  variant: string;
  rttMs: number;
  concurrency: number;
  preload: number;
  eventsPerSec: number;
  postgresBackendCpuMsPerEvent: number | null;
  postgresPlanMsPerEvent: number | null;
  postgresExecMsPerEvent: number | null;
  walBytesPerEvent: number | null;
}

const fmt = (x: number | null | undefined, d: number) =>
  x === null || x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(d);
const ratio = (x: number | null | undefined, y: number | null | undefined) =>
  x === null || x === undefined || y === null || y === undefined || y === 0 ? null : x / y;

function render(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join("  ");
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** The table and the "largest vs smallest" flatness lines; undefined with fewer than 2 sizes. */
export function growth(
  results: GrowthPoint[],
  rtts: number[],
  preloads: number[],
): string | undefined {
  const sizes = [...new Set(preloads)].sort((x, y) => x - y);
  if (sizes.length < 2) return undefined;
  const at = (v: string, rtt: number, p: number) =>
    results.find((r) => r.variant === v && r.rttMs === rtt && r.preload === p);
  const head = [
    "RTT",
    "C",
    "preload",
    "PG CPU ours",
    "PG CPU naive",
    "ours/naive",
    "plan/exec ours",
    "plan/exec naive",
    "WAL B ours",
    "WAL B naive",
    "ours/naive",
    "ev/s ours",
    "ev/s naive",
    "ours/naive",
  ];
  const rows: string[][] = [];
  const flat: string[] = [];
  const split = (r: GrowthPoint | undefined) =>
    r?.postgresExecMsPerEvent === null || r === undefined
      ? "n/a"
      : `${fmt(r.postgresPlanMsPerEvent, 2)}/${fmt(r.postgresExecMsPerEvent, 2)}`;
  for (const rtt of rtts) {
    for (const p of sizes) {
      const o = at("ours", rtt, p);
      const b = at("baseline", rtt, p);
      if (!o && !b) continue;
      rows.push([
        String(rtt),
        String(o?.concurrency ?? b?.concurrency ?? "-"),
        p.toLocaleString("en-US"),
        fmt(o?.postgresBackendCpuMsPerEvent, 3),
        fmt(b?.postgresBackendCpuMsPerEvent, 3),
        fmt(ratio(o?.postgresBackendCpuMsPerEvent, b?.postgresBackendCpuMsPerEvent), 2),
        split(o),
        split(b),
        fmt(o?.walBytesPerEvent, 0),
        fmt(b?.walBytesPerEvent, 0),
        fmt(ratio(o?.walBytesPerEvent, b?.walBytesPerEvent), 2),
        fmt(o?.eventsPerSec, 0),
        fmt(b?.eventsPerSec, 0),
        fmt(ratio(o?.eventsPerSec, b?.eventsPerSec), 2),
      ]);
    }
    const lo = sizes[0]!;
    const hi = sizes[sizes.length - 1]!;
    for (const v of ["ours", "baseline"]) {
      const x = at(v, rtt, lo);
      const y = at(v, rtt, hi);
      if (!x || !y) continue;
      flat.push(
        `flatness ${v} at RTT ${rtt}, ${hi.toLocaleString("en-US")} vs ${lo.toLocaleString("en-US")}: PG CPU/event x${fmt(ratio(y.postgresBackendCpuMsPerEvent, x.postgresBackendCpuMsPerEvent), 2)}, WAL/event x${fmt(ratio(y.walBytesPerEvent, x.walBytesPerEvent), 2)}, events/s x${fmt(ratio(y.eventsPerSec, x.eventsPerSec), 2)}`,
      );
    }
  }
  return [
    "growth (preload = users, profiles and ledger rows already in the tables, analyzed; PG CPU ms/event, plan/exec = pg_stat_statements ms/event, WAL bytes/event of the whole server):",
    render(head, rows),
    ...flat,
  ].join("\n");
}
