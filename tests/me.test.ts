// GET /api/me through the real handler (api/me.ts) with real session tokens: an RSA-2048 key is
// generated here, tokens are signed with it, and @clerk/backend verifies them against its PEM
// public key (CLERK_JWT_KEY), as in production. Clerk's Backend API is the local stand-in
// (scripts/local/clerk-api.ts); SQL goes through the production driver to the run's database.
import type { KeyObject } from "node:crypto";
import { createHmac } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as meRoute from "../api/me.js";
import { getDb } from "../lib/db.js";
import { type ClerkApi, startClerkApi } from "../scripts/local/clerk-api.js";
import {
  generateSigningKey,
  publicKeyPem,
  type SessionClaims,
  signSessionToken,
} from "../scripts/local/session-token.js";
import {
  buildUser,
  type ClerkUserJson,
  clerkId,
  deletedEvent,
  userEvent,
} from "./fixtures/clerk.js";
import { stats as sqlStats } from "./helpers/endpoint-control.js";
import { report, rng, shuffle, size } from "./helpers/http.js";
import { captured, sensitive } from "./helpers/log-capture.js";
import {
  allMentorados,
  allOutbox,
  allUsers,
  deliver,
  preRegister,
  snapshot,
  userByClerkId,
} from "./helpers/webhook.js";

const APP = "https://app.example.test";
/** Bun's fetch retries a request once after a reset keep-alive connection; Node's does not. */
const BUN_RESET_RETRIES = "Bun" in globalThis ? 1 : 0;
const URL_ME = "https://sync.example.test/api/me";
const ENV_KEYS = [
  "CLERK_JWT_KEY",
  "CLERK_AUTHORIZED_PARTIES",
  "CLERK_SECRET_KEY",
  "CLERK_API_URL",
] as const;

let key: KeyObject;
let pem: string;
let clerk: ClerkApi;
const saved = new Map<string, string | undefined>();

beforeAll(async () => {
  key = generateSigningKey();
  pem = publicKeyPem(key);
  clerk = await startClerkApi();
  for (const k of ENV_KEYS) saved.set(k, process.env[k]);
});

beforeEach(() => {
  process.env.CLERK_JWT_KEY = pem;
  process.env.CLERK_AUTHORIZED_PARTIES = `${APP}, http://localhost:5173`;
  process.env.CLERK_SECRET_KEY = clerk.secretKey;
  process.env.CLERK_API_URL = clerk.url;
  for (const k of Object.keys(clerk.faults) as (keyof typeof clerk.faults)[]) {
    delete clerk.faults[k];
  }
  clerk.setRateLimit(null);
});

afterAll(async () => {
  await clerk.close();
  for (const [k, v] of saved) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

function token(claims: Partial<SessionClaims> & { sub: string }, signer = key): string {
  const t = signSessionToken(signer, { azp: APP, ...claims });
  sensitive.add(t);
  return t;
}

interface MeAnswer {
  status: number;
  body: {
    ok: boolean;
    clerk_id?: string;
    source?: string;
    mentorado?: { id: number; nome_completo: string; turma: string; origem: string } | null;
    error?: string;
  };
  headers: Headers;
}

type Handler = (r: Request) => Promise<Response>;
const routes = meRoute as unknown as Record<string, Handler | undefined>;

async function me(
  auth: string | null,
  opts: { method?: string; origin?: string; headers?: Record<string, string> } = {},
): Promise<MeAnswer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (auth !== null) headers.authorization = auth;
  if (opts.origin) headers.origin = opts.origin;
  const method = opts.method ?? "GET";
  const handler = routes[method];
  if (!handler) throw new Error(`no handler for ${method}`);
  const res = await handler(new Request(URL_ME, { method, headers }));
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {}, headers: res.headers };
}
const bearer = (t: string) => `Bearer ${t}`;

/** Runs fn; returns its result and how many SQL round trips and Clerk requests it made. */
async function counted<T>(fn: () => Promise<T>): Promise<{ r: T; sql: number; clerk: number }> {
  const sql0 = (await sqlStats()).requests;
  const clerk0 = clerk.stats.requests;
  const r = await fn();
  return {
    r,
    sql: (await sqlStats()).requests - sql0,
    clerk: clerk.stats.requests - clerk0,
  };
}

