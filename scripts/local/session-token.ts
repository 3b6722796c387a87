// Clerk-style session tokens for local development and tests: RS256 JWTs with the claims Clerk's
// session tokens carry (sub, sid, iss, azp, iat, nbf, exp), signed by a local RSA-2048 key whose
// PEM public key is what CLERK_JWT_KEY holds. GET /api/me verifies them with @clerk/backend exactly
// as it verifies Clerk's own. Local development and tests only: nothing under api/ or lib/ imports
// this file.
//
// The dev key is generated once into .data/dev-session-key.pem (git-ignored, like the local
// database): `npm run dev` exports its public half as CLERK_JWT_KEY and `npm run token` signs with
// it, so both agree across restarts. It is never used anywhere else.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
} from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { REPO_ROOT } from "./dev-env.js";

export const DEV_KEY_FILE = join(REPO_ROOT, ".data", "dev-session-key.pem");
/** What `iss` says in dev tokens (Clerk's is the instance's Frontend API URL; nothing checks it). */
export const DEV_ISSUER = "https://local-dev.clerk.accounts.dev";

export function generateSigningKey(): KeyObject {
  return generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
}

/** The PEM public key (`-----BEGIN PUBLIC KEY-----`, SPKI), as the Clerk Dashboard shows it. */
export function publicKeyPem(privateKey: KeyObject): string {
  return createPublicKey(privateKey).export({ type: "spki", format: "pem" }).toString().trim();
}

/** The dev key, generated into .data/ the first time it is needed. */
export function loadDevKey(file = DEV_KEY_FILE): KeyObject {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    const pem = generateSigningKey().export({ type: "pkcs8", format: "pem" });
    try {
      // `wx`: when `npm run dev` and `npm run token` both start from nothing, one key wins.
      writeFileSync(file, pem, { mode: 0o600, flag: "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  return createPrivateKey(readFileSync(file, "utf8"));
}

const b64url = (v: Buffer | string) => Buffer.from(v).toString("base64url");

export interface SessionClaims {
  sub: string;
  sid?: string;
  iss?: string;
  azp?: string;
  /** Seconds since epoch; default now. */
  iat?: number;
  nbf?: number;
  exp?: number;
  [claim: string]: unknown;
}

/** Clerk's session tokens live 60 s; nbf is set a little in the past, as Clerk does. */
export function signSessionToken(
  privateKey: KeyObject,
  claims: SessionClaims,
  opts: { ttlSeconds?: number; header?: Record<string, unknown> } = {},
): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    iss: DEV_ISSUER,
    sid: `sess_${randomBytes(12).toString("hex")}`,
    iat: now,
    nbf: now - 10,
    exp: now + (opts.ttlSeconds ?? 60),
    ...claims,
  };
  const header = { alg: "RS256", typ: "JWT", kid: "ins_local_dev", ...opts.header };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const signature = sign("RSA-SHA256", Buffer.from(input), privateKey);
  return `${input}.${b64url(signature)}`;
}
