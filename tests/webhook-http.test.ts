// Every row of DESIGN.md's HTTP table, through the real handler; none of the refusals may reach
// the database.
import { afterEach, describe, expect, it } from "vitest";
import { buildUser, clerkId, deletedEvent, userEvent } from "./fixtures/clerk.js";
import { OTHER_SECRET, TEST_SECRET } from "./helpers/constants.js";
import { control, countRoundTrips } from "./helpers/endpoint-control.js";
import { captured, sensitive } from "./helpers/log-capture.js";
import { call, deliver, signedRequest, snapshot, WEBHOOK_URL } from "./helpers/webhook.js";

sensitive.add("ana@example.com");

const event = () => userEvent("user.created", buildUser({ email: "ana@example.com" }));

/** Runs a request that must not touch the database: no SQL request, nothing changed. */
async function untouched(request: Request) {
  const before = await snapshot();
  let answer: Awaited<ReturnType<typeof call>> | undefined;
  const trips = await countRoundTrips(async () => {
    answer = await call(request);
  });
  expect(trips).toBe(0);
  expect(await snapshot()).toBe(before);
  expect(answer!.headers.get("content-type")).toMatch(/^application\/json/);
  return answer!;
}

/** A refused request: as untouched(), and the answer is a JSON error. */
async function refused(request: Request) {
  const answer = await untouched(request);
  expect(answer.body.ok).toBe(false);
  expect(typeof answer.body.error).toBe("string");
  return answer;
}

afterEach(async () => {
  await control({ faults: {} });
  process.env.CLERK_WEBHOOK_SIGNING_SECRET = TEST_SECRET;
});

describe("signature", () => {
  it.each([["svix-id"], ["svix-timestamp"], ["svix-signature"]])(
    "400 when %s is missing",
    async (h) => {
      const r = await refused(signedRequest(event(), { headers: { [h]: null } }));
      expect(r.status).toBe(400);
      expect(r.body.error).toBe("missing_svix_headers");
    },
  );

  it("400 for a signature made with another secret", async () => {
    const r = await refused(signedRequest(event(), { secret: OTHER_SECRET }));
    expect(r.status).toBe(400);
    expect(r.body.error).toBe("invalid_signature");
  });

  it("400 when the body was changed after signing", async () => {
    const good = signedRequest(event());
    const tampered = new Request(WEBHOOK_URL, {
      method: "POST",
      headers: good.headers,
      body: (await good.text()).replace("ana@example.com", "eve@example.com"),
    });
    expect((await refused(tampered)).body.error).toBe("invalid_signature");
  });

  it("400 for a timestamp 6 minutes old and 6 minutes ahead", async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const ts of [now - 360, now + 360]) {
      const r = await refused(signedRequest(event(), { timestamp: ts }));
      expect(r.status).toBe(400);
      expect(r.body.error).toBe("timestamp_out_of_tolerance");
    }
  });

  it("400 for a non-numeric timestamp", async () => {
    const r = await refused(signedRequest(event(), { headers: { "svix-timestamp": "12abc" } }));
    expect(r.body.error).toBe("invalid_signature");
  });

  it("accepts a timestamp 4 minutes old", async () => {
    const r = await deliver(event(), { timestamp: Math.floor(Date.now() / 1000) - 240 });
    expect(r.body).toEqual({ ok: true, outcome: "created" });
  });

  it("accepts either of two configured secrets (rotation), comma or space separated", async () => {
    process.env.CLERK_WEBHOOK_SIGNING_SECRET = `${TEST_SECRET}, ${OTHER_SECRET}`;
    expect((await deliver(event(), { secret: OTHER_SECRET })).body.outcome).toBe("created");
    process.env.CLERK_WEBHOOK_SIGNING_SECRET = `${OTHER_SECRET} ${TEST_SECRET}`;
    expect((await deliver(event(), { secret: TEST_SECRET })).body.outcome).toBe("conflict");
  });
});

describe("body", () => {
  it("400 for a signed body that is not JSON", async () => {
    const r = await refused(signedRequest("{not json"));
    expect(r.status).toBe(400);
    expect(r.body.error).toBe("invalid_json");
  });

  it("400 for signed JSON that is not a Clerk event", async () => {
    for (const body of [
      '{"hello":"world"}',
      "[]",
      "null",
      '"x"',
      '{"type":"user.created","data":{"id":"user_1"}}',
    ]) {
      const r = await refused(signedRequest(body));
      expect(r.status).toBe(400);
      expect(r.body.error).toBe("invalid_event");
    }
  });

  it("400 for a user event missing required fields", async () => {
    const user = buildUser({ email: "ana@example.com" });
    const { updated_at: _drop, ...noUpdatedAt } = user;
    const r = await refused(
      signedRequest({ type: "user.created", data: noUpdatedAt as typeof user }),
    );
    expect(r.body.error).toBe("invalid_event");
    expect(r.body.message).toContain("updated_at");
  });

  it("400 for text Postgres cannot store (NUL byte)", async () => {
    const r = await refused(
      signedRequest(userEvent("user.created", buildUser({ firstName: "a\u0000b" }))),
    );
    expect(r.body.error).toBe("invalid_event");
  });

  it("413 for a body over 1 MiB, by content-length or by bytes read", async () => {
    const big = JSON.stringify({ ...event(), padding: "x".repeat(1024 * 1024) });
    const r = await refused(signedRequest(big));
    expect(r.status).toBe(413);
    expect(r.body.error).toBe("payload_too_large");

    const good = signedRequest(big);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode(big));
        c.close();
      },
    });
    const noLength = new Request(WEBHOOK_URL, {
      method: "POST",
      headers: good.headers,
      body: stream,
      duplex: "half",
    } as RequestInit);
    noLength.headers.delete("content-length");
    const r2 = await refused(noLength);
    expect(r2.status).toBe(413);
  });

  it("accepts a body of just under 1 MiB", async () => {
    const e = event();
    const padded = JSON.stringify({
      ...e,
      padding: "x".repeat(1024 * 1024 - JSON.stringify(e).length - 20),
    });
    expect(Buffer.byteLength(padded)).toBeLessThanOrEqual(1024 * 1024);
    expect((await deliver(padded)).body.outcome).toBe("created");
  });
});

