// Ctrl-C for a long run: the first press asks for a clean stop (the caller stops after the current
// page), a second press quits at once.
//
// One press reaches the process more than once: a terminal signals its whole foreground process
// group (npm, the shell, node), and npm forwards its own SIGINT to its child as well; tsx's CLI,
// when it runs the script, forwards another and, if the child has not acknowledged it within
// ~30 ms (a busy event loop), a third, then SIGKILL. That is why `npm run backfill` runs node
// with `--import tsx` (no tsx parent process), and why SIGINTs closer together than SAME_PRESS_MS
// count as the press already being handled: a person's second press comes later than that.
export const SAME_PRESS_MS = 1000;

export interface CtrlC {
  /** Whether a first press asked for a stop. */
  readonly requested: boolean;
  dispose(): void;
}

export function handleCtrlC(handlers: { first: () => void; again: () => void }): CtrlC {
  let firstAt: number | null = null;
  const onSigint = () => {
    const now = performance.now();
    if (firstAt === null) {
      firstAt = now;
      handlers.first();
    } else if (now - firstAt >= SAME_PRESS_MS) {
      handlers.again();
    }
  };
  process.on("SIGINT", onSigint);
  return {
    get requested() {
      return firstAt !== null;
    },
    dispose: () => {
      process.off("SIGINT", onSigint);
    },
  };
}
