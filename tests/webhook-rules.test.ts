// Every rule of DESIGN.md, through the real handler with real svix signatures, asserted on rows.
import { describe, expect, it } from "vitest";
import { buildUser, clerkId, deletedEvent, userEvent } from "./fixtures/clerk.js";
import { countRoundTrips } from "./helpers/endpoint-control.js";
import { sensitive } from "./helpers/log-capture.js";
import {
  allLedger,
  allMentorados,
  allOutbox,
  allUsers,
  deliver,
  preRegister,
  snapshot,
  userByClerkId,
} from "./helpers/webhook.js";

for (const s of ["ana@example.com", "Ana", "Souza", "Mentorada Pré", "bia@example.com"])
  sensitive.add(s);

describe("user.created", () => {
  it("links a pre-registered mentorado whose email differs only in case and spaces", async () => {
    const mentoradoId = await preRegister("  Ana@Example.COM ", "Ana Pré-cadastrada", "turma_a");
    const user = buildUser({ email: "ANA@example.com ", firstName: "Ana", lastName: "Souza" });
    const r = await deliver(userEvent("user.created", user));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true, outcome: "linked" });

    const [u] = await allUsers();
    expect(u).toMatchObject({
      clerkId: user.id,
      // Stored as Clerk sent it: only the database's email_key() decides what matches.
      email: "ANA@example.com ",
      emailVerified: true,
      firstName: "Ana",
      lastName: "Souza",
      deletedAt: null,
    });
    expect(u?.clerkUpdatedAt?.getTime()).toBe(user.updated_at);
    expect(u?.clerkCreatedAt?.getTime()).toBe(user.created_at);
    const ms = await allMentorados();
    expect(ms).toHaveLength(1);
    // Linked, and the app's fields are untouched.
    expect(ms[0]).toMatchObject({
      id: mentoradoId,
      userId: u?.id,
      nomeCompleto: "Ana Pré-cadastrada",
      turma: "turma_a",
      origem: "pre_registered",
    });
    expect((await allOutbox()).map((o) => [o.kind, o.mentoradoId])).toEqual([
      ["welcome", mentoradoId],
    ]);
  });

  it("creates a mentorado with the default turma when none is pre-registered", async () => {
    const user = buildUser({ email: "bia@example.com", firstName: "Bia", lastName: "Lima" });
    const r = await deliver(userEvent("user.created", user));
    expect(r.body.outcome).toBe("created");
    const [m] = await allMentorados();
    const [u] = await allUsers();
    expect(m).toMatchObject({
      userId: u?.id,
      email: "bia@example.com",
      nomeCompleto: "Bia Lima",
      turma: "neon_estrutura",
      origem: "clerk_signup",
    });
    expect(await allOutbox()).toHaveLength(1);
  });

  it("honours DEFAULT_TURMA", async () => {
    process.env.DEFAULT_TURMA = "turma_env";
    try {
      await deliver(userEvent("user.created", buildUser({ email: "c@example.com" })));
      expect((await allMentorados())[0]?.turma).toBe("turma_env");
    } finally {
      delete process.env.DEFAULT_TURMA;
    }
  });

  it("takes turma from public_metadata, never from unsafe_metadata", async () => {
    await deliver(
      userEvent("user.created", buildUser({ email: "d@example.com", turma: "turma_vip" })),
    );
    await deliver(
      userEvent("user.created", buildUser({ email: "e@example.com", unsafeTurma: "turma_hack" })),
    );
    await deliver(userEvent("user.created", buildUser({ email: "f@example.com", turma: "  " })));
    await deliver(userEvent("user.created", buildUser({ email: "g@example.com", turma: 42 })));
    expect((await allMentorados()).map((m) => m.turma)).toEqual([
      "turma_vip",
      "neon_estrutura",
      "neon_estrutura",
      "neon_estrutura",
    ]);
  });

  it("names a created profile first+last, else username, else the email's local part", async () => {
    await deliver(
      userEvent(
        "user.created",
        buildUser({ email: "h@example.com", firstName: "Só", lastName: null }),
      ),
    );
    await deliver(
      userEvent(
        "user.created",
        buildUser({ email: "i@example.com", firstName: null, lastName: null, username: "ivo" }),
      ),
    );
    await deliver(
      userEvent(
        "user.created",
        buildUser({ email: "joana.m@example.com", firstName: null, lastName: null }),
      ),
    );
    expect((await allMentorados()).map((m) => m.nomeCompleto)).toEqual(["Só", "ivo", "joana.m"]);
  });

  it("writes the user but never links an unverified primary email", async () => {
    await preRegister("kim@example.com");
    const user = buildUser({ email: "kim@example.com", verified: false });
    const r = await deliver(userEvent("user.created", user));
    expect(r.body.outcome).toBe("applied");
    expect(await userByClerkId(user.id)).toMatchObject({
      email: "kim@example.com",
      emailVerified: false,
    });
    expect((await allMentorados())[0]?.userId).toBeNull();
    expect(await allOutbox()).toEqual([]);
  });

  it("uses only the primary email, not other verified addresses", async () => {
    await preRegister("other@example.com");
    const user = buildUser({
      email: "main@example.com",
      verified: false,
      otherEmails: ["other@example.com"],
    });
    expect((await deliver(userEvent("user.created", user))).body.outcome).toBe("applied");
    expect((await allMentorados())[0]?.userId).toBeNull();
  });

  it("handles a phone-only sign-up: user row, no mentorado", async () => {
    const user = buildUser({
      email: null,
      phone: "+5511999990000",
      firstName: null,
      lastName: null,
    });
    const r = await deliver(userEvent("user.created", user));
    expect(r.body.outcome).toBe("applied");
    expect(await userByClerkId(user.id)).toMatchObject({ email: null, emailVerified: false });
    expect(await allMentorados()).toEqual([]);
  });

  it("tolerates a primary email id that points at no address", async () => {
    const user = buildUser({ email: "x@example.com", danglingPrimary: true });
    const r = await deliver(userEvent("user.created", user));
    expect(r.status).toBe(200);
    expect(r.body.outcome).toBe("applied");
    expect(await userByClerkId(user.id)).toMatchObject({ email: null });
  });

  it("links a Google OAuth sign-up (verified from_oauth_google)", async () => {
    const id = await preRegister("gui@gmail.com");
    const user = buildUser({
      email: "gui@gmail.com",
      google: true,
      firstName: "Gui",
      lastName: "Reis",
    });
    expect((await deliver(userEvent("user.created", user))).body.outcome).toBe("linked");
    expect((await allMentorados())[0]).toMatchObject({
      id,
      userId: (await userByClerkId(user.id))?.id,
    });
  });

  it("reports conflict when the email's mentorado is linked to another user, and steals nothing", async () => {
    const first = buildUser({ email: "dup@example.com" });
    expect((await deliver(userEvent("user.created", first))).body.outcome).toBe("created");
    const second = buildUser({ email: "dup@example.com" });
    const r = await deliver(userEvent("user.created", second));
    expect(r.body.outcome).toBe("conflict");
    const ms = await allMentorados();
    expect(ms).toHaveLength(1);
    expect(ms[0]?.userId).toBe((await userByClerkId(first.id))?.id);
    expect(await userByClerkId(second.id)).toMatchObject({ email: "dup@example.com" });
    expect(await allOutbox()).toHaveLength(1);
  });
});

