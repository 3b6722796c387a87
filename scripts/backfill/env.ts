// The backfill's and resync's own settings (the database ones are lib/env.ts getDbEnv). Read here
// rather than through getWebhookEnv, which requires the webhook's signing secret.
import { z } from "zod";
import { type Db, getDb } from "../../lib/db.js";
import { ConfigError } from "../../lib/env.js";

const schema = z.object({
  CLERK_SECRET_KEY: z.string().trim().min(1, "required"),
  // Tests and the local stand-in only; @clerk/backend's default is https://api.clerk.com.
  CLERK_API_URL: z.url({ protocol: /^https?$/ }).optional(),
  DEFAULT_TURMA: z.string().trim().min(1).default("neon_estrutura"),
});
export type ScriptEnv = z.infer<typeof schema>;

export function getScriptEnv(env: NodeJS.ProcessEnv = process.env): ScriptEnv {
  const raw = Object.fromEntries(
    Object.keys(schema.shape).map((k) => [k, env[k] === "" ? undefined : env[k]]),
  );
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    // Names the variables, never their values.
    throw new ConfigError([...new Set(parsed.error.issues.map((i) => String(i.path[0] ?? "env")))]);
  }
  return parsed.data;
}

/**
 * The script's settings and its database, or undefined after telling `report` which variables are
 * missing or invalid (names only, never values).
 */
export function scriptConfig(
  command: string,
  report: (line: string) => void,
): { env: ScriptEnv; db: Db } | undefined {
  try {
    return { env: getScriptEnv(), db: getDb() };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    report(`${command}: ${e.message}`);
    return undefined;
  }
}
