// What /api/health reports about configuration: the variables that keep a part of the service
// from working in this deployment, by name only (never a value). No I/O: the env groups of
// lib/env.ts are parsed (and cached) exactly as the functions themselves parse them.
import { ConfigError, getCronEnv, getEmailEnv, getWebhookEnv } from "./env.js";

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
 * In production (VERCEL_ENV=production), where Vercel Cron runs: the sweeper must be able to run
 * (CRON_SECRET) and send (the email provider's settings, which production requires).
 */
export function misconfiguredVariables(): string[] {
  const names = [...problems(getWebhookEnv)];
  if (process.env.VERCEL_ENV === "production") {
    names.push(...problems(getCronEnv), ...problems(getEmailEnv));
  }
  return [...new Set(names)];
}