describe("method and event type", () => {
  it.each(["GET", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])(
    "405 with allow: POST for %s",
    async (method) => {
      const r = await refused(signedRequest(event(), { method }));
      expect(r.status).toBe(405);
      expect(r.headers.get("allow")).toBe("POST");
    },
  );

  it("200 ignored for an unknown event type, with no SQL and no ledger row", async () => {
    for (const type of [
      "session.created",
      "organization.created",
      "email.created",
      "user.banned",
    ]) {
      const r = await untouched(signedRequest({ type, object: "event", data: { id: "x" } }));
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ ok: true, outcome: "ignored" });
    }
  });
});

describe("configuration and database faults", () => {
  it("500 without detail when the signing secret is missing, logged loudly", async () => {
    delete process.env.CLERK_WEBHOOK_SIGNING_SECRET;
    const r = await refused(signedRequest(event()));
    expect(r.status).toBe(500);
    expect(r.body).toEqual({
      ok: false,
      error: "misconfigured",
      message: "The service is misconfigured.",
    });
    const line = captured.at(-1)!;
    expect(JSON.parse(line)).toMatchObject({
      level: "error",
      variables: ["CLERK_WEBHOOK_SIGNING_SECRET"],
    });
  });

  it("500 when DATABASE_URL is missing", async () => {
    const saved = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    let r: Awaited<ReturnType<typeof call>> | undefined;
    const trips = await countRoundTrips(async () => {
      try {
        r = await call(signedRequest(event()));
      } finally {
        process.env.DATABASE_URL = saved;
      }
    });
    expect(trips).toBe(0);
    expect(r!.status).toBe(500);
    expect(r!.body.error).toBe("misconfigured");
    expect(JSON.parse(captured.at(-1)!).variables).toEqual(["DATABASE_URL"]);
    expect(JSON.parse(await snapshot()).users).toEqual([]);
  });

  it("500 for a malformed secret", async () => {
    process.env.CLERK_WEBHOOK_SIGNING_SECRET = "not-a-secret";
    expect((await refused(signedRequest(event()))).status).toBe(500);
  });

  it("503 with nothing written when the database is unreachable", async () => {
    const saved = process.env.NEON_LOCAL_FETCH_ENDPOINT;
    process.env.NEON_LOCAL_FETCH_ENDPOINT = "http://127.0.0.1:9/sql";
    try {
      const r = await call(signedRequest(event()));
      expect(r.status).toBe(503);
      expect(r.body.error).toBe("database_unavailable");
    } finally {
      process.env.NEON_LOCAL_FETCH_ENDPOINT = saved;
    }
    expect(JSON.parse(await snapshot()).users).toEqual([]);
  });

  it("503 with nothing written when the batch fails at its last statement; redelivery converges", async () => {
    const e = event();
    const svixId = clerkId("msg");
    await control({ faults: { failLastStatementOfNextBatches: 1 } });
    const r = await call(signedRequest(e, { svixId }));
    expect(r.status).toBe(503);
    const empty = JSON.parse(await snapshot());
    expect([empty.users, empty.mentorados, empty.ledger, empty.outbox]).toEqual([[], [], [], []]);
    expect(JSON.parse(captured.at(-1)!)).toMatchObject({ status: 503, sqlstate: "22012" });
    const again = await deliver(e, { svixId });
    expect(again.body).toEqual({ ok: true, outcome: "created" });
  });

  it("retries a serialization failure inside the request", async () => {
    await control({ faults: { serializationFailures: 2 } });
    let r: Awaited<ReturnType<typeof call>> | undefined;
    const trips = await countRoundTrips(async () => {
      r = await call(signedRequest(deletedEvent(clerkId("user"))));
    });
    expect(r!.body.outcome).toBe("deleted");
    expect(trips).toBe(3);
    expect(JSON.parse(captured.at(-1)!).sql_round_trips).toBe(3);
  });

  it("answers 503 after three serialization failures", async () => {
    await control({ faults: { serializationFailures: 3 } });
    expect((await call(signedRequest(event()))).status).toBe(503);
    expect(JSON.parse(await snapshot()).users).toEqual([]);
  });
});

describe("logging", () => {
  it("writes one JSON line per request with id, type, outcome, status, ms and round trips", async () => {
    const svixId = clerkId("msg");
    const before = captured.length;
    await deliver(event(), { svixId });
    expect(captured.length).toBe(before + 1);
    const line = JSON.parse(captured.at(-1)!);
    expect(line).toMatchObject({
      event: "clerk_webhook",
      svix_id: svixId,
      type: "user.created",
      outcome: "created",
      status: 200,
      sql_round_trips: 1,
    });
    expect(typeof line.ms).toBe("number");
  });

  it("redacts a svix-id header that is not an identifier", async () => {
    await call(signedRequest(event(), { headers: { "svix-id": "ana@example.com" } }));
    expect(JSON.parse(captured.at(-1)!).svix_id).toBe("(redacted)");
  });
});