function meLogs(): Record<string, unknown>[] {
  return captured
    .filter((l) => l.includes('"event":"me"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A user known to Clerk (the stand-in) but not (yet) to the database. */
function inClerk(spec: Parameters<typeof buildUser>[0] = {}): ClerkUserJson {
  const u = buildUser(spec);
  clerk.putUsers([u]);
  return u;
}

function b64url(v: string | Buffer): string {
  return Buffer.from(v).toString("base64url");
}

describe("GET /api/me: 401 for every token that is not a valid session of this instance", () => {
  const now = () => Math.floor(Date.now() / 1000);
  const cases: [string, () => string | null, string][] = [
    ["no Authorization header", () => null, "missing_token"],
    ["empty Authorization header", () => "", "missing_token"],
    ["not a Bearer token", () => `Basic ${b64url("a:b")}`, "invalid_token"],
    ["not a JWT", () => bearer("not-a-jwt"), "invalid_token"],
    ["garbage parts", () => bearer("a.b.c"), "invalid_token"],
    [
      "expired",
      () => bearer(token({ sub: "user_a1", exp: now() - 30, iat: now() - 90, nbf: now() - 90 })),
      "token_expired",
    ],
    [
      "not yet valid (nbf)",
      () => bearer(token({ sub: "user_a1", nbf: now() + 60 })),
      "token_not_yet_valid",
    ],
    [
      "issued in the future (iat)",
      () => bearer(token({ sub: "user_a1", iat: now() + 60 })),
      "token_not_yet_valid",
    ],
    [
      "signed by another key",
      () => bearer(token({ sub: "user_a1" }, generateSigningKey())),
      "invalid_token",
    ],
    [
      "payload tampered after signing",
      () => {
        const [h, , s] = token({ sub: "user_a1" }).split(".");
        const forged = b64url(
          JSON.stringify({ sub: "user_b2", azp: APP, exp: now() + 60, iat: now(), nbf: now() - 5 }),
        );
        return bearer(`${h}.${forged}.${s}`);
      },
      "invalid_token",
    ],
    [
      "alg: none",
      () => {
        const h = b64url(JSON.stringify({ alg: "none", typ: "JWT" }));
        const p = b64url(
          JSON.stringify({ sub: "user_a1", azp: APP, exp: now() + 60, iat: now(), nbf: now() - 5 }),
        );
        return bearer(`${h}.${p}.`);
      },
      "invalid_token",
    ],
    [
      "HS256 signed with the public key as the secret (algorithm confusion)",
      () => {
        const h = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
        const p = b64url(
          JSON.stringify({ sub: "user_a1", azp: APP, exp: now() + 60, iat: now(), nbf: now() - 5 }),
        );
        const s = createHmac("sha256", pem).update(`${h}.${p}`).digest("base64url");
        return bearer(`${h}.${p}.${s}`);
      },
      "invalid_token",
    ],
    [
      "azp not an authorized party",
      () => bearer(token({ sub: "user_a1", azp: "https://evil.example" })),
      "unauthorized_party",
    ],
    [
      "no azp while authorized parties are set",
      () => bearer(token({ sub: "user_a1", azp: undefined })),
      "unauthorized_party",
    ],
    ["sub is not a Clerk user id", () => bearer(token({ sub: "org_123" })), "invalid_token"],
  ];

  it.each(cases)("%s -> 401, no SQL, no Clerk request", async (_name, auth, error) => {
    inClerk({ id: "user_a1" });
    const { r, sql: trips, clerk: asked } = await counted(() => me(auth()));
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ ok: false, error });
    expect(r.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(trips).toBe(0);
    expect(asked).toBe(0);
    expect(await allUsers()).toEqual([]);
  });

  it("accepts a token within Clerk's 5 s clock skew", async () => {
    const u = inClerk({ email: "skew@example.test" });
    const r = await me(
      bearer(token({ sub: u.id, exp: now() - 2, iat: now() - 62, nbf: now() - 62 })),
    );
    expect(r.status).toBe(200);
  });
});

describe("GET /api/me: the caller's record", () => {
  it("a synced user: 200 from the database in ONE SQL round trip and ZERO Clerk requests", async () => {
    const u = buildUser({ email: "ana.synced@example.test", turma: "turma_x" });
    expect((await deliver(userEvent("user.created", u))).body.outcome).toBe("created");
    const { r, sql: trips, clerk: asked } = await counted(() => me(bearer(token({ sub: u.id }))));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      ok: true,
      clerk_id: u.id,
      source: "database",
      mentorado: {
        id: (await allMentorados())[0]!.id,
        nome_completo: "Ana Souza",
        turma: "turma_x",
        origem: "clerk_signup",
      },
    });
    expect(r.headers.get("cache-control")).toBe("private, no-store");
    expect(trips).toBe(1);
    expect(asked).toBe(0);
    report("me synced user", { sql_round_trips: trips, clerk_requests: asked });
  });

  it("a user the webhook has not delivered yet: synced from Clerk on demand, then from the database", async () => {
    const u = inClerk({ email: "Nova.Pessoa@Example.test", firstName: "Nova", lastName: "Pessoa" });
    const first = await counted(() => me(bearer(token({ sub: u.id }))));
    expect(first.r.status).toBe(200);
    expect(first.r.body).toMatchObject({ ok: true, clerk_id: u.id, source: "clerk" });
    expect(first.r.body.mentorado).toMatchObject({
      nome_completo: "Nova Pessoa",
      origem: "clerk_signup",
      turma: "neon_estrutura",
    });
    expect(first.clerk).toBe(1);
    expect(first.sql).toBe(2);

    const second = await counted(() => me(bearer(token({ sub: u.id }))));
    expect(second.r.body).toEqual({ ...first.r.body, source: "database" });
    expect(second).toMatchObject({ sql: 1, clerk: 0 });

    expect(await allUsers()).toHaveLength(1);
    expect((await userByClerkId(u.id))?.email).toBe("Nova.Pessoa@Example.test");
    expect(await allMentorados()).toHaveLength(1);
    expect(await allOutbox()).toHaveLength(1);
    const ledger = await getDb().execute<{ svix_id: string; type: string; outcome: string }>(
      sql`select svix_id, type, outcome from clerk_sync.clerk_webhook_events`,
    );
    expect(ledger.rows).toEqual([
      { svix_id: `ondemand:${u.id}:${u.updated_at}`, type: "ondemand", outcome: "created" },
    ]);
    report("me on-demand sync", { sql_round_trips: first.sql, clerk_requests: first.clerk });
  });

  it("links the pre-registered profile with the same verified email", async () => {
    const id = await preRegister("pre@example.test", "Nome Pré", "turma_pre");
    const u = inClerk({ email: "pre@example.test" });
    const r = await me(bearer(token({ sub: u.id })));
    expect(r.body).toMatchObject({
      source: "clerk",
      mentorado: { id, nome_completo: "Nome Pré", turma: "turma_pre", origem: "pre_registered" },
    });
    expect(await allMentorados()).toHaveLength(1);
    expect(await allOutbox()).toHaveLength(1);
  });

  it("a user without a verified email: mentorado null, the user is stored", async () => {
    const u = inClerk({ email: "unverified@example.test", verified: false });
    const r = await me(bearer(token({ sub: u.id })));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true, clerk_id: u.id, source: "clerk", mentorado: null });
    expect(await allUsers()).toHaveLength(1);
    expect(await allMentorados()).toEqual([]);
    expect((await me(bearer(token({ sub: u.id })))).body.source).toBe("database");
  });

  it("a token for A never returns B", async () => {
    const a = buildUser({ email: "a.person@example.test", firstName: "Alice", lastName: "A" });
    const b = buildUser({ email: "b.person@example.test", firstName: "Bruno", lastName: "B" });
    await deliver(userEvent("user.created", a));
    await deliver(userEvent("user.created", b));
    const c = inClerk({ email: "c.person@example.test", firstName: "Carla", lastName: "C" });
    for (const [who, name] of [
      [a, "Alice A"],
      [b, "Bruno B"],
      [c, "Carla C"],
    ] as const) {
      const r = await me(bearer(token({ sub: who.id })));
      expect(r.body.clerk_id).toBe(who.id);
      expect(r.body.mentorado?.nome_completo).toBe(name);
      const text = JSON.stringify(r.body);
      for (const other of [a, b, c].filter((x) => x !== who)) expect(text).not.toContain(other.id);
      expect(text).not.toContain("@");
    }
  });

  it("a later webhook with the same Clerk version is stale; a newer one still updates", async () => {
    const u = inClerk({ email: "later@example.test", firstName: "Antes" });
    expect((await me(bearer(token({ sub: u.id })))).body.source).toBe("clerk");
    expect((await deliver(userEvent("user.created", u))).body.outcome).toBe("stale");
    const newer = { ...u, first_name: "Depois", updated_at: u.updated_at + 1000 };
    expect((await deliver(userEvent("user.updated", newer))).body.outcome).toBe("applied");
    expect((await userByClerkId(u.id))?.firstName).toBe("Depois");
    expect(await allMentorados()).toHaveLength(1);
    expect(await allOutbox()).toHaveLength(1);
  });
});

