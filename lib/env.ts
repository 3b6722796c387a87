import { z } from "./zod.js";

/**
 * Configuration, validated with zod at first use. Each group is parsed once per instance and
 * re-parsed only when one of its variables changes (a cheap compare), so the dev server and
 * tests may change env between requests. Errors name the variables, never their values.
 */
export class ConfigError extends Error {
  readonly variables: string[];
  constructor(variables: string[]) {
    super(`invalid or missing configuration: ${variables.join(", ")}`);
    this.name = "ConfigError";
    this.variables = variables;
  }
}

function envGroup<S extends z.ZodMiniType>(keys: readonly string[], schema: S): () => z.infer<S> {
  // The values last parsed ("" counts as unset). A warm call only reads and compares them: it
  // allocates nothing (this runs on every webhook request).
  let seen: (string | undefined)[] | undefined;
  let cached: z.infer<S> | ConfigError | undefined;
  const read = (k: string) => {
    const v = process.env[k];
    return v === "" ? undefined : v;
  };
  return () => {
    let changed = seen === undefined || cached === undefined;
    for (let i = 0; !changed && i < keys.length; i++) changed = read(keys[i]!) !== seen![i];
    if (changed) {
      const values = keys.map(read);
      const raw = Object.fromEntries(keys.map((k, i) => [k, values[i]]));
      const parsed = schema.safeParse(raw);
      cached = parsed.success
        ? parsed.data
        : new ConfigError([...new Set(parsed.error.issues.map((i) => String(i.path[0] ?? "env")))]);
      seen = values;
    }
    if (cached instanceof ConfigError) throw cached;
    return cached as z.infer<S>;
  };
}

/**
 * `whsec_` and padded base64, exactly what svix can decode: a secret svix would refuse (bad
 * padding, a stray `=`) is caught here, so the webhook and /api/health agree without loading svix.
 */
