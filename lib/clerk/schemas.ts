// Zod schemas of the Clerk webhook events we act on. Unknown fields are allowed (Clerk adds
// fields) and stripped: only what the sync reads survives validation, so keys such as
// `__proto__` or `constructor` in a payload never reach an object we use.
import { firstIssue, z } from "../zod.js";

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Text Postgres can store: no NUL byte, well-formed UTF-16 (else the insert fails -> a 5xx). */
export const pgText = z.string().check(
  z.refine((s) => !s.includes("\u0000"), "must not contain NUL"),
  z.refine((s) => !LONE_SURROGATE.test(s), "must be well-formed unicode"),
);

/** pgText of at most `max` characters (and at least `min`). */
const boundedText = (max: number, min = 0) =>
  min > 0 ? pgText.check(z.minLength(min), z.maxLength(max)) : pgText.check(z.maxLength(max));

/** null and undefined become null. */
const orNull = <T extends z.ZodMiniType>(schema: T) =>
  z.pipe(
    z.nullish(schema),
    z.transform((v: z.output<T> | null | undefined) => v ?? null),
  );

/**
 * The documented maximum of everything the sync stores (docs/email-identity.md). Over it an event
 * is refused with 400 `invalid_event` naming the field, and the backfill counts the user
 * `invalid`: without a bound, an indexed value over ~2.7 kB fails in the database (SQLSTATE 54000)
 * and would answer 503, which Svix retries for days although it can never succeed.
 */
export const LIMITS = {
  /** svix-id header: Svix sends `msg_` + 27 characters. */
  svixId: 255,
  /** Clerk ids (user, email address): `user_` / `idn_` + 27 characters. */
  clerkId: 255,
  /** RFC 5321: a forward path holds at most 254 octets of address, counted in UTF-8 bytes. */
  emailBytes: 254,
  firstName: 256,
  lastName: 256,
  username: 256,
  imageUrl: 2048,
  turma: 128,
} as const;

/** UTF-8 length of well-formed UTF-16 (each half of a surrogate pair is 2 of the pair's 4 bytes). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdfff ? 2 : 3;
  }
  return n;
}

const nullableText = (max: number) => orNull(boundedText(max));

export const svixIdSchema = z.string().check(z.maxLength(LIMITS.svixId));

const turmaText = boundedText(LIMITS.turma);

/** Epoch milliseconds, as Clerk sends `created_at` / `updated_at`; within the range of a Date. */
const epochMs = z.int().check(z.gte(0), z.lte(8_640_000_000_000));

export const emailAddressSchema = z.object({
  id: boundedText(LIMITS.clerkId),
  email_address: pgText.check(
    z.refine(
      (s) => utf8Length(s) <= LIMITS.emailBytes,
      `must be at most ${LIMITS.emailBytes} UTF-8 bytes`,
    ),
  ),
  verification: orNull(z.object({ status: z.nullish(z.string()) })),
});

export const clerkUserSchema = z.object({
  id: boundedText(LIMITS.clerkId, 1),
  email_addresses: z.array(emailAddressSchema),
  primary_email_address_id: nullableText(LIMITS.clerkId),
  first_name: nullableText(LIMITS.firstName),
  last_name: nullableText(LIMITS.lastName),
  username: nullableText(LIMITS.username),
  image_url: nullableText(LIMITS.imageUrl),
  // Only public_metadata is trusted (only the app's backend can write it); unsafe_metadata is
  // user-writable and deliberately not part of this schema.
  public_metadata: orNull(
    z.object({
      // Any JSON (a non-string falls back to DEFAULT_TURMA), but a string is stored: bounded.
      turma: z.optional(
        z
          .unknown()
          .check(
            z.refine(
              (v) => typeof v !== "string" || turmaText.safeParse(v).success,
              `must be well-formed text of at most ${LIMITS.turma} characters`,
            ),
          ),
      ),
    }),
  ),
  created_at: epochMs,
  updated_at: epochMs,
});
export type ClerkUser = z.infer<typeof clerkUserSchema>;

export const deletedUserSchema = z.object({
  id: z.optional(boundedText(LIMITS.clerkId, 1)),
  deleted: z.optional(z.boolean()),
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
  type: z.string().check(z.minLength(1), z.maxLength(200)),
  object: z.optional(z.literal("event")),
  data: jsonObject,
});

export const USER_UPSERT_TYPES = ["user.created", "user.updated"] as const;
export type UserUpsertType = (typeof USER_UPSERT_TYPES)[number];

export type ClerkEvent =
  | { kind: "upsert"; type: UserUpsertType; user: ClerkUser }
  | { kind: "delete"; type: "user.deleted"; clerkId: string }
  | { kind: "ignored"; type: string; reason: string };

export type ParseResult = { ok: true; event: ClerkEvent } | { ok: false; error: string };

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
