// Captures every log line the app writes during a test file (console.log / console.error), keeps
// them out of the test output, and lets tests assert what was logged.
export const captured: string[] = [];
/** Strings that must never be logged: test emails, names, secrets. Tests add theirs. */
export const sensitive = new Set<string>();

const original = { log: console.log, error: console.error, warn: console.warn };

export function startCapture(): void {
  for (const k of ["log", "error", "warn"] as const) {
    console[k] = (...args: unknown[]) => {
      captured.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
    };
  }
}

export function stopCapture(): void {
  Object.assign(console, original);
}

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/;

/** Lines that leak an email address or a registered sensitive string. */
export function leaks(): string[] {
  return captured.filter(
    (line) => EMAIL.test(line) || [...sensitive].some((s) => line.includes(s)),
  );
}
