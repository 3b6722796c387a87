// The `me` query for the app's tRPC v11 router: the signed-in person's synced record, synced from
// Clerk on demand when the webhook has not arrived yet.
//
//   const t = initTRPC.context<{ authorization: string | null }>().create();
//   export const appRouter = t.router({ me: t.procedure.query(meQuery((ctx) => ctx.authorization)) });
//
// It runs GET /api/me's own pipeline (lib/me/handle-me.ts: configuration, the session token check,
// getMe, the welcome email after an on-demand sync, its one log line), so the two can never
// disagree; only the transport differs: the answer is the procedure's data, and each refusal is
// a TRPCError whose code says what happened (`cause` keeps our stable error code).
import { TRPCError } from "@trpc/server";
import { handleMe } from "../me/handle-me.js";
import type { MeMentorado } from "../me/read.js";
import { z } from "../zod.js";

export type { MeMentorado } from "../me/read.js";

export interface MeAnswer {
  clerk_id: string;
  /** `database`: read in one SQL round trip; `clerk`: synced from Clerk now. */
  source: "database" | "clerk";
  /** null: the user is synced but has no profile (no verified email, or a conflict). */
  mentorado: MeMentorado | null;
}

type TrpcCode = TRPCError["code"];

/** GET /api/me's error codes -> tRPC's. Anything unknown is an internal error. */
const CODES: Record<string, TrpcCode> = {
  missing_token: "UNAUTHORIZED",
  invalid_token: "UNAUTHORIZED",
  token_expired: "UNAUTHORIZED",
  token_not_yet_valid: "UNAUTHORIZED",
  unauthorized_party: "UNAUTHORIZED",
  // 410 over HTTP: tRPC has no "gone"; the record does not exist for this caller any more.
  user_deleted: "NOT_FOUND",
  clerk_unavailable: "SERVICE_UNAVAILABLE",
  database_unavailable: "SERVICE_UNAVAILABLE",
  clerk_user_invalid: "BAD_GATEWAY",
  misconfigured: "INTERNAL_SERVER_ERROR",
};

const mentoradoSchema = z.object({
  id: z.number(),
  nome_completo: z.string(),
  turma: z.string(),
  origem: z.string(),
});
const answerSchema = z.object({
  ok: z.literal(true),
  clerk_id: z.string(),
  source: z.enum(["database", "clerk"]),
  mentorado: z.nullable(mentoradoSchema),
});
const refusalSchema = z.object({ ok: z.literal(false), error: z.string(), message: z.string() });

/** The caller's `Authorization` header value (`Bearer <Clerk session token>`), from the context. */
export type AuthorizationOf<Ctx> = (ctx: Ctx) => string | null | undefined;

/**
 * The resolver of a `me` query: `t.procedure.query(meQuery((ctx) => ctx.authorization))`. Throws
 * a TRPCError on every refusal (UNAUTHORIZED without a valid session token, NOT_FOUND for a
 * deleted user, SERVICE_UNAVAILABLE when Clerk or the database is down: retry later).
 */
export function meQuery<Ctx>(authorization: AuthorizationOf<Ctx>) {
  return async ({ ctx }: { ctx: Ctx }): Promise<MeAnswer> => {
    const header = authorization(ctx);
    const response = await handleMe(
      // The pipeline reads only the method and these headers; the URL is never used.
      new Request("http://trpc.internal/api/me", {
        headers: header ? { authorization: header } : {},
      }),
    );
    const body: unknown = await response.json().catch(() => null);
    const ok = answerSchema.safeParse(body);
    if (response.ok && ok.success) {
      const { clerk_id, source, mentorado } = ok.data;
      return { clerk_id, source, mentorado };
    }
    const refused = refusalSchema.safeParse(body);
    const error = refused.success ? refused.data.error : `http_${response.status}`;
    throw new TRPCError({
      code: CODES[error] ?? "INTERNAL_SERVER_ERROR",
      message: refused.success ? refused.data.message : "Unexpected answer from /api/me.",
      cause: new Error(error),
    });
  };
}