const SIGNING_SECRET =
  /^whsec_(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$/;

/** CLERK_WEBHOOK_SIGNING_SECRET's rule, shared with `npm run dev`'s start-up check. */
export const webhookSecretList = z.pipe(
  z.pipe(
    z.string().check(z.trim()),
    z.transform((s: string) => s.split(/[\s,]+/).filter(Boolean)),
  ),
  z
    .array(z.string().check(z.regex(SIGNING_SECRET, "must be whsec_<base64>")))
    .check(z.minLength(1)),
);

/** A trimmed, non-empty text with a default (DEFAULT_TURMA). */
const textWithDefault = (value: string) =>
  z._default(z.string().check(z.trim(), z.minLength(1)), value);

/** An http(s) URL (overrides for tests and the local stand-ins). */
const httpUrl = () => z.url({ protocol: /^https?$/ });

/** What every database user needs: the function, the cron jobs, migrations and scripts. */
export const getDbEnv = envGroup(
  ["DATABASE_URL", "NEON_LOCAL_FETCH_ENDPOINT", "VERCEL_ENV", "SQL_TIMEOUT_MS"],
  z
    .object({
      DATABASE_URL: z
        .string()
        .check(
          z.trim(),
          z.regex(/^postgres(ql)?:\/\/\S+$/, "must be a postgres:// connection string"),
        ),
      // Local-only: points the Neon HTTP driver at scripts/local/sql-endpoint.ts instead of Neon.
      NEON_LOCAL_FETCH_ENDPOINT: z.optional(z.url()),
      VERCEL_ENV: z.optional(z.string()),
      // The deadline of every SQL HTTP request, in ms. Svix gives up on a webhook after 15 s: the
      // default leaves room for verification and the answer, and a request that hits it is
      // aborted (Neon then cancels and rolls it back) and answered 503 for Svix to redeliver.
      SQL_TIMEOUT_MS: z._default(z.coerce.number().check(z.int(), z.gte(100), z.lte(14_000)), 8000),
    })
    .check(
      z.refine((e) => !(e.VERCEL_ENV === "production" && e.NEON_LOCAL_FETCH_ENDPOINT), {
        message: "NEON_LOCAL_FETCH_ENDPOINT must not be set in production",
        path: ["NEON_LOCAL_FETCH_ENDPOINT"],
      }),
    ),
);

/** The webhook's own settings. */
export const getWebhookEnv = envGroup(
  ["CLERK_WEBHOOK_SIGNING_SECRET", "DEFAULT_TURMA"],
  z.object({
    // Several secrets (space or comma separated) let a secret be rotated without dropping events.
    CLERK_WEBHOOK_SIGNING_SECRET: webhookSecretList,
    DEFAULT_TURMA: textWithDefault("neon_estrutura"),
  }),
);

/** The cron functions' shared secret: Vercel Cron sends `Authorization: Bearer $CRON_SECRET`. */
export const getCronEnv = envGroup(
  ["CRON_SECRET"],
  z.object({
    // Vercel recommends a random string of at least 16 characters.
    CRON_SECRET: z.string().check(z.trim(), z.minLength(16, "must be at least 16 characters")),
  }),
);

const emailFrom = z
  .string()
  .check(
    z.trim(),
    z.regex(
      /^(?:[^<>\r\n]*<[^\s<>@]+@[^\s<>@]+\.[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+\.[^\s<>@]+)$/,
      'must be "Name <address@domain>" or "address@domain"',
    ),
  );

/** Used when EMAIL_PROVIDER=log and EMAIL_FROM is unset: the log provider sends nothing. */
export const LOG_PROVIDER_DEFAULT_FROM = "Mentoria <boas-vindas@example.com>";

function emailProvider(e: {
  EMAIL_PROVIDER?: "resend" | "log" | undefined;
  RESEND_API_KEY?: string | undefined;
  VERCEL_ENV?: string | undefined;
}): "resend" | "log" {
  return e.EMAIL_PROVIDER ?? (e.RESEND_API_KEY || e.VERCEL_ENV === "production" ? "resend" : "log");
}

export type EmailEnv =
  | {
      provider: "resend";
      apiKey: string;
      apiUrl: string;
      from: string;
      maxAttempts: number;
      sendsPerSecond: number;
    }
  | { provider: "log"; from: string; maxAttempts: number; sendsPerSecond: number };

/**
 * The welcome-email dispatcher's settings. The provider is EMAIL_PROVIDER when set; otherwise
 * `resend` when RESEND_API_KEY is set, else `log` — except in production (VERCEL_ENV=production),
 * where a missing RESEND_API_KEY is a configuration error (500, nothing is claimed, rows stay
 * pending) rather than a silent switch to a provider that sends nothing. `log` is refused in
 * production, and so is the RESEND_API_URL override (tests and the local stand-in only).
 */
export const getEmailEnv = envGroup(
  [
    "EMAIL_PROVIDER",
    "RESEND_API_KEY",
    "EMAIL_FROM",
    "RESEND_API_URL",
    "EMAIL_MAX_ATTEMPTS",
    "EMAIL_SENDS_PER_SECOND",
    "VERCEL_ENV",
  ],
  z.pipe(
    z
      .object({
        EMAIL_PROVIDER: z.optional(z.enum(["resend", "log"])),
        RESEND_API_KEY: z.optional(
          z.string().check(z.trim(), z.regex(/^re_\S{8,}$/, "must look like re_<key>")),
        ),
        EMAIL_FROM: z.optional(emailFrom),
        RESEND_API_URL: z.optional(httpUrl()),
        EMAIL_MAX_ATTEMPTS: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(50)), 8),
        // Resend's default rate limit per team is 2 requests a second (5 on newer accounts): 2 fits both.
        EMAIL_SENDS_PER_SECOND: z._default(z.coerce.number().check(z.positive(), z.lte(1000)), 2),
        VERCEL_ENV: z.optional(z.string()),
      })
      .check(
        z.superRefine((e, ctx) => {
          const production = e.VERCEL_ENV === "production";
          const provider = emailProvider(e);
          const fail = (variable: string, message: string) =>
            ctx.addIssue({ code: "custom", path: [variable], message });
          if (production && provider === "log")
            fail("EMAIL_PROVIDER", "log is refused in production");
          if (production && e.RESEND_API_URL)
            fail("RESEND_API_URL", "must not be set in production");
          if (provider === "resend") {
            if (!e.RESEND_API_KEY) fail("RESEND_API_KEY", "required by the resend provider");
            if (!e.EMAIL_FROM) fail("EMAIL_FROM", "required by the resend provider");
          }
        }),
      ),
    z.transform((e): EmailEnv => {
      const provider = emailProvider(e);
      const common = {
        maxAttempts: e.EMAIL_MAX_ATTEMPTS,
        sendsPerSecond: e.EMAIL_SENDS_PER_SECOND,
      };
      if (provider === "resend") {
        return {
          provider,
          apiKey: e.RESEND_API_KEY ?? "",
          apiUrl: (e.RESEND_API_URL ?? "https://api.resend.com").replace(/\/+$/, ""),
          from: e.EMAIL_FROM ?? "",
          ...common,
        };
      }
      return { provider, from: e.EMAIL_FROM ?? LOG_PROVIDER_DEFAULT_FROM, ...common };
    }),
  ),
);

