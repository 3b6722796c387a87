// The email identity rule (docs/email-identity.md) through the real webhook and the real
// database: which address pairs link a pre-registered profile and which never do, what the SQL
// email_key() computes on arbitrary Unicode, and the migration's refusal of colliding profiles.
import { sql } from "drizzle-orm";
import { readMigrationFiles } from "drizzle-orm/migrator";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { getDb } from "../lib/db.js";
import { MIGRATIONS_FOLDER } from "../scripts/db/migrate.js";
import { buildUser, userEvent } from "./fixtures/clerk.js";
import { allMentorados, allUsers, deliver, preRegister } from "./helpers/webhook.js";

/** Each pair: two addresses, and whether they are the same identity. */
const PAIRS: { name: string; a: string; b: string; same: boolean }[] = [
  {
    name: "identical, dotted capital I",
    a: "İlker-R@example.com",
    b: "İlker-R@example.com",
    same: true,
  },
  {
    name: "identical, final capital sigma",
    a: "ΟΔΥΣ@example.gr",
    b: "ΟΔΥΣ@example.gr",
    same: true,
  },
  {
    name: "identical, Kelvin sign",
    a: "\u212Aelvin-a@example.com",
    b: "\u212Aelvin-a@example.com",
    same: true,
  },
  { name: "identical, sharp s", a: "straße@example.de", b: "straße@example.de", same: true },
  { name: "ASCII case", a: "Ana.Souza@Example.COM", b: "ana.souza@example.com", same: true },
  { name: "NFC / NFD", a: "josé@example.com", b: "jose\u0301@example.com", same: true },
  { name: "NFC / NFD, capital", a: "JOSÉ@example.com", b: "JOSE\u0301@example.com", same: true },
  { name: "NFC / NFD of İ", a: "İlker@example.com", b: "I\u0307lker@example.com", same: true },
  {
    name: "ASCII case + NFC (J + caron / ǰ)",
    a: "J\u030Co@example.com",
    b: "\u01F0o@example.com",
    same: true,
  },
  { name: "tab around", a: "\tana@example.com\t", b: "ana@example.com", same: true },
  { name: "U+00A0 around", a: "\u00A0ana@example.com\u00A0", b: "ana@example.com", same: true },
  {
    name: "spaces and newline around",
    a: "  ana@example.com\r\n",
    b: "ana@example.com",
    same: true,
  },
  {
    name: "ideographic space, U+2028, U+2000 around",
    a: "\u3000\u2028ana@example.com\u2000",
    b: "ana@example.com",
    same: true,
  },
  { name: "space inside", a: "ana @example.com", b: "ana@example.com", same: false },
  {
    name: "zero-width space around (not White_Space)",
    a: "\u200Bana@example.com",
    b: "ana@example.com",
    same: false,
  },
  { name: "İ / i", a: "İlker@example.com", b: "ilker@example.com", same: false },
  {
    name: "İ / i + U+0307 (JavaScript's lower case)",
    a: "İlker@example.com",
    b: "i\u0307lker@example.com",
    same: false,
  },
  {
    name: "I + U+0307 / i + U+0307 (the capital composes to İ, the small letter does not)",
    a: "I\u0307lker@example.com",
    b: "i\u0307lker@example.com",
    same: false,
  },
  { name: "ı / i", a: "ılker@example.com", b: "ilker@example.com", same: false },
  { name: "ı / I", a: "ılker@example.com", b: "ILKER@example.com", same: false },
  { name: "Σ / σ", a: "ΟΔΥΣ@example.gr", b: "οδυσ@example.gr", same: false },
  { name: "Σ / ς", a: "ΟΔΥΣ@example.gr", b: "οδυς@example.gr", same: false },
  { name: "σ / ς", a: "οδυσ@example.gr", b: "οδυς@example.gr", same: false },
  {
    name: "Kelvin sign / k",
    a: "\u212Aelvin-b@example.com",
    b: "kelvin-b@example.com",
    same: false,
  },
  {
    name: "Kelvin sign / K",
    a: "\u212Aelvin-c@example.com",
    b: "Kelvin-c@example.com",
    same: false,
  },
  { name: "ß / ss", a: "straße@example.de", b: "strasse@example.de", same: false },
  { name: "ẞ / ß", a: "STRAẞE@example.de", b: "straße@example.de", same: false },
  { name: "ẞ / SS", a: "STRAẞE@example.de", b: "STRASSE@example.de", same: false },
  { name: "ſ / s", a: "ſam@example.com", b: "sam@example.com", same: false },
  {
    name: "Å / å (non-ASCII case, either form)",
    a: "A\u030Asa@example.se",
    b: "åsa@example.se",
    same: false,
  },
  { name: "fullwidth ＠", a: "ana＠example.com", b: "ana@example.com", same: false },
];