describe("GET /api/me: deleted users, and Clerk failing", () => {
  it("a deleted user (tombstone): 410, no Clerk request, never revived", async () => {
    const u = inClerk({ email: "gone@example.test" });
    await deliver(userEvent("user.created", u));
    await deliver(deletedEvent(u.id));
    const before = await snapshot();
    const { r, clerk: asked } = await counted(() => me(bearer(token({ sub: u.id }))));
    expect(r.status).toBe(410);
    expect(r.body).toMatchObject({ ok: false, error: "user_deleted" });
    expect(asked).toBe(0);
    expect(await snapshot()).toBe(before);
  });

  it("deleted before any user.created arrived (tombstone first): 410 although Clerk still lists it", async () => {
    const u = inClerk({ email: "early.gone@example.test" });
    await deliver(deletedEvent(u.id));
    const before = await snapshot();
    expect((await me(bearer(token({ sub: u.id })))).status).toBe(410);
    expect(await snapshot()).toBe(before);
  });

  it("Clerk answers 404 (deleted before any webhook): 410, nothing written", async () => {
    const before = await snapshot();
    const { r, clerk: asked } = await counted(() =>
      me(bearer(token({ sub: "user_neverheardof" }))),
    );
    expect(r.status).toBe(410);
    expect(r.body.error).toBe("user_deleted");
    expect(asked).toBe(1);
    expect(await snapshot()).toBe(before);
  });

  it.each([
    ["503", () => Object.assign(clerk.faults, { failNext: 1, status: 503 }), "5"],
    ["500", () => Object.assign(clerk.faults, { failNext: 1, status: 500 }), "5"],
    ["network reset", () => Object.assign(clerk.faults, { resetNext: 1 + BUN_RESET_RETRIES }), "5"],
  ])(
    "Clerk %s: 503 with Retry-After, nothing written, one Clerk request",
    async (_n, fault, retryAfter) => {
      const u = inClerk({ email: "flaky@example.test" });
      fault();
      const before = await snapshot();
      const { r, clerk: asked } = await counted(() => me(bearer(token({ sub: u.id }))));
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ ok: false, error: "clerk_unavailable" });
      expect(r.headers.get("retry-after")).toBe(retryAfter);
      // Bun's fetch retries a GET once, on a new connection, when a reused keep-alive connection
      // is reset: there the stand-in resets both, and sees our one request twice.
      expect(asked).toBe(_n === "network reset" ? 1 + BUN_RESET_RETRIES : 1);
      expect(await snapshot()).toBe(before);
      // Once Clerk is back, the same request succeeds.
      expect((await me(bearer(token({ sub: u.id })))).body.source).toBe("clerk");
    },
  );

  it("Clerk 429: 503 with Clerk's Retry-After, nothing written", async () => {
    const u = inClerk({ email: "limited@example.test" });
    clerk.setRateLimit({ requests: 0, windowMs: 7000 });
    const before = await snapshot();
    const r = await me(bearer(token({ sub: u.id })));
    expect(r.status).toBe(503);
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(Number(r.headers.get("retry-after"))).toBeLessThanOrEqual(7);
    expect(await snapshot()).toBe(before);
  });
});