// @clerk/backend turns CLERK_JWT_KEY into a key by cutting text: it strips the PEM armour, then
// this exact SPKI prefix and the exponent suffix of an RSA-2048 key, and takes what is left as the
// modulus. Any other key would verify nothing (every token 401), so such a key is refused here.
const PEM_HEADER = "-----BEGIN PUBLIC KEY-----";
const PEM_TRAILER = "-----END PUBLIC KEY-----";
const RSA_2048_SPKI = /^MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA[A-Za-z0-9+/]{342}IDAQAB$/;

const jwtKey = z.pipe(
  z.pipe(
    z.string().check(z.trim()),
    // The one-line form people paste (`\n` escapes, as Clerk's own docs show it) -> real newlines;
    // surrounding quotes kept by a hand-made .env file are dropped.
    z.transform((s: string) =>
      s
        .replace(/^"(.*)"$/s, "$1")
        .replace(/\\r\\n|\\n/g, "\n")
        .replace(/\r\n/g, "\n")
        .trim(),
    ),
  ),
  z.string().check(
    z.refine((pem) => {
      if (!pem.startsWith(PEM_HEADER) || !pem.endsWith(PEM_TRAILER)) return false;
      const body = pem.slice(PEM_HEADER.length, -PEM_TRAILER.length).replace(/\s/g, "");
      return RSA_2048_SPKI.test(body);
    }, "must be the PEM public key (-----BEGIN PUBLIC KEY-----) of an RSA-2048 key"),
  ),
);

const origins = z.pipe(
  z.pipe(
    z.string().check(z.trim()),
    z.transform((s: string) => s.split(/[\s,]+/).filter(Boolean)),
  ),
  z.array(
    z.string().check(
      z.refine((o) => {
        try {
          return new URL(o).origin === o;
        } catch {
          return false;
        }
      }, "must be origins such as https://app.example.com (scheme, host, optional port)"),
    ),
  ),
);

/**
 * GET /api/me's token settings: CLERK_JWT_KEY verifies session tokens with no network call;
 * CLERK_AUTHORIZED_PARTIES (comma separated origins) is what `azp` must be, and the only origins
 * CORS answers to. The Clerk secret key is never needed to verify a token.
 */
export const getSessionEnv = envGroup(
  ["CLERK_JWT_KEY", "CLERK_AUTHORIZED_PARTIES"],
  z.object({
    CLERK_JWT_KEY: jwtKey,
    CLERK_AUTHORIZED_PARTIES: z._default(origins, []),
  }),
);

/** Clerk's Backend API, for syncing a user on demand (GET /v1/users/{id}). */
export const getClerkApiEnv = envGroup(
  ["CLERK_SECRET_KEY", "CLERK_API_URL", "DEFAULT_TURMA"],
  z.object({
    CLERK_SECRET_KEY: z.string().check(z.trim(), z.minLength(1, "required")),
    // Tests and the local stand-in only; Clerk's own is the default.
    CLERK_API_URL: z.pipe(
      z.optional(httpUrl()),
      z.transform((u: string | undefined) => (u ?? "https://api.clerk.com").replace(/\/+$/, "")),
    ),
    DEFAULT_TURMA: textWithDefault("neon_estrutura"),
  }),
);
