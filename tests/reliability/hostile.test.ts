// Hostile input, property-based (fast-check), through HTTP: never a 5xx, nothing written for an
// invalid request, a signature never accepted for a modified body or a stale/future timestamp, and
// hostile-but-valid content stored exactly as sent.
import { sql } from "drizzle-orm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LIMITS } from "../../lib/clerk/schemas.js";
import { getDb } from "../../lib/db.js";
import { buildUser, clerkId, svixHeaders, userEvent } from "../fixtures/clerk.js";
import { TEST_SECRET } from "../helpers/constants.js";
import { stats } from "../helpers/endpoint-control.js";
import { report, size, useWebhookServer } from "../helpers/http.js";
import { snapshot } from "../helpers/webhook.js";

const server = useWebhookServer();

const runs = size(60, 600);
let requests = 0;

async function send(body: string | Uint8Array, headers: Record<string, string>) {
  requests++;
  const payload = typeof body === "string" ? body : new Uint8Array(body);
  const res = await fetch(server.url, { method: "POST", headers, body: payload });
  const json = (await res.json()) as { ok: boolean; outcome?: string; error?: string };
  return { status: res.status, ...json };
}

function signed(body: string, timestamp?: number, svixId = clerkId("msg")) {
  return svixHeaders(body, { secret: TEST_SECRET, svixId, timestamp });
}

/** Asserts that running fn made no SQL request and changed no row. */
async function writesNothing(fn: () => Promise<void>) {
  const snap = await snapshot();
  const before = (await stats()).requests;
  await fn();
  expect((await stats()).requests - before).toBe(0);
  expect(await snapshot()).toBe(snap);
}

const headerValue = fc.stringMatching(/^[\x21-\x7e]{0,80}$/);

describe("hostile input", () => {
  it("never answers 5xx to arbitrary bodies and headers, and writes nothing", async () => {
    await writesNothing(async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.string({ maxLength: 2000 }), fc.json(), fc.uint8Array({ maxLength: 2000 })),
          fc.record(
            {
              "svix-id": headerValue,
              "svix-timestamp": headerValue,
              "svix-signature": headerValue,
            },
            { requiredKeys: [] },
          ),
          async (body, headers) => {
            const r = await send(body, headers);
            expect(r.status).toBe(400);
            expect(r.ok).toBe(false);
          },
        ),
        { numRuns: runs },
      );
    });
  });

  it("never accepts a truncated or bit-flipped signed body", async () => {
    const body = JSON.stringify(
      userEvent("user.created", buildUser({ email: "mallory@example.com" })),
    );
    await writesNothing(async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.integer({ min: 0, max: body.length - 1 }).map((n) => Buffer.from(body.slice(0, n))),
            fc
              .tuple(fc.integer({ min: 0, max: body.length - 1 }), fc.integer({ min: 0, max: 7 }))
              .map(([at, bit]) => {
                const bytes = Buffer.from(body);
                bytes[at] = (bytes[at] ?? 0) ^ (1 << bit);
                return bytes;
              }),
          ),
          async (mutated) => {
            const r = await send(mutated, signed(body));
            expect(r.status).toBe(400);
            expect(["invalid_signature", "body_not_utf8"]).toContain(r.error);
          },
        ),
        { numRuns: runs },
      );
    });
  });

  it("never accepts a timestamp more than 5 minutes away, signed or not", async () => {
    const body = JSON.stringify(
      userEvent("user.created", buildUser({ email: "late@example.com" })),
    );
    await writesNothing(async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 301, max: 10 * 365 * 86400 }),
          fc.boolean(),
          async (offset, future) => {
            const ts = Math.floor(Date.now() / 1000) + (future ? offset + 1 : -offset - 1);
            const r = await send(body, signed(body, ts));
            expect(r.status).toBe(400);
            expect(r.error).toBe("timestamp_out_of_tolerance");
          },
        ),
        { numRuns: runs },
      );
    });
  });

  it("refuses deep or huge JSON with a 4xx", async () => {
    await writesNothing(async () => {
      for (const body of [
        "[".repeat(600_000),
        `{"type":"user.created","data":${"[".repeat(200_000)}${"]".repeat(200_000)}}`,
        JSON.stringify({ type: "user.created", data: { id: "x".repeat(900_000) } }),
        "x".repeat(1024 * 1024 + 1),
      ]) {
        const r = await send(body, signed(body));
        expect(r.status === 400 || r.status === 413).toBe(true);
      }
    });
  });

  it("stores unicode, emoji, SQL-looking and maximal names and emails exactly, refuses longer ones", async () => {
    const text = fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 40 }),
      fc.constantFrom(
        "Robert'); DROP TABLE users;--",
        "' OR 1=1 --",
        "$1",
        "\\x00",
        "😀👩🏽‍💻",
        "Zoë Ñuñez-Łukasz",
        "null",
      ),
      fc.string({ minLength: LIMITS.firstName - 6, maxLength: LIMITS.firstName }),
      fc.string({ minLength: 20_000, maxLength: 60_000 }),
      // Any code point, lone surrogates included: Postgres cannot store those, so they are refused.
      fc.string({ unit: "binary", maxLength: 12 }),
    );
    const email = fc
      .tuple(
        fc.stringMatching(/^[a-z0-9]{1,12}$/),
        fc.stringMatching(/^[a-z0-9]{0,8}$/),
        fc.constantFrom("", " ", "  "),
      )
      .map(([local, tag, pad]) => `${pad}${local}${tag ? `+${tag}` : ""}@Example.COM${pad}`);
    let stored = 0;
    await fc.assert(
      fc.asyncProperty(text, text, email, async (first, last, mail) => {
        const user = buildUser({ email: mail, firstName: first, lastName: last });
        const body = JSON.stringify(userEvent("user.created", user));
        const r = await send(body, signed(body));
        // Over its documented maximum a name is refused like unstorable text: 400, nothing written.
        const storable = (t: string) =>
          !t.includes("\u0000") && t.isWellFormed() && t.length <= LIMITS.firstName;
        if (!storable(first) || !storable(last)) {
          expect(r.status).toBe(400);
          return;
        }
        expect(r.status).toBe(200);
        const row = await getDb().execute<{
          first_name: string;
          last_name: string;
          email: string;
          key: string;
        }>(
          sql`select first_name, last_name, email, email_key(email) as key
            from users where clerk_id = ${user.id}`,
        );
        // The address is stored as Clerk sent it; email_key() is what matches it (ASCII here).
        expect(row.rows[0]).toEqual({
          first_name: first,
          last_name: last,
          email: mail,
          key: mail.trim().toLowerCase(),
        });
        stored++;
      }),
      { numRuns: size(40, 300) },
    );
    expect(stored).toBeGreaterThan(0);
  });

  it("ignores prototype-pollution keys", async () => {
    const user = buildUser({ email: "proto@example.com" });
    const body = JSON.stringify(userEvent("user.created", user))
      .replace(
        '"public_metadata":{}',
        '"public_metadata":{"__proto__":{"turma":"hack","polluted":true},"constructor":{"prototype":{"polluted":true}}}',
      )
      .replace(
        '"data":{',
        '"data":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},',
      );
    const r = await send(body, signed(body));
    expect(r.status).toBe(200);
    expect(r.outcome).toBe("created");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const m = await getDb().execute<{ turma: string }>(sql`select turma from mentorados`);
    expect(m.rows).toEqual([{ turma: "neon_estrutura" }]);
  });

  it("reports its figures", () => {
    report("hostile-input", { runs_per_property: runs, requests });
    expect(requests).toBeGreaterThan(0);
  });
});
