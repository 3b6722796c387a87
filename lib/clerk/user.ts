import type { ClerkUser } from "./schemas.js";

export interface PrimaryEmail {
  /** Trimmed and lower-cased; null when the primary address is missing from email_addresses. */
  email: string | null;
  verified: boolean;
}

export function normalizeEmail(address: string): string {
  return address.trim().toLowerCase();
}

/** The primary email, resolved through primary_email_address_id (it may point nowhere). */
export function primaryEmail(user: ClerkUser): PrimaryEmail {
  const id = user.primary_email_address_id;
  const entry = id ? user.email_addresses.find((e) => e.id === id) : undefined;
  if (!entry) return { email: null, verified: false };
  const email = normalizeEmail(entry.email_address);
  if (email === "") return { email: null, verified: false };
  return { email, verified: entry.verification?.status === "verified" };
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