describe("email identity matrix: pre-registered address x Clerk's verified address", () => {
  for (const pair of PAIRS) {
    for (const [registered, signedUp] of [
      [pair.a, pair.b],
      [pair.b, pair.a],
    ] as const) {
      const side = registered === pair.a ? "first" : "second";
      it(`${pair.name} (${side} pre-registered): ${pair.same ? "links" : "never links"}`, async () => {
        const profileId = await preRegister(registered, "Pré-cadastrada");
        const user = buildUser({ email: signedUp });
        const r = await deliver(userEvent("user.created", user));
        expect(r.status).toBe(200);
        const [u] = await allUsers();
        const profiles = await allMentorados();
        if (pair.same) {
          expect(r.body.outcome).toBe("linked");
          expect(profiles.map((m) => [m.id, m.userId])).toEqual([[profileId, u?.id]]);
        } else {
          expect(r.body.outcome).toBe("created");
          expect(profiles.map((m) => [m.id, m.userId, m.email])).toEqual([
            [profileId, null, registered],
            [expect.any(Number), u?.id, signedUp],
          ]);
        }
      });
    }
  }
});

/**
 * email_key() of each string, in one query. Read back as hex: PGlite's result decoding drops a
 * leading U+FEFF (TextDecoder's default), which would hide what the function computed.
 */
async function sqlKeys(values: string[]): Promise<string[]> {
  const r = await getDb().execute<{ k: string }>(sql`
    select encode(convert_to(email_key(t.v), 'UTF8'), 'hex') as k
    from jsonb_array_elements_text(${JSON.stringify(values)}::jsonb) with ordinality as t(v, i)
    order by t.i`);
  return r.rows.map((row) => Buffer.from(row.k, "hex").toString("utf8"));
}

// The rule written a second time, independently, to check the SQL against (test-only: the app
// never computes the key in JavaScript).
const WHITE_SPACE =
  "\t\n\u000B\f\r \u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000";
const ESCAPES: [string, string][] = [
  ["\uFDD0", "\uFDD00"],
  ["\u212A", "\uFDD01"],
  ["\u037E", "\uFDD02"],
  ["\u1FEF", "\uFDD03"],
];
function trimWhiteSpace(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && WHITE_SPACE.includes(s[start] as string)) start++;
  while (end > start && WHITE_SPACE.includes(s[end - 1] as string)) end--;
  return s.slice(start, end);
}
function modelKey(address: string): string {
  let s = address;
  for (const [from, to] of ESCAPES) s = s.replaceAll(from, to);
  s = trimWhiteSpace(s.normalize("NFC"));
  s = s.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return s.normalize("NFC");
}

/**
 * BMP code points whose normalisation Node and this database disagree on: combining marks
 * assigned in a Unicode version newer than the database's tables (U+0897 and U+1ACF-U+1AEB
 * against PostgreSQL 15 and PGlite, with Node 22 and 24). Node gives them a combining class and
 * reorders them; the database treats them as unassigned (class 0) and leaves them in place. Each
 * code point is probed alone (decomposition), before U+0334 (class 1: reordered when the mark's
 * class is above 1) and after U+0301 (class 230: reordered when the mark's class is 1-229).
 * Found by asking the database, not listed by hand, because Node's ICU moves within a major.
 */
let versionDependent: Promise<Set<number>> | undefined;
function unicodeVersionDependent(): Promise<Set<number>> {
  versionDependent ??= (async () => {
    const r = await getDb().execute<{
      cp: number;
      alone: string;
      before: string;
      after: string;
    }>(sql`
      select cp,
        encode(convert_to(email_key(chr(cp)), 'UTF8'), 'hex') as alone,
        encode(convert_to(email_key('q' || chr(cp) || chr(x'0334'::int)), 'UTF8'), 'hex') as before,
        encode(convert_to(email_key('q' || chr(x'0301'::int) || chr(cp)), 'UTF8'), 'hex') as after
      from generate_series(1, 65535) as cp
      where cp not between 55296 and 57343`);
    // Every BMP code point but the surrogates: an empty answer must not read as "no difference".
    expect(r.rows).toHaveLength(0xffff - 0x800);
    const hex = (s: string) => Buffer.from(s, "utf8").toString("hex");
    const found = new Set<number>();
    for (const { cp, alone, before, after } of r.rows) {
      const c = String.fromCodePoint(cp);
      if (
        alone !== hex(modelKey(c)) ||
        before !== hex(modelKey(`q${c}\u0334`)) ||
        after !== hex(modelKey(`q\u0301${c}`))
      )
        found.add(cp);
    }
    return found;
  })();
  return versionDependent;
}

// Code points: the rule's edge cases, and any BMP character but the version-dependent marks
// above. Astral planes only through chosen characters, assigned long ago.
const special = fc.constantFrom(
  ..."AZaz09@.+-_ \t\n\u00A0\u0085\u1680\u2000\u2001\u200A\u2028\u3000\u200B\uFEFF",
  ..."\u212A\u037E\u1FEF\uFDD0Kk;`",
  ..."İıiI\u0307ΣσςßẞſsSÅå\u030A\u0301\u030C\u0327éJjǰ＠Ω\u2126\u00C5\u212B",
  "\u{1D160}",
  "\u{1D15E}",
  "😀",
  "\u{2F800}",
);
const bmp = (excluded: Set<number>) =>
  fc
    .integer({ min: 1, max: 0xffff })
    .filter((c) => (c < 0xd800 || c > 0xdfff) && !excluded.has(c))
    .map((c) => String.fromCodePoint(c));
