// Who is calling: the Clerk session token of `Authorization: Bearer <token>`, verified by
// @clerk/backend's verifyToken with CLERK_JWT_KEY, so with no network call and no secret key.
// verifyToken checks the RS256 signature (RS* only: `alg: none` and HS* are refused), exp, nbf and
// iat with Clerk's default 5 s clock skew, and `azp` when authorized parties are given. It does not
// check `iss`; the key is the instance's own, which is what binds a token to this instance.
//
// @clerk/backend's main entry point is the only one that exports verifyToken (its `./jwt` entry
// only has the lower-level verifyJwt): it is the one dependency GET /api/me adds to a cold start.
import { verifyToken } from "@clerk/backend";

export type SessionError =
  | "missing_token"
  | "invalid_token"
  | "token_expired"
  | "token_not_yet_valid"
  | "unauthorized_party";

export type SessionResult =
  | { ok: true; clerkId: string }
  | { ok: false; error: SessionError }
  /** verifyToken could not use the key: configuration, not the caller. */
  | { ok: false; error: "misconfigured" };

/** Clerk user ids are `user_` + base62; anything else is not one of this instance's users. */
const CLERK_USER_ID = /^user_[A-Za-z0-9]{1,100}$/;
/** A compact JWS: three base64url parts. A bound on size keeps a hostile header cheap. */
const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i;
const MAX_AUTHORIZATION = 8192;

const REASONS: Record<string, SessionError | "misconfigured"> = {
  "token-expired": "token_expired",
  "token-not-active-yet": "token_not_yet_valid",
  "token-iat-in-the-future": "token_not_yet_valid",
  "token-invalid-authorized-parties": "unauthorized_party",
  "jwk-local-missing": "misconfigured",
  "jwk-failed-to-resolve": "misconfigured",
};

export interface SessionConfig {
  jwtKey: string;
  /** Origins `azp` must be one of; empty: not checked. */
  authorizedParties: string[];
}

export async function verifySession(
  authorization: string | null,
  config: SessionConfig,
): Promise<SessionResult> {
  if (!authorization) return { ok: false, error: "missing_token" };
  if (authorization.length > MAX_AUTHORIZATION) return { ok: false, error: "invalid_token" };
  const token = BEARER.exec(authorization.trim())?.[1];
  if (!token) return { ok: false, error: "invalid_token" };
  let sub: unknown;
  try {
    // The public verifyToken returns the payload and throws a TokenVerificationError (`reason`).
    const payload = await verifyToken(token, {
      jwtKey: config.jwtKey,
      ...(config.authorizedParties.length ? { authorizedParties: config.authorizedParties } : {}),
    });
    sub = payload.sub;
  } catch (err) {
    const reason = (err as { reason?: unknown } | null)?.reason;
    return { ok: false, error: (typeof reason === "string" && REASONS[reason]) || "invalid_token" };
  }
  if (typeof sub !== "string" || !CLERK_USER_ID.test(sub)) {
    return { ok: false, error: "invalid_token" };
  }
  return { ok: true, clerkId: sub };
}
