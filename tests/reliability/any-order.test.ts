// Any order: each person's events (created, several updated, sometimes deleted; each with its own
// svix id and increasing data.updated_at) delivered in random permutations, concurrently. The final
// rows must equal those of in-order delivery, within the contract README "Ordering" states:
// - users: every column equal for live users; deleted users deleted and erased;
// - which user each pre-registered profile is linked to; one profile per live verified user;
//   exactly one welcome per profile of a live user; a deleted user owns no profile (whether a
//   welcome was queued for a person deleted right after sign-up depends on what arrived first);
// - the name of a profile created at sign-up comes from SOME version of the user (the newest seen
//   at creation: under reordering that may be a later one).
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "../../lib/db.js";
import {
  buildUser,
  type ClerkUserJson,
  clerkId,
  deletedEvent,
  userEvent,
} from "../fixtures/clerk.js";
import {
  type Delivery,
  delivery,
  inPool,
  post,
  report,
  rng,
  shuffle,
  size,
  useWebhookServer,
} from "../helpers/http.js";
import { preRegister } from "../helpers/webhook.js";

interface Person {
  events: Delivery[];
  names: string[];
  preRegistered: string | null;
}

function person(i: number, random: () => number): Person {
  const email = `ordem${i}@example.com`;
  const id = clerkId("user");
  const base = 1_790_000_000_000 + i * 100_000;
  const versions: ClerkUserJson[] = [];
  const updates = 2 + Math.floor(random() * 3);
  // Verified from the start, or only from a later update.
  const verifiedFrom = random() < 0.3 ? 1 + Math.floor(random() * updates) : 0;
  for (let v = 0; v <= updates; v++) {
    versions.push(
      buildUser({
        id,
        email: v % 2 === 0 ? email : ` ${email.toUpperCase()} `,
        verified: v >= verifiedFrom,
        firstName: `Nome${i}v${v}`,
        lastName: random() < 0.5 ? `Sobrenome${v}` : null,
        username: `user${i}_${v}`,
        createdAt: base,
        updatedAt: base + v * 1000,
      }),
    );
  }
  const events = versions.map((u, v) =>
    delivery(userEvent(v === 0 ? "user.created" : "user.updated", u), clerkId("msg")),
  );
  if (random() < 0.25) events.push(delivery(deletedEvent(id), clerkId("msg")));
  return {
    events,
    names: versions.map((u) => [u.first_name, u.last_name].filter(Boolean).join(" ")),
    preRegistered: random() < 0.4 ? `  ${email.toUpperCase()}` : null,
  };
}

interface Final {
  users: Record<string, unknown>[];
  profiles: Record<string, unknown>[];
  names: { clerk_id: string; nome: string }[];
}

async function finalState(): Promise<Final> {
  const db = getDb();
  const users = await db.execute<Record<string, unknown>>(sql`
    select clerk_id, deleted_at is not null as deleted,
      email, email_verified, first_name, last_name, username, image_url,
      case when deleted_at is null then clerk_created_at end as clerk_created_at,
      case when deleted_at is null then clerk_updated_at end as clerk_updated_at
    from users order by clerk_id`);
  // Profiles that must match in-order delivery: every pre-registered one (with its owner), and
  // every profile owned by a live user; plus the number of welcomes of each.
  const profiles = await db.execute<Record<string, unknown>>(sql`
    select email_key(m.email) as email, m.origem, m.turma, u.clerk_id as owner,
      case when u.deleted_at is null and u.id is not null then
        (select count(*)::int from clerk_sync.email_outbox o where o.mentorado_id = m.id) end as welcomes
    from mentorados m left join users u on u.id = m.user_id
    where m.origem = 'pre_registered' or u.deleted_at is null and u.id is not null
    order by 1`);
  const names = await db.execute<{ clerk_id: string; nome: string }>(sql`
    select u.clerk_id, m.nome_completo as nome from mentorados m join users u on u.id = m.user_id
    where m.origem = 'clerk_signup' order by 1`);
  return { users: users.rows, profiles: profiles.rows, names: names.rows };
}

async function reset(people: Person[]): Promise<void> {
  await getDb().execute(
    sql`truncate users, mentorados, clerk_sync.clerk_webhook_events, clerk_sync.email_outbox restart identity cascade`,
  );
  for (const [i, p] of people.entries())
    if (p.preRegistered) await preRegister(p.preRegistered, `Pré ${i}`, "turma_pre");
}

const server = useWebhookServer();

describe("any order", () => {
  it(
    "converges to the in-order result for random permutations",
    async () => {
      const rounds = size(4, 12);
      const peopleCount = size(25, 120);
      let requests = 0;
      for (let round = 0; round < rounds; round++) {
        const seed = (Date.now() + round * 7919) % 2_147_483_647;
        const random = rng(seed);
        const people = Array.from({ length: peopleCount }, (_, i) =>
          person(round * 1000 + i, random),
        );

        await reset(people);
        for (const p of people)
          for (const d of p.events) expect((await post(server.url, d)).status).toBe(200);
        const inOrder = await finalState();

        await reset(people);
        const permuted = shuffle(
          people.flatMap((p) => p.events),
          random,
        );
        const answers = await inPool(permuted, 8, (d) => post(server.url, d));
        requests += permuted.length * 2;
        expect(
          answers.filter((a) => a.status !== 200),
          `seed ${seed}`,
        ).toEqual([]);
        const reordered = await finalState();

        expect(reordered.users, `users differ; permutation seed ${seed}`).toEqual(inOrder.users);
        expect(reordered.profiles, `profiles differ; permutation seed ${seed}`).toEqual(
          inOrder.profiles,
        );
        expect(reordered.names.map((n) => n.clerk_id)).toEqual(
          inOrder.names.map((n) => n.clerk_id),
        );
        const allowed = new Map<string, string[]>();
        for (const p of people) {
          const body = JSON.parse(p.events[0]!.body) as { data: { id: string } };
          allowed.set(body.data.id, p.names);
        }
        for (const n of reordered.names)
          expect(allowed.get(n.clerk_id), `seed ${seed}`).toContain(n.nome);
      }
      report("any-order", { rounds, people_per_round: peopleCount, requests });
    },
    size(60_000, 1_200_000),
  );
});
