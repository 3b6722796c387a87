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
// Random opaque ids (svix `msg_…`, Clerk `user_…`, `idn_…`) are base62 and long enough to contain
// any short name by chance ("msg_9l2cVcAnaHGs…" holds "Ana"): short sensitive strings are
// looked for in the line with such ids blanked out. Secrets are long and are checked on the raw
// line, so an id-shaped secret cannot hide behind this.
const OPAQUE_ID = /\b[a-z]{2,8}_[A-Za-z0-9]{16,}\b/g;
const SHORT = 16;

/** Lines that leak an email address or a registered sensitive string. */
export function leaks(): string[] {
  return findLeaks(captured, sensitive);
}

export function findLeaks(lines: readonly string[], secrets: Iterable<string>): string[] {
  const strings = [...secrets];
  return lines.filter((line) => {
    if (EMAIL.test(line)) return true;
    const withoutIds = line.replace(OPAQUE_ID, "<id>");
    return strings.some((s) => (s.length < SHORT ? withoutIds : line).includes(s));
  });
}
