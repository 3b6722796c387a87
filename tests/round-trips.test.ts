// Guards the performance contract (issue 6) with counts, not timings: every accepted event is
// exactly ONE SQL HTTP request (one Neon round trip, one transaction), whatever its outcome, and a
// rejected or ignored one makes none. A second query on the hot path fails here. Counted at the
// local Neon endpoint (every driver call is one POST to /sql), and cross-checked against the
// `sql_round_trips` the handler logs.
import { afterEach, describe, expect, it } from "vitest";
import { parseClerkEvent } from "../lib/clerk/schemas.js";
import { getDb } from "../lib/db.js";
import { applyUsers, toUserRecord } from "../lib/sync/apply.js";
import {
  buildUser,
  type ClerkEventJson,
  clerkId,
  deletedEvent,
  userEvent,
} from "./fixtures/clerk.js";
import { OTHER_SECRET, TEST_SECRET } from "./helpers/constants.js";
import { countRoundTrips, stats } from "./helpers/endpoint-control.js";
import { post, serveWebhook } from "./helpers/http.js";
import { captured, sensitive } from "./helpers/log-capture.js";
import {
  allLedger,
  allMentorados,
  call,
  type DeliverOptions,
  deliver,
  preRegister,
  signedRequest,
  WEBHOOK_URL,
} from "./helpers/webhook.js";

const EMAILS = ["rt.ana@example.com", "rt.bia@example.com", "rt.caio@example.com"];
for (const s of [...EMAILS, "Ana", "Souza", "Mentorada Pré"]) sensitive.add(s);
const [ANA, BIA] = EMAILS as [string, string, string];

afterEach(() => {
  process.env.CLERK_WEBHOOK_SIGNING_SECRET = TEST_SECRET;
});

/** The handler's latest log line for a delivery id. */
function logged(svixId: string): { outcome?: string; sql_round_trips?: number } {
  const lines = captured
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { event?: string; svix_id?: string })
    .filter((l) => l.event === "clerk_webhook" && l.svix_id === svixId);
  expect(lines.length, `a log line for ${svixId}`).toBeGreaterThan(0);
  return lines[lines.length - 1] as { outcome?: string; sql_round_trips?: number };
}

/** Delivers one signed event and returns its outcome and the SQL requests it made. */
async function measured(
  payload: ClerkEventJson,
  opts: DeliverOptions = {},
): Promise<{ status: number; outcome?: string; trips: number; svixId: string }> {
  const svixId = opts.svixId ?? clerkId("msg");
  let answer: Awaited<ReturnType<typeof deliver>> | undefined;
  const trips = await countRoundTrips(async () => {
    answer = await deliver(payload, { ...opts, svixId });
  });
  return { status: answer!.status, outcome: answer!.body.outcome, trips, svixId };
}

async function expectOneTrip(
  payload: ClerkEventJson,
  outcome: string,
  opts: DeliverOptions = {},
): Promise<void> {
  const r = await measured(payload, opts);
  expect(r.status).toBe(200);
  expect(r.outcome).toBe(outcome);
  expect(r.trips, `SQL HTTP requests for a '${outcome}' event`).toBe(1);
  expect(logged(r.svixId)).toMatchObject({ outcome, sql_round_trips: 1 });
}

