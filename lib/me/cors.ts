// CORS for the app's frontend: only the origins of CLERK_AUTHORIZED_PARTIES (the same list `azp`
// is checked against) get `access-control-allow-origin`, echoed one at a time as the spec requires
// (never `*`). The token travels in the `authorization` header, so no cookies and no
// `allow-credentials`.

export const ALLOWED_METHODS = "GET, HEAD, OPTIONS";
/** Browsers cache a preflight at most this long (Chromium caps at 2 hours). */
const MAX_AGE_SECONDS = "7200";

/** Headers every answer to a request from `origin` carries. */
export function corsHeaders(origin: string | null, allowed: string[]): Record<string, string> {
  // Vary: the answer differs per Origin, so a shared cache must not serve one origin's to another.
  if (!origin || !allowed.includes(origin)) return { vary: "origin" };
  return { "access-control-allow-origin": origin, vary: "origin" };
}

/** The answer to a preflight: 204 for an allowed origin, 403 otherwise. */
export function preflight(origin: string | null, allowed: string[]): Response {
  const cors = corsHeaders(origin, allowed);
  if (!cors["access-control-allow-origin"]) {
    return new Response(
      JSON.stringify({
        ok: false,
        error: "origin_not_allowed",
        message: "This origin is not in CLERK_AUTHORIZED_PARTIES.",
      }),
      { status: 403, headers: { "content-type": "application/json; charset=utf-8", ...cors } },
    );
  }
  return new Response(null, {
    status: 204,
    headers: {
      ...cors,
      "access-control-allow-methods": ALLOWED_METHODS,
      "access-control-allow-headers": "authorization",
      "access-control-max-age": MAX_AGE_SECONDS,
    },
  });
}
