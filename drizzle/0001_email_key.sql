-- The one definition of "same email address" (docs/email-identity.md), used by the unique index
-- below and by every query of the sync that compares addresses. Pure text functions only, so the
-- result never depends on the database's locale or collation:
--   1. U+212A KELVIN SIGN, U+037E GREEK QUESTION MARK and U+1FEF GREEK VARIA are the only
--      characters NFC turns into ASCII ('K', ';', '`'): each is escaped as U+FDD0 + a digit
--      (U+FDD0 itself as U+FDD0 '0', so the escape is injective) and never meets an ASCII address;
--   2. NFC, so precomposed and decomposed forms of one address are one key;
--   3. Unicode White_Space (the full list, explicitly: btrim's default and [[:space:]] are
--      ASCII-only or locale-dependent) removed at both ends;
--   4. ASCII A-Z -> a-z and nothing else (no Unicode case mapping can turn İ, ſ... into ASCII);
--   5. NFC again: a lower-case ASCII letter can compose where its capital cannot (J + U+030C).
CREATE FUNCTION email_key(address text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT normalize(
    translate(
      btrim(
        normalize(
          replace(replace(replace(replace(address,
            U&'\FDD0', U&'\FDD00'),
            U&'\212A', U&'\FDD01'),
            U&'\037E', U&'\FDD02'),
            U&'\1FEF', U&'\FDD03'),
          NFC),
        U&'\0009\000A\000B\000C\000D\0020\0085\00A0\1680\2000\2001\2002\2003\2004\2005\2006\2007\2008\2009\200A\2028\2029\202F\205F\3000'),
      'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'),
    NFC)
$$;--> statement-breakpoint
-- Writes wait from here to the commit (reads do not): no profile can be added between the
-- collision check and the index build. The whole migration is one transaction.
LOCK TABLE mentorados IN SHARE MODE;--> statement-breakpoint
-- Profiles that were distinct under the old key (lower(btrim(email))) but are one identity under
-- the new one (an NFD copy of an NFC address, a tab or U+00A0 around it) must be resolved by a
-- person: merging them here could hand one person's profile to another. Fail, naming them.
DO $$
DECLARE
  collisions text;
BEGIN
  SELECT string_agg(ids, '; ' ORDER BY ids) INTO collisions
  FROM (
    SELECT 'mentorados.id ' || string_agg(id::text, ', ' ORDER BY id) AS ids
    FROM mentorados
    -- A profile without an email yet (an app's table may allow it) is no identity at all.
    WHERE email IS NOT NULL
    GROUP BY email_key(email)
    HAVING count(*) > 1
  ) AS groups;
  IF collisions IS NOT NULL THEN
    RAISE EXCEPTION 'mentorados share one email identity under email_key(): %', collisions
      USING HINT = 'Resolve each group (see docs/email-identity.md), then run the migrations again.';
  END IF;
END
$$;--> statement-breakpoint
CREATE UNIQUE INDEX "mentorados_email_identity_key" ON "mentorados" USING btree (email_key("email"));--> statement-breakpoint
-- Last: DROP INDEX takes an ACCESS EXCLUSIVE lock (reads wait too) until the commit.
DROP INDEX "mentorados_email_lower_key";
