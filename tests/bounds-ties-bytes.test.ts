// Input a sender controls that must never look like an outage or depend on luck: every stored
// field at and just over its documented maximum, two versions with one updated_at in both
// delivery orders, and bytes the signer did not sign.
import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { LIMITS } from "../lib/clerk/schemas.js";
import { getDb } from "../lib/db.js";
import { clerkSource } from "../scripts/backfill/clerk.js";
import { DEFAULT_RETRY } from "../scripts/backfill/retry.js";
import { runBackfill } from "../scripts/backfill/run.js";
import { type ClerkApi, startClerkApi } from "../scripts/local/clerk-api.js";
import { buildUser, type ClerkUserJson, svixHeaders, userEvent } from "./fixtures/clerk.js";
import { TEST_SECRET } from "./helpers/constants.js";
import {
  allMentorados,
  allUsers,
  call,
  deliver,
  preRegister,
  snapshot,
  userByClerkId,
  WEBHOOK_URL,
} from "./helpers/webhook.js";

const pad = (prefix: string, length: number) => prefix + "x".repeat(length - prefix.length);
/** An ASCII address of exactly `bytes` bytes. */
const asciiEmail = (bytes: number) => `${"a".repeat(bytes - "@example.com".length)}@example.com`;
/**
 * An address of exactly `bytes` UTF-8 bytes made of U+1D160, which NFC expands threefold (one
 * 4-byte code point -> three): the largest key a bounded address can produce.
 */
const expandingEmail = (bytes: number) => `${"\u{1D160}".repeat((bytes - 2) / 4)}@x`;

interface Case {
  field: string;
  /** The event's user with the field at `length`; the svix-id when the field is the header. */
  build: (length: number) => { user: ClerkUserJson; svixId?: string };
  max: number;
}

const CASES: Case[] = [
  {
    field: "svix-id",
    max: LIMITS.svixId,
    build: (n) => ({ user: buildUser(), svixId: pad("msg_", n) }),
  },
  {
    field: "data.id",
    max: LIMITS.clerkId,
    build: (n) => ({ user: buildUser({ id: pad("user_", n) }) }),
  },
  {
    field: "data.email_addresses.0.id",
    max: LIMITS.clerkId,
    build: (n) => {
      const user = buildUser({ email: "ana@example.com" });
      const id = pad("idn_", n);
      for (const address of user.email_addresses as { id: string }[]) address.id = id;
      user.primary_email_address_id = id;
      return { user };
    },
  },
  {
    field: "data.primary_email_address_id",
    max: LIMITS.clerkId,
    build: (n) => {
      const user = buildUser({ email: "ana@example.com" });
      user.primary_email_address_id = pad("idn_", n);
      return { user };
    },
  },
  {
    field: "data.email_addresses.0.email_address",
    max: LIMITS.emailBytes,
    build: (n) => ({ user: buildUser({ email: asciiEmail(n) }) }),
  },
  {
    field: "data.first_name",
    max: LIMITS.firstName,
    build: (n) => ({ user: buildUser({ firstName: pad("Ana", n) }) }),
  },
  {
    field: "data.last_name",
    max: LIMITS.lastName,
    build: (n) => ({ user: buildUser({ lastName: pad("Souza", n) }) }),
  },
  {
    field: "data.username",
    max: LIMITS.username,
    build: (n) => ({ user: buildUser({ username: pad("ana", n) }) }),
  },
  {
    field: "data.image_url",
    max: LIMITS.imageUrl,
    build: (n) => {
      const user = buildUser();
      user.image_url = pad("https://img.clerk.com/", n);
      return { user };
    },
  },
  {
    field: "data.public_metadata.turma",
    max: LIMITS.turma,
    build: (n) => ({ user: buildUser({ turma: pad("turma_", n) }) }),
  },
];

describe("bounds: every stored field at its maximum is stored, one more is refused", () => {
  for (const c of CASES) {
    it(`${c.field}: ${c.max} accepted, ${c.max + 1} is 400 invalid_event naming it, nothing written`, async () => {
      const ok = c.build(c.max);
      const accepted = await deliver(userEvent("user.created", ok.user), { svixId: ok.svixId });
      expect(accepted.status).toBe(200);
      expect(await userByClerkId(ok.user.id)).toBeDefined();

      const before = await snapshot();
      const over = c.build(c.max + 1);
      const refused = await deliver(userEvent("user.created", over.user), { svixId: over.svixId });
      expect(refused.status).toBe(400);
      expect(refused.body.error).toBe("invalid_event");
      expect(refused.body.message).toContain(`${c.field}:`);
      expect(await snapshot()).toBe(before);
    });
  }

  it("counts the email in UTF-8 bytes, and the largest key still links and indexes", async () => {
    const email = expandingEmail(LIMITS.emailBytes);
    expect(Buffer.byteLength(email)).toBe(LIMITS.emailBytes);
    const profileId = await preRegister(email);
    const r = await deliver(userEvent("user.created", buildUser({ email })));
    expect(r.body).toEqual({ ok: true, outcome: "linked" });
    expect((await allMentorados()).map((m) => m.id)).toEqual([profileId]);

    const before = await snapshot();
    const over = await deliver(userEvent("user.created", buildUser({ email: `${email}x` })));
    expect(over.status).toBe(400);
    expect(await snapshot()).toBe(before);
  });

  it("refuses the hostile sizes that used to answer 503 (10 KB ids, 3,000-character local part)", async () => {
    const hostile = [
      { user: buildUser(), svixId: pad("msg_", 10_240) },
      { user: buildUser({ id: pad("user_", 10_240) }) },
      { user: buildUser({ email: `${"a".repeat(3000)}@example.com` }) },
    ];
    for (const h of hostile) {
      const r = await deliver(userEvent("user.created", h.user), { svixId: h.svixId });
      expect(r.status).toBe(400);
      expect(r.body.error).toBe("invalid_event");
    }
    expect(await allUsers()).toEqual([]);
  });
});