describe("GET /api/me: races with the webhook (many users at once)", () => {
  it("webhook and /api/me for the same new users, concurrently, in any order: one user, one profile, one welcome each", async () => {
    const n = size(30, 300);
    const people = Array.from({ length: n }, (_, i) => {
      const email = `race${i}@example.test`;
      const u = buildUser({ email, firstName: `Race${i}`, lastName: "R" });
      return { i, email, u, pre: i % 3 === 0 };
    });
    for (const p of people) if (p.pre) await preRegister(p.email, `Pre ${p.i}`);
    clerk.putUsers(people.map((p) => p.u));
    const seed = Date.now() % 100_000;
    const calls = shuffle(
      people.flatMap((p) => [
        async () => ({
          kind: "webhook" as const,
          p,
          a: await deliver(userEvent("user.created", p.u), { svixId: clerkId("msg") }),
        }),
        async () => ({ kind: "me" as const, p, a: await me(bearer(token({ sub: p.u.id }))) }),
        async () => ({ kind: "me" as const, p, a: await me(bearer(token({ sub: p.u.id }))) }),
      ]),
      rng(seed),
    );
    const results = await Promise.all(calls.map((c) => c()));
    for (const r of results)
      expect(r.a.status, `seed ${seed}: ${JSON.stringify(r.a.body)}`).toBe(200);
    const users = await allUsers();
    const mentorados = await allMentorados();
    const outbox = await allOutbox();
    expect(users).toHaveLength(n);
    expect(mentorados).toHaveLength(n);
    expect(outbox).toHaveLength(n);
    for (const p of people) {
      const user = users.find((x) => x.clerkId === p.u.id)!;
      const profile = mentorados.find((m) => m.userId === user.id)!;
      expect(profile.email.toLowerCase()).toBe(p.email);
      expect(profile.origem).toBe(p.pre ? "pre_registered" : "clerk_signup");
      for (const r of results.filter((x) => x.p === p && x.kind === "me")) {
        expect((r.a as MeAnswer).body.mentorado?.id).toBe(profile.id);
      }
    }
    const ledger = await getDb().execute<{ outcome: string; n: number }>(
      sql`select outcome, count(*)::int as n from clerk_sync.clerk_webhook_events group by 1 order by 1`,
    );
    const count = (o: string) => ledger.rows.find((r) => r.outcome === o)?.n ?? 0;
    // Exactly one delivery per person wrote the profile link. Ledger: every webhook, plus at most
    // one on-demand delivery per person (both /api/me calls of a person share its id; none when
    // the user was already stored).
    expect(count("created") + count("linked")).toBe(n);
    const byType = await getDb().execute<{ type: string; n: number; people: number }>(
      sql`select type, count(*)::int as n, count(distinct clerk_user_id)::int as people
        from clerk_sync.clerk_webhook_events group by 1 order by 1`,
    );
    const ofType = (t: string) => byType.rows.find((r) => r.type === t);
    expect(ofType("user.created")).toMatchObject({ n, people: n });
    const onDemand = ofType("ondemand") ?? { n: 0, people: 0 };
    expect(onDemand.n).toBe(onDemand.people);
    expect(onDemand.n).toBeLessThanOrEqual(n);
    report("me race", {
      users: n,
      calls: calls.length,
      ondemand_rows: onDemand.n,
      ...Object.fromEntries(ledger.rows.map((r) => [r.outcome, r.n])),
    });
  });
});

