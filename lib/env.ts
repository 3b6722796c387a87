import { z } from "zod";

/**
 * Configuration, validated with zod at first use. Each group is parsed once per instance and
 * re-parsed only when one of its variables changes (a cheap string compare), so the dev server and
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

function envGroup<S extends z.ZodType>(keys: readonly string[], schema: S): () => z.infer<S> {
  let cacheKey: string | undefined;
  let cached: z.infer<S> | ConfigError | undefined;
  return () => {
    const raw: Record<string, string | undefined> = {};
    for (const k of keys) {
      const v = process.env[k];
      raw[k] = v === "" ? undefined : v;
    }
    const key = keys.map((k) => raw[k] ?? "").join("\u0000");
    if (key !== cacheKey || cached === undefined) {
      const parsed = schema.safeParse(raw);
      cached = parsed.success
        ? parsed.data
        : new ConfigError([...new Set(parsed.error.issues.map((i) => String(i.path[0] ?? "env")))]);
      cacheKey = key;
    }
    if (cached instanceof ConfigError) throw cached;
    return cached as z.infer<S>;
  };
}

const secretList = z
  .string()
  .trim()
  .transform((s) => s.split(/[\s,]+/).filter(Boolean))
  .pipe(
    z.array(z.string().regex(/^whsec_[A-Za-z0-9+/=]+$/, "must look like whsec_<base64>")).min(1),
  );

/** What every database user needs: the function, the cron jobs, migrations and scripts. */
export const getDbEnv = envGroup(
  ["DATABASE_URL", "NEON_LOCAL_FETCH_ENDPOINT", "VERCEL_ENV"],
  z
    .object({
      DATABASE_URL: z
        .string()
        .trim()
        .regex(/^postgres(ql)?:\/\/\S+$/, "must be a postgres:// connection string"),
      // Local-only: points the Neon HTTP driver at scripts/local/sql-endpoint.ts instead of Neon.
      NEON_LOCAL_FETCH_ENDPOINT: z.url().optional(),
      VERCEL_ENV: z.string().optional(),
    })
    .refine((e) => !(e.VERCEL_ENV === "production" && e.NEON_LOCAL_FETCH_ENDPOINT), {
      message: "NEON_LOCAL_FETCH_ENDPOINT must not be set in production",
      path: ["NEON_LOCAL_FETCH_ENDPOINT"],
    }),
);

/** The webhook's own settings. */
export const getWebhookEnv = envGroup(
  ["CLERK_WEBHOOK_SIGNING_SECRET", "DEFAULT_TURMA"],
  z.object({
    // Several secrets (space or comma separated) let a secret be rotated without dropping events.
    CLERK_WEBHOOK_SIGNING_SECRET: secretList,
    DEFAULT_TURMA: z.string().trim().min(1).default("neon_estrutura"),
  }),
);
