// The bench's workload: N signed Clerk deliveries, built with the test fixtures (realistic Clerk
// payloads, real svix signatures), and the rows they must leave behind.
//
// Mix: mostly user.created (about 10% of them for a pre-registered mentorado, 5% with an
// unverified email), about 10% user.updated of users created earlier in the run, and about 5%
// redeliveries of an earlier event with the same svix id, sent a few positions after the original
// (so some race it). Updates go last: they must follow their user's creation for the expected
// outcomes (the rows are right either way: the sync is order-safe).
import { buildUser, type ClerkUserJson, svixHeaders, userEvent } from "../tests/fixtures/clerk.js";
import { rng } from "../tests/fixtures/random.js";
import type { Rows } from "./protocol.js";

export interface Delivery {
  body: string;
  headers: Record<string, string>;
  svixId: string;
  kind: "created" | "preregistered" | "unverified" | "updated" | "duplicate";
}

export interface Workload {
  deliveries: Delivery[];
  preRegistered: string[];
  users: { clerkId: string; email: string; verified: boolean; preRegistered: boolean }[];
  expected: { created: number; linked: number; appliedOrStale: number; duplicate: number };
}

function signed(
  payload: ReturnType<typeof userEvent>,
  secret: string,
): Omit<Delivery, "kind"> & { svixId: string } {
  const body = JSON.stringify(payload);
  const headers = svixHeaders(body, { secret });
  headers["content-length"] = String(Buffer.byteLength(body));
  return { body, headers, svixId: headers["svix-id"]! };
}

export function buildWorkload(n: number, secret: string, tag: string, concurrency: number) {
  const random = rng(n * 7919 + concurrency);
  const duplicates = Math.round(n * 0.05);
  const updates = Math.round(n * 0.1);
  const created = n - duplicates - updates;
  const now = Date.now();

  const users: Workload["users"] = [];
  const firsts: Delivery[] = [];
  const built: ClerkUserJson[] = [];
  for (let i = 0; i < created; i++) {
    // About 10% pre-registered, 5% unverified, spread evenly through the run.
    const pre = i % 10 === 3;
    const unv = i % 20 === 7;
    // Mixed case and spaces: the sync trims and lower-cases; the pre-registered copy is lower.
    const email = `bench.${tag}.${i}@example.com`;
    const user = buildUser({
      email: i % 4 === 0 ? ` ${email.toUpperCase()}` : email,
      verified: !unv,
      firstName: `Nome${i}`,
      lastName: "Bench",
      createdAt: now - 60_000,
      updatedAt: now - 60_000 + i,
      turma: i % 3 === 0 ? "turma_2026" : undefined,
    });
    built.push(user);
    users.push({ clerkId: user.id, email, verified: !unv, preRegistered: pre });
    firsts.push({
      ...signed(userEvent("user.created", user), secret),
      kind: pre ? "preregistered" : unv ? "unverified" : "created",
    });
  }

  // Redeliveries: copies of earlier events, inserted 1..2C positions after their original.
  const list: Delivery[] = [...firsts];
  const dupOf = new Set<number>();
  while (dupOf.size < Math.min(duplicates, created)) dupOf.add(Math.floor(random() * created));
  for (const i of [...dupOf].sort((a, b) => b - a)) {
    const original = firsts[i]!;
    const at = Math.min(
      list.length,
      list.indexOf(original) + 1 + Math.floor(random() * 2 * concurrency),
    );
    list.splice(at, 0, { ...original, kind: "duplicate" });
  }

  // Updates of users created earlier (same email: the link follows user_id), newer updated_at.
  for (let k = 0; k < updates; k++) {
    const user = built[Math.floor((k * created) / Math.max(1, updates))]!;
    const next: ClerkUserJson = {
      ...user,
      first_name: `${String(user.first_name)}-Atualizada`,
      updated_at: user.updated_at + 1000,
    };
    list.push({ ...signed(userEvent("user.updated", next), secret), kind: "updated" });
  }

  const workload: Workload = {
    deliveries: list,
    // Some typed by the app in capitals: linking ignores case and surrounding spaces.
    preRegistered: users
      .filter((u) => u.preRegistered)
      .map((u, k) => (k % 2 === 0 ? u.email : ` ${u.email.toUpperCase()}`)),
    users,
    expected: {
      created: users.filter((u) => u.verified && !u.preRegistered).length,
      linked: users.filter((u) => u.preRegistered).length,
      appliedOrStale: users.filter((u) => !u.verified).length + updates,
      duplicate: dupOf.size,
    },
  };
  return workload;
}

/** What must hold after the run, whatever the order the events were applied in. */
export function checkRows(w: Workload, rows: Rows, strictOutbox: boolean): string[] {
  const problems: string[] = [];
  const byClerk = new Map(rows.users.map((u) => [u.clerk_id, u]));
  if (rows.users.length !== w.users.length)
    problems.push(`users: ${rows.users.length} rows, expected ${w.users.length}`);
  const mentoradosOf = new Map<number, number>();
  for (const m of rows.mentorados) {
    if (m.user_id !== null) mentoradosOf.set(m.user_id, (mentoradosOf.get(m.user_id) ?? 0) + 1);
  }
  const byEmail = new Map(rows.mentorados.map((m) => [m.email.trim().toLowerCase(), m]));
  let missing = 0;
  let wrongLinks = 0;
  for (const u of w.users) {
    const row = byClerk.get(u.clerkId);
    if (!row) {
      missing++;
      continue;
    }
    const count = mentoradosOf.get(row.id) ?? 0;
    if (count !== (u.verified ? 1 : 0)) wrongLinks++;
    if (u.preRegistered) {
      const m = byEmail.get(u.email);
      if (m?.origem !== "pre_registered" || m.user_id !== row.id) wrongLinks++;
    }
  }
  if (missing) problems.push(`${missing} users missing`);
  if (wrongLinks) problems.push(`${wrongLinks} users without exactly their one mentorado`);
  const verified = w.users.filter((u) => u.verified).length;
  const unlinkedPre = w.users.filter((u) => u.preRegistered && !u.verified).length;
  if (rows.mentorados.length !== verified + unlinkedPre)
    problems.push(`mentorados: ${rows.mentorados.length} rows, expected ${verified + unlinkedPre}`);
  const deliveries = new Set(w.deliveries.map((d) => d.svixId)).size;
  if (rows.ledger.length !== deliveries)
    problems.push(`ledger: ${rows.ledger.length} rows, expected ${deliveries}`);
  const pending = rows.ledger.filter((l) => l.outcome.startsWith("pending")).length;
  if (pending) problems.push(`${pending} ledger rows left pending`);
  if (strictOutbox && rows.outbox !== verified)
    problems.push(`email_outbox: ${rows.outbox} rows, expected ${verified}`);
  return problems;
}
