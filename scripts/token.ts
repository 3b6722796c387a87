// npm run token -- --user-id user_… [--azp http://localhost:5173] [--ttl 3600]
// (--azp defaults to the first of CLERK_AUTHORIZED_PARTIES, from the environment or .env.local)
//
// Prints a session token for GET /api/me on `npm run dev`, signed by the local dev key
// (.data/dev-session-key.pem, generated on first use; `npm run dev` exports its public half as
// CLERK_JWT_KEY while CLERK_JWT_KEY is unset: a configured key wins, and then these tokens get
// 401). Local development only: a token signed by this key means nothing to Clerk.
//   curl -H "authorization: Bearer $(npm run -s token -- --user-id user_dev1)" localhost:3000/api/me
import { parseArgs } from "node:util";
import { loadLocalEnv } from "./local/dev-env.js";
import { loadDevKey, signSessionToken } from "./local/session-token.js";

function main(): void {
  // The same .env.local as `npm run dev`: when it sets CLERK_AUTHORIZED_PARTIES, tokens must carry
  // one of them as `azp`, so the first is the default.
  loadLocalEnv();
  const defaultAzp = process.env.CLERK_AUTHORIZED_PARTIES?.split(/[\s,]+/).find(Boolean);
  const { values } = parseArgs({
    options: {
      "user-id": { type: "string" },
      azp: { type: "string" },
      // Longer than Clerk's 60 s by default: a token pasted into a few curls should still work.
      ttl: { type: "string", default: "3600" },
    },
  });
  const userId = values["user-id"];
  const ttl = Number(values.ttl);
  if (!userId || !/^user_[A-Za-z0-9]+$/.test(userId) || !(ttl > 0)) {
    console.error("usage: npm run token -- --user-id user_<id> [--azp <origin>] [--ttl <seconds>]");
    process.exit(2);
  }
  const azp = values.azp ?? defaultAzp;
  const token = signSessionToken(
    loadDevKey(),
    { sub: userId, ...(azp ? { azp } : {}) },
    { ttlSeconds: ttl },
  );
  process.stdout.write(`${token}\n`);
}

main();