describe("GET /api/me: CORS", () => {
  it("preflight from an authorized party: 204, that origin, the authorization header, no credentials", async () => {
    const r = await me(null, {
      method: "OPTIONS",
      origin: APP,
      headers: {
        "access-control-request-method": "GET",
        "access-control-request-headers": "authorization",
      },
    });
    expect(r.status).toBe(204);
    expect(r.headers.get("access-control-allow-origin")).toBe(APP);
    expect(r.headers.get("access-control-allow-headers")).toBe("authorization");
    expect(r.headers.get("access-control-allow-methods")).toContain("GET");
    expect(r.headers.get("access-control-allow-credentials")).toBeNull();
    expect(r.headers.get("vary")).toMatch(/origin/i);
  });

  it("preflight from any other origin: 403, no allow-origin", async () => {
    const r = await me(null, { method: "OPTIONS", origin: "https://evil.example" });
    expect(r.status).toBe(403);
    expect(r.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("answers carry allow-origin for authorized parties only (200 and 401 alike)", async () => {
    const u = buildUser({ email: "cors@example.test" });
    await deliver(userEvent("user.created", u));
    const ok = await me(bearer(token({ sub: u.id })), { origin: APP });
    expect(ok.headers.get("access-control-allow-origin")).toBe(APP);
    const denied = await me(null, { origin: APP });
    expect(denied.status).toBe(401);
    expect(denied.headers.get("access-control-allow-origin")).toBe(APP);
    const other = await me(bearer(token({ sub: u.id })), { origin: "https://evil.example" });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("without CLERK_AUTHORIZED_PARTIES: no CORS at all, azp not checked", async () => {
    delete process.env.CLERK_AUTHORIZED_PARTIES;
    const u = buildUser({ email: "nocors@example.test" });
    await deliver(userEvent("user.created", u));
    const r = await me(bearer(token({ sub: u.id, azp: undefined })), { origin: APP });
    expect(r.status).toBe(200);
    expect(r.headers.get("access-control-allow-origin")).toBeNull();
    expect((await me(null, { method: "OPTIONS", origin: APP })).status).toBe(403);
  });
});

describe("GET /api/me: methods, configuration and logs", () => {
  it("other methods: 405 with allow, nothing read", async () => {
    const { r, sql: trips } = await counted(() => me(null, { method: "POST" }));
    expect(r.status).toBe(405);
    expect(r.headers.get("allow")).toBe("GET, HEAD, OPTIONS");
    expect(trips).toBe(0);
  });

  it("accepts CLERK_JWT_KEY in its one-line \\n-escaped form", async () => {
    process.env.CLERK_JWT_KEY = pem.replace(/\n/g, "\\n");
    const u = buildUser({ email: "oneline@example.test" });
    await deliver(userEvent("user.created", u));
    expect((await me(bearer(token({ sub: u.id })))).status).toBe(200);
  });

  it.each([
    ["CLERK_JWT_KEY unset", () => delete process.env.CLERK_JWT_KEY, ["CLERK_JWT_KEY"]],
    [
      "CLERK_JWT_KEY not a public key",
      () =>
        (process.env.CLERK_JWT_KEY = "-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----"),
      ["CLERK_JWT_KEY"],
    ],
    [
      "CLERK_JWT_KEY a private key",
      () => (process.env.CLERK_JWT_KEY = key.export({ type: "pkcs8", format: "pem" }).toString()),
      ["CLERK_JWT_KEY"],
    ],
    ["CLERK_SECRET_KEY unset", () => delete process.env.CLERK_SECRET_KEY, ["CLERK_SECRET_KEY"]],
    [
      "CLERK_AUTHORIZED_PARTIES not origins",
      () => (process.env.CLERK_AUTHORIZED_PARTIES = "app.example.test/path"),
      ["CLERK_AUTHORIZED_PARTIES"],
    ],
  ])(
    "%s: 500 misconfigured, the log names the variable, nothing read",
    async (_n, breakIt, variables) => {
      breakIt();
      captured.length = 0;
      const {
        r,
        sql: trips,
        clerk: asked,
      } = await counted(() => me(bearer(token({ sub: "user_x1" }))));
      expect(r.status).toBe(500);
      expect(r.body).toMatchObject({ ok: false, error: "misconfigured" });
      expect(JSON.stringify(r.body)).not.toContain("CLERK");
      expect(trips + asked).toBe(0);
      expect(meLogs()).toEqual([
        expect.objectContaining({ level: "error", status: 500, variables }),
      ]);
    },
  );

  it("Clerk refuses the secret key: 500, CLERK_SECRET_KEY named in the log, nothing written", async () => {
    process.env.CLERK_SECRET_KEY = "sk_test_wrong";
    const u = inClerk({ email: "badkey@example.test" });
    captured.length = 0;
    const r = await me(bearer(token({ sub: u.id })));
    expect(r.status).toBe(500);
    expect(meLogs()).toEqual([
      expect.objectContaining({ status: 500, clerk_status: 401, variables: ["CLERK_SECRET_KEY"] }),
    ]);
    expect(await allUsers()).toEqual([]);
  });

  it("one structured line per request: outcome, source, status, ms, SQL round trips, Clerk requests; no token, email or name", async () => {
    const u = inClerk({ email: "logged@example.test", firstName: "Logada", lastName: "Pessoa" });
    sensitive.add("Logada");
    const t = token({ sub: u.id });
    captured.length = 0;
    await me(bearer(t));
    await me(bearer(t));
    await me(null);
    const lines = meLogs();
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({
      outcome: "created",
      source: "clerk",
      status: 200,
      sql_round_trips: 2,
      clerk_requests: 1,
    });
    expect(lines[1]).toMatchObject({
      outcome: "found",
      source: "database",
      status: 200,
      sql_round_trips: 1,
      clerk_requests: 0,
    });
    expect(lines[2]).toMatchObject({
      outcome: "rejected",
      error: "missing_token",
      status: 401,
      sql_round_trips: 0,
      clerk_requests: 0,
    });
    for (const l of lines) expect(typeof l.ms).toBe("number");
    const text = captured.join("\n");
    expect(text).not.toContain(t);
    expect(text).not.toContain("logged@example.test");
    expect(text).not.toContain("Logada");
  });
});