const text = (excluded: Set<number>) =>
  fc.string({ unit: fc.oneof(special, bmp(excluded)), maxLength: 24 });
const ws = fc.string({ unit: fc.constantFrom(...WHITE_SPACE), maxLength: 3 });
const SINGLETONS = /[\u212A\u037E\u1FEF]/;
const hasNonAscii = (s: string) => [...s].some((c) => (c.codePointAt(0) ?? 0) > 0x7f);

describe("email_key() on arbitrary Unicode", () => {
  it("agrees with Node on every BMP code point except a few marks newer than the database", async () => {
    const excluded = await unicodeVersionDependent();
    // Only nonspacing marks whose key alone is the same on both sides: the disagreement is the
    // combining class of a mark one side does not know yet, nothing the rule itself decides.
    const marks = [...excluded].map((cp) => String.fromCodePoint(cp));
    expect(marks.filter((c) => !/\p{Mn}/u.test(c))).toEqual([]);
    expect(await sqlKeys(marks)).toEqual(marks.map(modelKey));
    expect(excluded.size).toBeLessThan(64);
  });

  it("computes exactly the documented rule", async () => {
    const excluded = await unicodeVersionDependent();
    await fc.assert(
      fc.asyncProperty(
        fc.array(text(excluded), { minLength: 1, maxLength: 20 }),
        async (values) => {
          expect(await sqlKeys(values)).toEqual(values.map(modelKey));
        },
      ),
      { numRuns: 60 },
    );
  });

  it("joins NFC/NFD forms, ASCII case and surrounding White_Space; never maps non-ASCII onto ASCII", async () => {
    const excluded = await unicodeVersionDependent();
    await fc.assert(
      fc.asyncProperty(text(excluded), ws, ws, async (x, before, after) => {
        const upper = x.normalize("NFC").replace(/[a-z]/g, (c) => c.toUpperCase());
        const [key, nfd, nfc, padded, cased] = await sqlKeys([
          x,
          x.normalize("NFD"),
          x.normalize("NFC"),
          `${before}${x}${after}`,
          upper,
        ]);
        expect(padded).toBe(key);
        // NFC and NFD turn the three escaped singletons into ASCII: deliberately not the same
        // identity as the original (the one exception to canonical equivalence).
        if (!SINGLETONS.test(x)) {
          expect(nfc).toBe(key);
          expect(nfd).toBe(key);
          // Upper-casing ASCII letters of the NFC form (on a decomposed form "a" + ring is å,
          // and å / Å is non-ASCII case), when the result is still that form: "i" + U+0307 has
          // no precomposed character, but "I" + U+0307 is İ, a different NFC text.
          if (upper.normalize("NFC") === upper) expect(cased).toBe(key);
        }
        expect(/[A-Z]/.test(key as string)).toBe(false);
        // A non-ASCII address never has the key of an ASCII one.
        expect(hasNonAscii(key as string)).toBe(hasNonAscii(trimWhiteSpace(x)));
      }),
      { numRuns: 80 },
    );
  });
});

describe("migration 0001_email_key", () => {
  const migration = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER }).find((m) =>
    m.sql.some((s) => s.includes("CREATE FUNCTION email_key")),
  );
  const statement = (marker: string) => {
    const found = migration?.sql.find((s) => s.includes(marker));
    if (!found) throw new Error(`no statement with ${marker} in the migration`);
    return sql.raw(found);
  };

  it("refuses profiles that collide under the new key, naming their ids, and changes nothing", async () => {
    const db = getDb();
    // The state an old database can be in: the old index allowed these pairs.
    await db.execute(sql`drop index mentorados_email_identity_key`);
    try {
      const insert = (email: string) =>
        db.execute<{ id: number }>(sql`insert into mentorados (nome_completo, email, turma)
          values ('Pré', ${email}, 't') returning id`);
      const ids: number[] = [];
      for (const email of ["josé@example.com", "jose\u0301@example.com", "solo@example.com"])
        ids.push((await insert(email)).rows[0]?.id as number);
      for (const email of ["ana@example.com\t", "\u00A0ANA@example.com"])
        ids.push((await insert(email)).rows[0]?.id as number);
      const error = await db.execute(statement("RAISE EXCEPTION")).then(
        () => null,
        (err: unknown) => err as Error & { cause?: Error },
      );
      expect(error?.cause?.message).toContain(
        `mentorados.id ${ids[0]}, ${ids[1]}; mentorados.id ${ids[3]}, ${ids[4]}`,
      );
      expect(await allMentorados()).toHaveLength(5);
    } finally {
      await db.execute(sql`truncate mentorados restart identity cascade`);
      await db.execute(statement("CREATE UNIQUE INDEX"));
    }
  });

  it("passes on profiles that are distinct under the new key", async () => {
    for (const email of [
      "İlker@example.com",
      "ilker@example.com",
      "\u212Aelvin@example.com",
      "kelvin@example.com",
    ])
      await preRegister(email);
    await getDb().execute(statement("RAISE EXCEPTION"));
    expect(await allMentorados()).toHaveLength(4);
  });
});
