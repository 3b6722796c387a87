// What /api/health reports about configuration: the variables that keep a part of the service
// from working in this deployment, by name only (never a value). No I/O: the env groups of
// lib/env.ts are parsed (and cached) exactly as the functions themselves parse them.
import {
  ConfigError,
  getClerkApiEnv,
  getCronEnv,
  getEmailEnv,
  getSessionEnv,
  getWebhookEnv,
} from "./env.js";

function problems(read: () => unknown): string[] {
  try {
    read();
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.variables;
    throw err;
  }
}

/**
 * Everywhere: the webhook must be able to verify signatures (CLERK_WEBHOOK_SIGNING_SECRET).
 * Where GET /api/me is in use (its key or its origins are set): it must be able to verify tokens
 * and sync on demand, or it answers 500 to every call (CLERK_JWT_KEY, CLERK_SECRET_KEY, …).
 * In production (VERCEL_ENV=production), where Vercel Cron runs: the sweeper must be able to run
 * (CRON_SECRET) and send (the email provider's settings, which production requires).
 */
export function misconfiguredVariables(): string[] {
  const names = [...problems(getWebhookEnv)];
  if (process.env.CLERK_JWT_KEY || process.env.CLERK_AUTHORIZED_PARTIES) {
    names.push(...problems(getSessionEnv), ...problems(getClerkApiEnv));
  }
  if (process.env.VERCEL_ENV === "production") {
    names.push(...problems(getCronEnv), ...problems(getEmailEnv));
  }
  return [...new Set(names)];
}
