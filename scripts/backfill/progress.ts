// Progress on stderr (stdout is kept for the summary, or the JSON with --json): a cli-progress bar
// with counts, rate and ETA on a terminal; elsewhere (CI, logs, a pipe) one plain line at most every
// few seconds, and none for a run shorter than that.
import cliProgress from "cli-progress";

export interface ProgressView {
  update(p: { value: number; total: number; detail?: string }): void;
  /** A message that must not be garbled by the bar. */
  note(line: string): void;
  stop(): void;
}

function seconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 90) return `${Math.round(s)}s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
}

export function createProgress(opts: {
  label: string;
  /** Users already done before this process (resume): not part of the rate. */
  startValue?: number;
  stream?: NodeJS.WriteStream;
  quietEveryMs?: number;
}): ProgressView {
  const stream = opts.stream ?? process.stderr;
  const started = performance.now();
  const base = opts.startValue ?? 0;
  const rateOf = (value: number) => {
    const elapsed = (performance.now() - started) / 1000;
    return elapsed > 0 ? (value - base) / elapsed : 0;
  };

  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: `${opts.label} [{bar}] {percentage}% | {value}/{total} users | {rate}/s | ETA {eta_formatted} | {detail}`,
        barsize: 24,
        hideCursor: true,
        etaBuffer: 20,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    let started_ = false;
    return {
      update({ value, total, detail }) {
        const payload = { rate: Math.round(rateOf(value)), detail: detail ?? "" };
        if (!started_) {
          bar.start(Math.max(total, value, 1), value, payload);
          started_ = true;
        } else {
          bar.setTotal(Math.max(total, value, 1));
          bar.update(value, payload);
        }
      },
      note(line) {
        if (started_) {
          // Clear the bar's line, print, and let the next update redraw it.
          stream.write(`\r\x1b[2K${line}\n`);
        } else stream.write(`${line}\n`);
      },
      stop() {
        if (started_) bar.stop();
      },
    };
  }

  const every = opts.quietEveryMs ?? 5000;
  let last = performance.now();
  return {
    update({ value, total, detail }) {
      const now = performance.now();
      if (now - last < every) return;
      last = now;
      const rate = rateOf(value);
      const eta = rate > 0 ? (total - value) / rate : Number.POSITIVE_INFINITY;
      const pct = total > 0 ? Math.floor((100 * value) / total) : 100;
      stream.write(
        `${opts.label}: ${value}/${total} users (${pct}%), ${Math.round(rate)}/s, ETA ${seconds(eta)}` +
          `${detail ? `, ${detail}` : ""}\n`,
      );
    },
    note(line) {
      stream.write(`${line}\n`);
    },
    stop() {},
  };
}
