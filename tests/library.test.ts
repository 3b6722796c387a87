// The library functions an app calls in process (lib/index.ts, lib/trpc/me.ts), against the run's
// database: syncClerkUser with the webhook's rules, and the tRPC `me` query through tRPC's own
// server-side caller, with every refusal mapped to a tRPC code. The packed package, over HTTP, is
// tests/consumer.test.ts.
import { initTRPC, TRPCError } from "@trpc/server";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { syncClerkUser } from "../lib/index.js";
import { meQuery } from "../lib/trpc/me.js";
import { type ClerkApi, startClerkApi } from "../scripts/local/clerk-api.js";
import {
  generateSigningKey,
  publicKeyPem,
  signSessionToken,
} from "../scripts/local/session-token.js";
import { buildUser, clerkId, deletedEvent } from "./fixtures/clerk.js";
import { sensitive } from "./helpers/log-capture.js";
import {
  allMentorados,
  allOutbox,
  allUsers,
  deliver,
  preRegister,
  snapshot,
} from "./helpers/webhook.js";

describe("syncClerkUser", () => {
  it("applies a Clerk user with the webhook's rules, once per version", async () => {
    const profile = await preRegister("lia@example.com", "Lia Pré");
    const user = buildUser({ email: "Lia@Example.com", firstName: "Lia" });
    const first = await syncClerkUser(user);
    expect(first).toMatchObject({ ok: true, clerkId: user.id, outcome: "linked" });
    expect((await allMentorados()).map((m) => [m.id, m.userId !== null])).toEqual([
      [profile, true],
    ]);
    expect(await allOutbox()).toHaveLength(1);
    // The same version again is the same delivery; a newer one is applied.
    expect(await syncClerkUser(user)).toMatchObject({ ok: true, outcome: "duplicate" });
    const newer = { ...user, username: "lia", updated_at: user.updated_at + 1000 };
    expect(await syncClerkUser(newer)).toMatchObject({ ok: true, outcome: "applied" });
    expect((await allUsers()).map((u) => u.username)).toEqual(["lia"]);
  });

  it("refuses what is not a Clerk user, naming the field, and writes nothing", async () => {
    const before = await snapshot();
    const result = await syncClerkUser({ id: 42, email_addresses: [] });
    expect(result).toMatchObject({ ok: false, error: "invalid_user" });
    expect(result.ok ? "" : result.issue).toMatch(/^id: /);
    expect(await snapshot()).toBe(before);
  });
});

describe("tRPC me (meQuery), through tRPC's server-side caller", () => {
  const key = generateSigningKey();
  let clerk: ClerkApi;
  const saved = new Map<string, string | undefined>();
  const KEYS = ["CLERK_JWT_KEY", "CLERK_SECRET_KEY", "CLERK_API_URL"] as const;

  const t = initTRPC.context<{ authorization: string | null }>().create();
  const router = t.router({ me: t.procedure.query(meQuery((ctx) => ctx.authorization)) });
  const caller = (authorization: string | null) => t.createCallerFactory(router)({ authorization });
  const tokenFor = (sub: string) => {
    const token = signSessionToken(key, { sub });
    sensitive.add(token);
    return `Bearer ${token}`;
  };
  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => "resolved",
      (err: unknown) => (err instanceof TRPCError ? err.code : `not a TRPCError: ${String(err)}`),
    );

  beforeAll(async () => {
    clerk = await startClerkApi();
    for (const k of KEYS) saved.set(k, process.env[k]);
  });
  beforeEach(() => {
    process.env.CLERK_JWT_KEY = publicKeyPem(key);
    process.env.CLERK_SECRET_KEY = clerk.secretKey;
    process.env.CLERK_API_URL = clerk.url;
    delete clerk.faults.failNext;
  });
  afterAll(async () => {
    await clerk.close();
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it("answers from Clerk first (synced on demand), then from the database", async () => {
    const id = clerkId("user");
    clerk.putUsers([buildUser({ id, email: "tina@example.com", firstName: "Tina" })]);
    const me = caller(tokenFor(id));
    const first = await me.me();
    expect(first).toMatchObject({ clerk_id: id, source: "clerk" });
    expect(first.mentorado).toMatchObject({ origem: "clerk_signup" });
    const second = await me.me();
    expect(second).toEqual({ ...first, source: "database" });
  });

  it("maps each refusal to a tRPC code", async () => {
    expect(await codeOf(caller(null).me())).toBe("UNAUTHORIZED");
    expect(await codeOf(caller("Bearer not.a.token").me())).toBe("UNAUTHORIZED");

    const gone = clerkId("user");
    await deliver(deletedEvent(gone));
    expect(await codeOf(caller(tokenFor(gone)).me())).toBe("NOT_FOUND");

    const flaky = clerkId("user");
    clerk.putUsers([buildUser({ id: flaky, email: "flaky.trpc@example.com" })]);
    Object.assign(clerk.faults, { failNext: 1, status: 503 });
    expect(await codeOf(caller(tokenFor(flaky)).me())).toBe("SERVICE_UNAVAILABLE");

    delete process.env.CLERK_SECRET_KEY;
    expect(await codeOf(caller(tokenFor(flaky)).me())).toBe("INTERNAL_SERVER_ERROR");
  });
});