describe("exactly one SQL HTTP request per accepted event", () => {
  it("created", async () => {
    await expectOneTrip(userEvent("user.created", buildUser({ email: ANA })), "created");
    expect(await allMentorados()).toHaveLength(1);
  });

  it("linked", async () => {
    await preRegister(ANA);
    await expectOneTrip(userEvent("user.created", buildUser({ email: ANA })), "linked");
    expect((await allMentorados())[0]?.userId).not.toBeNull();
  });

  it("conflict", async () => {
    await preRegister(ANA);
    await deliver(userEvent("user.created", buildUser({ email: ANA })));
    // Another account with the same email: the profile is taken.
    await expectOneTrip(userEvent("user.created", buildUser({ email: ANA })), "conflict");
  });

  it("applied (already linked, and unverified email)", async () => {
    const user = buildUser({ email: ANA });
    await deliver(userEvent("user.created", user));
    const later = { ...user, first_name: "Ana Maria", updated_at: user.updated_at + 1000 };
    await expectOneTrip(userEvent("user.updated", later), "applied");
    await expectOneTrip(
      userEvent("user.created", buildUser({ email: BIA, verified: false })),
      "applied",
    );
  });

  it("stale", async () => {
    const user = buildUser({ email: ANA });
    await deliver(userEvent("user.updated", { ...user, updated_at: user.updated_at + 5000 }));
    await expectOneTrip(userEvent("user.created", user), "stale");
  });

  it("duplicate (a redelivered svix-id), for an upsert and for a deletion", async () => {
    const svixId = clerkId("msg");
    const event = userEvent("user.created", buildUser({ email: ANA }));
    await deliver(event, { svixId });
    await expectOneTrip(event, "duplicate", { svixId });

    const deletion = deletedEvent(clerkId("user"));
    const delId = clerkId("msg");
    await deliver(deletion, { svixId: delId });
    await expectOneTrip(deletion, "duplicate", { svixId: delId });
  });

  it("deleted, for a known user and as a tombstone for an unknown one", async () => {
    const user = buildUser({ email: ANA });
    await deliver(userEvent("user.created", user));
    await expectOneTrip(deletedEvent(user.id), "deleted");
    await expectOneTrip(deletedEvent(clerkId("user")), "deleted");
  });

  it("one per event under concurrent deliveries", async () => {
    for (const e of EMAILS.slice(0, 2)) await preRegister(e);
    const events = Array.from({ length: 8 }, (_, i) =>
      userEvent("user.created", buildUser({ email: EMAILS[i % 3]!.replace("@", `+${i}@`) })),
    );
    events.push(userEvent("user.created", buildUser({ email: ANA })));
    events.push(userEvent("user.created", buildUser({ email: BIA })));
    const trips = await countRoundTrips(() => Promise.all(events.map((e) => deliver(e))));
    expect(trips).toBe(events.length);
    expect(await allLedger()).toHaveLength(events.length);
  });

  it("one over real HTTP too (a declared content-length, as Svix sends)", async () => {
    const served = await serveWebhook();
    try {
      const svixId = clerkId("msg");
      const body = JSON.stringify(userEvent("user.created", buildUser({ email: ANA })));
      const before = (await stats()).requests;
      const first = await post(served.url, { svixId, body });
      const again = await post(served.url, { svixId, body });
      expect([first.status, first.outcome, again.outcome]).toEqual([200, "created", "duplicate"]);
      expect((await stats()).requests - before).toBe(2);
    } finally {
      await served.close();
    }
  });

  it("one for a backfill page of many users (the same statements, as a set)", async () => {
    const records = Array.from({ length: 25 }, (_, i) => {
      const parsed = parseClerkEvent(
        userEvent("user.created", buildUser({ email: `rt.page.${i}@example.com` })),
      );
      if (!parsed.ok || parsed.event.kind !== "upsert") throw new Error("fixture did not parse");
      return toUserRecord(
        parsed.event.user,
        { svixId: `backfill_rt_${i}`, type: "user.created", timestampSeconds: null },
        "neon_estrutura",
      );
    });
    const trips = await countRoundTrips(() => applyUsers(getDb(), records));
    expect(trips).toBe(1);
    expect(await allMentorados()).toHaveLength(25);
  });
});

describe("no SQL request for a rejected or ignored event", () => {
  const body = () => userEvent("user.created", buildUser({ email: ANA }));
  const cases: [string, () => Request, number, string?][] = [
    ["missing svix headers", () => signedRequest(body(), { headers: { "svix-id": null } }), 400],
    ["a signature by another secret", () => signedRequest(body(), { secret: OTHER_SECRET }), 400],
    [
      "a timestamp out of tolerance",
      () => signedRequest(body(), { timestamp: Math.floor(Date.now() / 1000) - 3600 }),
      400,
    ],
    ["a body that is not JSON", () => signedRequest("{not json"), 400],
    [
      "JSON that is not a Clerk event",
      () => signedRequest(JSON.stringify({ type: "user.created", data: { id: 1 } })),
      400,
    ],
    [
      "a body over 1 MiB",
      () => signedRequest(JSON.stringify({ ...body(), pad: "x".repeat(1024 * 1024) })),
      413,
    ],
    ["a GET", () => signedRequest(body(), { method: "GET" }), 405],
    [
      "an event type we do not handle",
      () => signedRequest({ type: "session.created", object: "event", data: { id: "sess_1" } }),
      200,
      "ignored",
    ],
    ["a user.deleted without an id", () => signedRequest(deletedEvent(null)), 200, "ignored"],
  ];

  // Every row gets its fourth value: Bun's it.each passes a `done` callback in a missing one.
  const rows = cases.map(([n, r, st, o]) => [n, r, st, o ?? ""] as const);
  it.each(rows)("%s", async (_name, request, status, outcome) => {
    let answer: Awaited<ReturnType<typeof call>> | undefined;
    const trips = await countRoundTrips(async () => {
      answer = await call(request());
    });
    expect(answer!.status).toBe(status);
    if (outcome) expect(answer!.body.outcome).toBe(outcome);
    expect(trips).toBe(0);
  });

  it("a misconfigured function (no signing secret)", async () => {
    delete process.env.CLERK_WEBHOOK_SIGNING_SECRET;
    let status = 0;
    const trips = await countRoundTrips(async () => {
      status = (
        await call(new Request(WEBHOOK_URL, { method: "POST", body: JSON.stringify(body()) }))
      ).status;
    });
    expect(status).toBe(500);
    expect(trips).toBe(0);
  });
});