describe("duplicates and ordering", () => {
  it("answers a redelivered svix id 200 duplicate and changes nothing", async () => {
    const event = userEvent("user.created", buildUser({ email: "l@example.com" }));
    const svixId = clerkId("msg");
    expect((await deliver(event, { svixId })).body.outcome).toBe("created");
    const before = await snapshot();
    const again = await deliver(event, { svixId });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ ok: true, outcome: "duplicate" });
    expect(await snapshot()).toBe(before);
    const ledger = await allLedger();
    expect(ledger).toHaveLength(1);
    expect(ledger[0]).toMatchObject({ svixId, type: "user.created", outcome: "created" });
  });

  it("ignores an update that is not newer than the stored one (stale)", async () => {
    const user = buildUser({
      email: "m@example.com",
      firstName: "Nova",
      updatedAt: 2_000_000_000_000,
    });
    await deliver(userEvent("user.created", user));
    const older = { ...user, first_name: "Velha", updated_at: 1_900_000_000_000 };
    expect((await deliver(userEvent("user.updated", older))).body.outcome).toBe("stale");
    const same = { ...user, first_name: "Igual" };
    expect((await deliver(userEvent("user.updated", same))).body.outcome).toBe("stale");
    expect((await userByClerkId(user.id))?.firstName).toBe("Nova");
    expect((await allLedger()).map((l) => l.outcome)).toEqual(["created", "stale", "stale"]);
  });

  it("applies a name change and a primary email change; the link follows user_id", async () => {
    const user = buildUser({
      email: "n@example.com",
      firstName: "Nina",
      updatedAt: 1_800_000_000_000,
    });
    await deliver(userEvent("user.created", user));
    const [m] = await allMentorados();
    const renamed = buildUser({
      id: user.id,
      email: "nina.new@example.com",
      firstName: "Nina Maria",
      createdAt: user.created_at,
      updatedAt: 1_800_000_000_500,
    });
    expect((await deliver(userEvent("user.updated", renamed))).body.outcome).toBe("applied");
    expect(await userByClerkId(user.id)).toMatchObject({
      email: "nina.new@example.com",
      firstName: "Nina Maria",
    });
    // The app owns the profile: its email and name stay, and it stays linked.
    expect(await allMentorados()).toEqual([{ ...m }]);
  });

  it("links a profile pre-registered after the sign-up on a later (even stale) delivery", async () => {
    const user = buildUser({
      email: "w@example.com",
      verified: true,
      updatedAt: 1_710_000_000_000,
    });
    const other = buildUser({ email: "w@example.com" });
    // w@ signs up while the email's profile belongs to someone else: conflict, nothing linked.
    await deliver(userEvent("user.created", other));
    expect((await deliver(userEvent("user.created", user))).body.outcome).toBe("conflict");
    // The other account is deleted: the profile is free. A redelivery with the SAME (not newer)
    // data, as a backfill or resync makes, now claims it from the stored, newest user row.
    await deliver(deletedEvent(other.id));
    const r = await deliver(userEvent("user.created", user));
    expect(r.body.outcome).toBe("linked");
    expect((await allMentorados())[0]?.userId).toBe((await userByClerkId(user.id))?.id);
    // The user row itself was not touched by the stale data.
    expect((await userByClerkId(user.id))?.clerkUpdatedAt?.getTime()).toBe(user.updated_at);
  });

  it("accepts user.updated before user.created, and the late creation is stale", async () => {
    const created = buildUser({
      email: "o@example.com",
      firstName: "Old",
      updatedAt: 1_700_000_000_000,
    });
    const updated = { ...created, first_name: "New", updated_at: 1_700_000_001_000 };
    expect((await deliver(userEvent("user.updated", updated))).body.outcome).toBe("created");
    expect((await deliver(userEvent("user.created", created))).body.outcome).toBe("stale");
    expect(await userByClerkId(created.id)).toMatchObject({ firstName: "New" });
    expect(await allMentorados()).toHaveLength(1);
  });
});

