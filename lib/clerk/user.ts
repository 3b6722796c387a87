import type { ClerkUser } from "./schemas.js";

export interface PrimaryEmail {
  /**
   * Exactly as Clerk sent it; null when the primary address is missing from email_addresses.
   * Not normalised here on purpose: whether two addresses are the same is decided by the
   * database's email_key() alone (docs/email-identity.md), so JavaScript can never disagree
   * with it (String#toLowerCase maps İ, K (U+212A), final Σ... differently from any SQL rule).
   */
  email: string | null;
  verified: boolean;
}

/** The primary email, resolved through primary_email_address_id (it may point nowhere). */
export function primaryEmail(user: ClerkUser): PrimaryEmail {
  const id = user.primary_email_address_id;
  const entry = id ? user.email_addresses.find((e) => e.id === id) : undefined;
  if (!entry || entry.email_address === "") return { email: null, verified: false };
  return { email: entry.email_address, verified: entry.verification?.status === "verified" };
}

/** nome_completo for a profile created at sign-up: first + last, else username, else local part. */
export function displayName(user: ClerkUser, email: string | null): string | null {
  const full = [user.first_name, user.last_name]
    .map((s) => s?.trim() ?? "")
    .filter(Boolean)
    .join(" ");
  if (full) return full;
  const username = user.username?.trim();
  if (username) return username;
  const local = email?.split("@")[0]?.trim();
  return local ? local : null;
}

/** public_metadata.turma when it is a non-empty string, else the configured default. */
export function turmaFor(user: ClerkUser, defaultTurma: string): string {
  const t = user.public_metadata?.turma;
  return typeof t === "string" && t.trim() !== "" ? t.trim() : defaultTurma;
}
