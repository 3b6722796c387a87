// Summarises a V8 .cpuprofile (node --cpu-prof): where the process spent its CPU, by area
// (our code, each package, Node internals, GC) and by function, self and inclusive.
// Standalone: npx tsx bench/profile.ts bench/results/profiles/<file>.cpuprofile
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  byArea: { area: string; ms: number; pct: number }[];
  topSelf: { fn: string; ms: number; pct: number }[];
  ourInclusive: { fn: string; ms: number; pct: number }[];
}

function area(url: string, fn: string): string {
  if (!url) {
    if (fn === "(garbage collector)") return "GC";
    if (fn === "(idle)") return "(idle)";
    if (fn === "(program)") return "(program: V8/native)";
    return `native: ${fn || "(anonymous)"}`;
  }
  if (url.startsWith("node:")) {
    if (url.includes("internal/deps/undici")) return "node: undici (fetch)";
    if (/http|net|stream|_http/.test(url)) return "node: http/net/streams";
    return "node: other internals";
  }
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split("/");
    return `pkg: ${rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  // Compiled copies live under bench/results/.build/: classify them by their own folder.
  const m = /\/(api|lib|bench|scripts|drizzle)\//.exec(url.replace(/^.*\/\.build\//, "/"));
  return m ? `ours: ${m[1]}/` : "other";
}

function label(f: CallFrame): string {
  const file = f.url
    .replace(/^.*\/\.build\//, "")
    .replace(/^.*\/node_modules\//, "")
    .replace(/^file:\/\/.*?\/(api|lib|bench)\//, "$1/");
  return `${f.functionName || "(anonymous)"} ${file}:${f.lineNumber + 1}`;
}

export function summarize(path: string, top = 20): ProfileSummary {
  const p = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + dt);
  }
  const inclusive = new Map<number, number>();
  const incl = (id: number): number => {
    const cached = inclusive.get(id);
    if (cached !== undefined) return cached;
    const n = byId.get(id)!;
    let t = self.get(id) ?? 0;
    for (const c of n.children ?? []) t += incl(c);
    inclusive.set(id, t);
    return t;
  };
  // Iterative-enough: profiles are shallow compared with the stack limit.
  for (const n of p.nodes) incl(n.id);

  let idleMs = 0;
  let totalMs = 0;
  const areas = new Map<string, number>();
  const selfByFn = new Map<string, number>();
  for (const [id, ms] of self) {
    const f = byId.get(id)!.callFrame;
    const a = area(f.url, f.functionName);
    if (a === "(idle)") {
      idleMs += ms;
      continue;
    }
    totalMs += ms;
    areas.set(a, (areas.get(a) ?? 0) + ms);
    const key = label(f);
    selfByFn.set(key, (selfByFn.get(key) ?? 0) + ms);
  }
  // Inclusive time of our own functions, counted once per function even when it recurses.
  const ours = new Map<string, number>();
  const walk = (id: number, onStack: Set<string>): void => {
    const n = byId.get(id)!;
    const a = area(n.callFrame.url, n.callFrame.functionName);
    const key = label(n.callFrame);
    let next = onStack;
    if (a.startsWith("ours: lib/") || a.startsWith("ours: api/")) {
      if (!onStack.has(key)) {
        ours.set(key, (ours.get(key) ?? 0) + (inclusive.get(id) ?? 0));
        next = new Set(onStack).add(key);
      }
    }
    for (const c of n.children ?? []) walk(c, next);
  };
  walk(p.nodes[0]!.id, new Set());

  const pct = (ms: number) => Math.round((ms / totalMs) * 1000) / 10;
  const sorted = (m: Map<string, number>, k: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([name, ms]) => ({ name, ms: Math.round(ms * 10) / 10, pct: pct(ms) }));
  return {
    totalMs: Math.round(totalMs),
    idleMs: Math.round(idleMs),
    byArea: sorted(areas, 30).map(({ name, ms, pct }) => ({ area: name, ms, pct })),
    topSelf: sorted(selfByFn, top).map(({ name, ms, pct }) => ({ fn: name, ms, pct })),
    ourInclusive: sorted(ours, top).map(({ name, ms, pct }) => ({ fn: name, ms, pct })),
  };
}

export function printSummary(s: ProfileSummary, events?: number): void {
  const per = (ms: number) => (events ? ` ${(ms / events).toFixed(3)} ms/event` : "");
  console.log(`\nCPU profile: ${s.totalMs} ms busy, ${s.idleMs} ms idle${per(s.totalMs)}`);
  console.log("  by area (self time):");
  for (const a of s.byArea)
    console.log(
      `    ${a.pct.toFixed(1).padStart(5)}%  ${a.ms.toFixed(0).padStart(6)} ms  ${a.area}`,
    );
  console.log("  top functions (self time):");
  for (const f of s.topSelf) console.log(`    ${f.pct.toFixed(1).padStart(5)}%  ${f.fn}`);
  console.log("  our functions (inclusive, synchronous parts):");
  for (const f of s.ourInclusive) console.log(`    ${f.pct.toFixed(1).padStart(5)}%  ${f.fn}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: tsx bench/profile.ts <file.cpuprofile> [events]");
    process.exit(2);
  }
  printSummary(summarize(file, 25), process.argv[3] ? Number(process.argv[3]) : undefined);
}
