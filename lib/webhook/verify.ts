import { Webhook, WebhookVerificationError } from "svix";

export type VerifyResult =
  | { ok: true; svixId: string; timestampSeconds: number }
  | {
      ok: false;
      error: "missing_svix_headers" | "invalid_signature" | "timestamp_out_of_tolerance";
    };

// One verifier per secret, built once per instance (building decodes the key).
const verifiers = new Map<string, Webhook>();

function verifierFor(secret: string): Webhook {
  let v = verifiers.get(secret);
  if (!v) {
    v = new Webhook(secret);
    verifiers.set(secret, v);
  }
  return v;
}

/** Builds every verifier now: a malformed secret is a configuration error, not a bad request. */
export function prepareVerifiers(secrets: string[]): void {
  for (const s of secrets) verifierFor(s);
}

/**
 * Verifies the raw body with svix (HMAC-SHA256, constant-time compare, 5-minute tolerance
 * either way) against each configured secret in turn: during a rotation either may have signed.
 */
export function verifySignature(body: string, headers: Headers, secrets: string[]): VerifyResult {
  const id = headers.get("svix-id");
  const timestamp = headers.get("svix-timestamp");
  const signature = headers.get("svix-signature");
  if (!id || !timestamp || !signature) return { ok: false, error: "missing_svix_headers" };
  // svix parses the timestamp with parseInt, which would accept "123abc": be strict first.
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, error: "invalid_signature" };
  const plain = { "svix-id": id, "svix-timestamp": timestamp, "svix-signature": signature };
  for (const secret of secrets) {
    try {
      verifierFor(secret).verify(body, plain);
      return { ok: true, svixId: id, timestampSeconds: Number(timestamp) };
    } catch (err) {
      if (!(err instanceof WebhookVerificationError)) throw err;
      if (/timestamp/i.test(err.message)) return { ok: false, error: "timestamp_out_of_tolerance" };
    }
  }
  return { ok: false, error: "invalid_signature" };
}