describe("bounds in the backfill", () => {
  let api: ClerkApi | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  it("counts a user over a maximum as invalid and applies the others", async () => {
    const users = [
      buildUser({ email: "ok@example.com" }),
      buildUser({ email: asciiEmail(LIMITS.emailBytes + 1) }),
      buildUser({ firstName: pad("Ana", LIMITS.firstName + 1) }),
    ];
    api = await startClerkApi({ users, rateLimit: null });
    const result = await runBackfill({
      db: getDb(),
      clerk: clerkSource({ secretKey: api.secretKey, apiUrl: api.url, retry: DEFAULT_RETRY }),
      defaultTurma: "neon_estrutura",
      dbRetry: { ...DEFAULT_RETRY, baseMs: 5, maxMs: 20 },
    });
    expect(result.counts).toMatchObject({ created: 1, invalid: 2 });
    expect((await allUsers()).map((u) => u.clerkId)).toEqual([users[0]?.id]);
  });
});

describe("ties: two versions with the same updated_at", () => {
  const id = "user_tie0000000000000000000000000";
  const at = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
  const versionA = () => buildUser({ id, firstName: "Ana", updatedAt: at, createdAt: at - 1000 });
  const versionB = () =>
    buildUser({ id, firstName: "Beatriz", updatedAt: at, createdAt: at - 1000 });

  async function finalRow(order: ClerkUserJson[]) {
    await getDb().execute(
      sql`truncate users, mentorados, clerk_sync.clerk_webhook_events, clerk_sync.email_outbox restart identity cascade`,
    );
    const outcomes: (string | undefined)[] = [];
    for (const user of order)
      outcomes.push((await deliver(userEvent("user.updated", user))).body.outcome);
    const u = await userByClerkId(id);
    return { firstName: u?.firstName, outcomes };
  }

  it("end in the same row whatever the delivery order", async () => {
    const ab = await finalRow([versionA(), versionB()]);
    const ba = await finalRow([versionB(), versionA()]);
    expect(ab.firstName).toBe(ba.firstName);
    expect(["Ana", "Beatriz"]).toContain(ab.firstName);
    // Exactly one of the two orders overwrote the first delivery; the other found it stale.
    expect([ab.outcomes[1], ba.outcomes[1]].sort()).toEqual(["applied", "stale"]);
  });

  it("the same version delivered again (new svix-id) writes nothing", async () => {
    await deliver(userEvent("user.updated", versionA()));
    const [before] = await allUsers();
    const again = await deliver(userEvent("user.updated", versionA()));
    expect(again.body.outcome).toBe("stale");
    const [after] = await allUsers();
    expect(after?.updatedAt.getTime()).toBe(before?.updatedAt.getTime());
  });
});

describe("exact bytes", () => {
  const BOM = new Uint8Array([0xef, 0xbb, 0xbf]);
  const bytes = (...parts: (Uint8Array | string)[]) =>
    Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : p)));
  const post = (body: Buffer, headers: Record<string, string>) =>
    call(new Request(WEBHOOK_URL, { method: "POST", headers, body: new Uint8Array(body) }));

  it("refuses a BOM the signer did not sign, and writes nothing", async () => {
    const body = JSON.stringify(userEvent("user.created", buildUser({ email: "bom@example.com" })));
    const headers = svixHeaders(body, { secret: TEST_SECRET });
    const r = await post(bytes(BOM, body), headers);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe("invalid_signature");
    expect(await snapshot()).toBe(
      JSON.stringify({ users: [], mentorados: [], outbox: [], ledger: [] }),
    );
    // The same bytes without the BOM are what was signed.
    expect((await post(bytes(body), headers)).status).toBe(200);
  });

  it("a signed BOM is verified over the bytes received, then refused as not JSON", async () => {
    const body = `\uFEFF${JSON.stringify(userEvent("user.created", buildUser()))}`;
    const r = await post(bytes(body), svixHeaders(body, { secret: TEST_SECRET }));
    expect(r.status).toBe(400);
    expect(r.body.error).toBe("invalid_json");
    expect(await allUsers()).toEqual([]);
  });

  it("refuses a trailing byte the signer did not sign", async () => {
    const body = JSON.stringify(userEvent("user.created", buildUser()));
    const r = await post(bytes(body, "\n"), svixHeaders(body, { secret: TEST_SECRET }));
    expect(r.body.error).toBe("invalid_signature");
    expect(await allUsers()).toEqual([]);
  });
});
