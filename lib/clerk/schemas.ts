// Zod schemas of the Clerk webhook events we act on. Unknown fields are allowed (Clerk adds
// fields) and stripped: only what the sync reads survives validation, so keys such as
// `__proto__` or `constructor` in a payload never reach an object we use.
import { z } from "zod";

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Text Postgres can store: no NUL byte, well-formed UTF-16 (else the insert fails -> a 5xx). */
export const pgText = z
  .string()
  .refine((s) => !s.includes("\u0000"), "must not contain NUL")
  .refine((s) => !LONE_SURROGATE.test(s), "must be well-formed unicode");

const nullableText = pgText.nullish().transform((v) => v ?? null);

/** Epoch milliseconds, as Clerk sends `created_at` / `updated_at`; within the range of a Date. */
const epochMs = z.number().int().min(0).max(8_640_000_000_000);

export const emailAddressSchema = z.object({
  id: pgText,
  email_address: pgText,
  verification: z
    .object({ status: z.string().nullish() })
    .nullish()
    .transform((v) => v ?? null),
});

export const clerkUserSchema = z.object({
  id: pgText.min(1),
  email_addresses: z.array(emailAddressSchema),
  primary_email_address_id: nullableText,
  first_name: nullableText,
  last_name: nullableText,
  username: nullableText,
  image_url: nullableText,
  // Only public_metadata is trusted (only the app's backend can write it); unsafe_metadata is
  // user-writable and deliberately not part of this schema.
  public_metadata: z
    .object({ turma: z.unknown().optional() })
    .nullish()
    .transform((v) => v ?? null),
  created_at: epochMs,
  updated_at: epochMs,
});
export type ClerkUser = z.infer<typeof clerkUserSchema>;

export const deletedUserSchema = z.object({
  id: pgText.min(1).optional(),
  deleted: z.boolean().optional(),
});

/**
 * Any JSON object, checked but not copied (a record schema would copy every key of the payload
 * on every request): the data schemas below parse `data` themselves and keep only their fields.
 */
const jsonObject = z.custom<Record<string, unknown>>(
  (v) => typeof v === "object" && v !== null && !Array.isArray(v),
  "expected an object",
);

/** The envelope: `type` decides which data schema applies. */
export const envelopeSchema = z.object({
  type: z.string().min(1).max(200),
  object: z.literal("event").optional(),
  data: jsonObject,
});

export const USER_UPSERT_TYPES = ["user.created", "user.updated"] as const;
export type UserUpsertType = (typeof USER_UPSERT_TYPES)[number];

export type ClerkEvent =
  | { kind: "upsert"; type: UserUpsertType; user: ClerkUser }
  | { kind: "delete"; type: "user.deleted"; clerkId: string }
  | { kind: "ignored"; type: string; reason: string };

export type ParseResult = { ok: true; event: ClerkEvent } | { ok: false; error: string };

function firstIssue(err: z.ZodError): string {
  const issue = err.issues[0];
  return issue ? `${issue.path.join(".") || "body"}: ${issue.message}` : "invalid";
}

/** A verified body -> the event we act on, or why it can never be applied. */
export function parseClerkEvent(json: unknown): ParseResult {
  const env = envelopeSchema.safeParse(json);
  if (!env.success) return { ok: false, error: firstIssue(env.error) };
  const { type, data } = env.data;
  if (type === "user.created" || type === "user.updated") {
    const user = clerkUserSchema.safeParse(data);
    if (!user.success) return { ok: false, error: `data.${firstIssue(user.error)}` };
    return { ok: true, event: { kind: "upsert", type, user: user.data } };
  }
  if (type === "user.deleted") {
    const del = deletedUserSchema.safeParse(data);
    if (!del.success) return { ok: false, error: `data.${firstIssue(del.error)}` };
    if (!del.data.id) return { ok: true, event: { kind: "ignored", type, reason: "no user id" } };
    return { ok: true, event: { kind: "delete", type, clerkId: del.data.id } };
  }
  return { ok: true, event: { kind: "ignored", type, reason: "event type not handled" } };
}