describe("user.deleted", () => {
  it("erases personal fields, unlinks and keeps the mentorado", async () => {
    const id = await preRegister("p@example.com", "Paula Pré", "turma_p");
    const user = buildUser({ email: "p@example.com", firstName: "Paula", username: "paula" });
    await deliver(userEvent("user.created", user));
    const r = await deliver(deletedEvent(user.id));
    expect(r.body).toEqual({ ok: true, outcome: "deleted" });
    const u = await userByClerkId(user.id);
    expect(u).toMatchObject({
      email: null,
      emailVerified: null,
      firstName: null,
      lastName: null,
      username: null,
      imageUrl: null,
    });
    expect(u?.deletedAt).toBeInstanceOf(Date);
    expect(await allMentorados()).toEqual([
      expect.objectContaining({ id, userId: null, nomeCompleto: "Paula Pré", turma: "turma_p" }),
    ]);
  });

  it("ignores any later event for the deleted user", async () => {
    const user = buildUser({ email: "q@example.com", updatedAt: 1_750_000_000_000 });
    await deliver(userEvent("user.created", user));
    await deliver(deletedEvent(user.id));
    const before = await snapshot();
    const later = { ...user, first_name: "Zumbi", updated_at: 1_750_000_009_000 };
    const r = await deliver(userEvent("user.updated", later));
    expect(r.body.outcome).toBe("stale");
    const after = JSON.parse(await snapshot());
    const prev = JSON.parse(before);
    expect(after.users).toEqual(prev.users);
    expect(after.mentorados).toEqual(prev.mentorados);
  });

  it("leaves a tombstone when the deletion arrives first, so the late creation cannot revive it", async () => {
    const user = buildUser({ email: "r@example.com" });
    expect((await deliver(deletedEvent(user.id))).body.outcome).toBe("deleted");
    expect((await deliver(userEvent("user.created", user))).body.outcome).toBe("stale");
    const u = await userByClerkId(user.id);
    expect(u).toMatchObject({ email: null, firstName: null });
    expect(u?.deletedAt).toBeInstanceOf(Date);
    expect(await allMentorados()).toEqual([]);
  });

  it("lets a re-sign-up with the same email claim the profile again, without a second welcome", async () => {
    const id = await preRegister("s@example.com");
    const first = buildUser({ email: "s@example.com" });
    await deliver(userEvent("user.created", first));
    await deliver(deletedEvent(first.id));
    const second = buildUser({ email: "s@example.com" });
    expect((await deliver(userEvent("user.created", second))).body.outcome).toBe("linked");
    expect((await allMentorados())[0]).toMatchObject({
      id,
      userId: (await userByClerkId(second.id))?.id,
    });
    expect(await allOutbox()).toHaveLength(1);
  });

  it("ignores a user.deleted without an id (200 ignored, no SQL, no ledger row)", async () => {
    const trips = await countRoundTrips(async () => {
      const r = await deliver(deletedEvent(null));
      expect(r.body).toEqual({ ok: true, outcome: "ignored" });
    });
    expect(trips).toBe(0);
    expect(await allLedger()).toEqual([]);
  });

  it("answers a second deletion of the same user deleted, changing nothing", async () => {
    const user = buildUser({ email: "t@example.com" });
    await deliver(userEvent("user.created", user));
    await deliver(deletedEvent(user.id));
    const before = JSON.parse(await snapshot());
    expect((await deliver(deletedEvent(user.id))).body.outcome).toBe("deleted");
    expect(JSON.parse(await snapshot()).users).toEqual(before.users);
  });
});

describe("welcome outbox", () => {
  it("queues exactly one welcome per new profile across duplicates and updates", async () => {
    const user = buildUser({ email: "u@example.com", updatedAt: 1_760_000_000_000 });
    const svixId = clerkId("msg");
    await deliver(userEvent("user.created", user), { svixId });
    await deliver(userEvent("user.created", user), { svixId });
    await deliver(userEvent("user.updated", { ...user, updated_at: 1_760_000_001_000 }));
    await deliver(userEvent("user.updated", { ...user, updated_at: 1_760_000_002_000 }));
    const outbox = await allOutbox();
    expect(outbox).toHaveLength(1);
    expect(outbox[0]).toMatchObject({
      kind: "welcome",
      status: "pending",
      mentoradoId: (await allMentorados())[0]?.id,
    });
  });
});

describe("round trips", () => {
  it("makes exactly one SQL HTTP request per accepted event", async () => {
    const user = buildUser({ email: "v@example.com" });
    for (const event of [
      userEvent("user.created", user),
      userEvent("user.updated", { ...user, updated_at: user.updated_at + 1 }),
      deletedEvent(user.id),
    ]) {
      expect(await countRoundTrips(() => deliver(event))).toBe(1);
    }
  });
});
