// npm run resync -- <clerk user id> [--json]
//
// Repairs one account: GET /v1/users/:id from Clerk and applies it with the webhook's own code
// (applyUsers: one SQL round trip, one transaction) as the delivery `resync:<id>:<updated_at>`.
// The usual guards hold: data not newer than the database's is `stale`, a resync of the same
// version twice is a `duplicate`, a deleted user stays deleted. A user Clerk does not know (404)
// changes nothing here (exit 1): deletions come from Clerk's user.deleted webhook.
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { ClerkUser } from "../lib/clerk/schemas.js";
import type { Db } from "../lib/db.js";
import { isSchemaMismatch, schemaMismatchLine } from "../lib/db-error.js";
import { applyUsers, type Outcome, toUserRecord } from "../lib/sync/apply.js";
import { type ClerkSource, clerkSource } from "./backfill/clerk.js";
import { scriptConfig } from "./backfill/env.js";
import { DEFAULT_RETRY, RetriesExhausted, withRetry } from "./backfill/retry.js";

export type ResyncResult =
  | { found: false; clerkId: string }
  | { found: true; clerkId: string; svixId: string; outcome: Outcome; roundTrips: number };

export function resyncSvixId(user: ClerkUser): string {
  return `resync:${user.id}:${user.updated_at}`;
}

export async function resyncUser(
  db: Db,
  clerk: ClerkSource,
  clerkId: string,
  defaultTurma: string,
): Promise<ResyncResult> {
  const user = await clerk.getUser(clerkId);
  if (!user) return { found: false, clerkId };
  const svixId = resyncSvixId(user);
  const record = toUserRecord(
    user,
    { svixId, type: "resync", timestampSeconds: null },
    defaultTurma,
  );
  const applied = await withRetry("apply the user", () => applyUsers(db, [record]), DEFAULT_RETRY);
  return {
    found: true,
    clerkId,
    svixId,
    outcome: applied.result.get(svixId) ?? "duplicate",
    roundTrips: applied.roundTrips,
  };
}

const ID = /^user_[A-Za-z0-9]{1,100}$/;

export async function main(argv: string[]): Promise<number> {
  const err = (s: string) => process.stderr.write(`${s}\n`);
  let positionals: string[];
  let json = false;
  try {
    const parsed = parseArgs({
      args: argv,
      options: { json: { type: "boolean" } },
      allowPositionals: true,
    });
    positionals = parsed.positionals;
    json = parsed.values.json ?? false;
  } catch (e) {
    err((e as Error).message);
    return 1;
  }
  const clerkId = positionals[0];
  if (positionals.length !== 1 || !clerkId || !ID.test(clerkId)) {
    err("usage: npm run resync -- <clerk user id, user_...> [--json]");
    return 1;
  }
  const config = scriptConfig("resync", err);
  if (!config) return 1;
  const { env, db } = config;
  const clerk = clerkSource({
    secretKey: env.CLERK_SECRET_KEY,
    ...(env.CLERK_API_URL ? { apiUrl: env.CLERK_API_URL } : {}),
    retry: {
      ...DEFAULT_RETRY,
      onWait: ({ reason, ms }) => err(`resync: ${reason}; retrying in ${(ms / 1000).toFixed(1)} s`),
    },
  });
  try {
    const result = await resyncUser(db, clerk, clerkId, env.DEFAULT_TURMA);
    if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else if (!result.found) err(`resync: ${clerkId} not found in Clerk; nothing changed`);
    else
      process.stdout.write(
        `${clerkId}: ${result.outcome} (delivery ${result.svixId}, ${result.roundTrips} SQL round trip)\n`,
      );
    return result.found ? 0 : 1;
  } catch (e) {
    err(
      `resync failed: ${
        e instanceof RetriesExhausted
          ? e.message
          : isSchemaMismatch(e)
            ? schemaMismatchLine(e)
            : (e as Error).message
      }`,
    );
    return 2;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`resync failed: ${e instanceof Error ? e.name : String(e)}\n`);
      process.exit(1);
    },
  );
}
