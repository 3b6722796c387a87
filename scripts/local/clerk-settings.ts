// The Clerk settings of `npm run dev` (and of `vercel dev`, which runs it), by one rule: the
// process environment (what a user exports, and what `vercel dev` passes from the project's
// Development settings) beats .env.local, which beats the local stand-ins. A setting that is set
// is used as it is, so a real Clerk development instance works on a laptop: its JWT key verifies
// its session tokens, and its secret key and API are called to sync a user on demand. Only an
// unset one gets the stand-in's value, as before. Local development only.
import { type Env, type SettingSource, settingSource } from "./dev-env.js";

/** What the stand-ins offer for the settings left unset. */
export interface ClerkStandIns {
  /** The local Clerk Backend API stand-in's URL and key. */
  apiUrl: string;
  secretKey: string;
  /** PEM public half of the local dev key that `npm run token` signs with (made on first use). */
  jwtKey: () => string;
  /** Where that key lives, for the banner. */
  jwtKeyFile: string;
}

export interface ClerkSetting {
  name: "CLERK_JWT_KEY" | "CLERK_SECRET_KEY" | "CLERK_API_URL" | "CLERK_AUTHORIZED_PARTIES";
  /** Configured (from the environment or .env.local), or not: a stand-in, a default, or nothing. */
  source: SettingSource | "stand-in" | "default" | "unset";
  /** One line for the banner, never the value (a URL is not a secret: it is shown). */
  describe: string;
}

export const CLERK_DEFAULT_API_URL = "https://api.clerk.com";

const from = (source: SettingSource) =>
  source === "environment" ? "from the environment" : "from .env.local";

/**
 * Decides each Clerk setting and writes the stand-ins' values into `env` for those left unset, so
 * the functions (which read only the environment) see the result. Returns what was decided, per
 * setting, for the banner.
 */
export function applyClerkSettings(
  standIns: ClerkStandIns,
  env: Env = process.env,
): ClerkSetting[] {
  const settings: ClerkSetting[] = [];

  const jwt = settingSource("CLERK_JWT_KEY", env);
  if (jwt) {
    settings.push({
      name: "CLERK_JWT_KEY",
      source: jwt,
      describe: `${from(jwt)}: GET /api/me verifies your Clerk instance's session tokens`,
    });
  } else {
    env.CLERK_JWT_KEY = standIns.jwtKey();
    settings.push({
      name: "CLERK_JWT_KEY",
      source: "stand-in",
      describe: `unset: the local dev key (${standIns.jwtKeyFile}), whose tokens npm run token signs`,
    });
  }

  const key = settingSource("CLERK_SECRET_KEY", env);
  const url = settingSource("CLERK_API_URL", env);
  if (key) {
    settings.push({
      name: "CLERK_SECRET_KEY",
      source: key,
      describe: `${from(key)}: sync on demand calls the Clerk API below with it`,
    });
  } else {
    env.CLERK_SECRET_KEY = standIns.secretKey;
    settings.push({
      name: "CLERK_SECRET_KEY",
      source: "stand-in",
      describe: url
        ? "unset: the local stand-in's key, which the CLERK_API_URL below will likely refuse"
        : "unset: the local Clerk API stand-in's key",
    });
  }
  if (url) {
    settings.push({
      name: "CLERK_API_URL",
      source: url,
      describe: `${env.CLERK_API_URL?.trim()} ${from(url)}`,
    });
  } else if (key) {
    // A real secret key with no URL is a real Clerk instance: its API, as in production.
    env.CLERK_API_URL = CLERK_DEFAULT_API_URL;
    settings.push({
      name: "CLERK_API_URL",
      source: "default",
      describe: `${CLERK_DEFAULT_API_URL} (unset: Clerk's own, for the configured CLERK_SECRET_KEY)`,
    });
  } else {
    env.CLERK_API_URL = standIns.apiUrl;
    settings.push({
      name: "CLERK_API_URL",
      source: "stand-in",
      describe: `${standIns.apiUrl} (unset: the local Clerk API stand-in)`,
    });
  }

  const parties = settingSource("CLERK_AUTHORIZED_PARTIES", env);
  settings.push({
    name: "CLERK_AUTHORIZED_PARTIES",
    source: parties ?? "unset",
    describe: parties
      ? `${env.CLERK_AUTHORIZED_PARTIES?.trim()} ${from(parties)}`
      : "unset: azp not checked, no CORS headers",
  });
  return settings;
}
