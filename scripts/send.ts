// `npm run send -- <user.created|user.updated|user.deleted> [options]`: builds a realistic Clerk
// event with the same builders as the tests (tests/fixtures/clerk.ts), signs it with svix and the
// dev secret (.env.local, or CLERK_WEBHOOK_SIGNING_SECRET), POSTs it to the local webhook and prints
// the status and the outcome. The secret comes from the same sources in the same order as the
// dev server's (environment > .env.local > generated there), and the source is printed. Local
// development only.
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import {
  buildUser,
  type ClerkEventJson,
  deletedEvent,
  svixHeaders,
  userEvent,
} from "../tests/fixtures/clerk.js";
import {
  checkDevSecret,
  defaultWebhookUrl,
  ensureDevSecret,
  LocalConfigError,
  loadLocalEnv,
  maskSecret,
} from "./local/dev-env.js";

const TYPES = ["user.created", "user.updated", "user.deleted"] as const;
type EventType = (typeof TYPES)[number];

const USAGE = `usage: npm run send -- <${TYPES.join("|")}> [options]

  --email E        primary email (user.created default: a new dev.<random>@example.com)
  --first-name F   first name (default Ana)
  --last-name L    last name (default Souza)
  --turma T        public_metadata.turma (default: none, so DEFAULT_TURMA applies)
  --unverified     the primary email is not verified (it never links a pre-registered profile)
  --user-id ID     Clerk user id (required for user.updated and user.deleted; user.created
                   prints the id it used)
  --svix-id ID     svix message id (send the same one twice to see "duplicate")
  --url U          webhook URL (default http://localhost:\${PORT:-3000}/api/webhooks/clerk)

examples:
  npm run send -- user.created --email ana@example.com
  npm run send -- user.updated --user-id user_2x... --email ana.souza@example.com
  npm run send -- user.deleted --user-id user_2x...`;

/** An error to print as one line (no stack): what went wrong and what to do. */
class SendError extends Error {}

/** Quotes a value for bash only when it needs it, so printed commands paste as they are. */
function shellWord(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

function usage(message?: string): never {
  if (message) console.error(`npm run send: ${message}\n`);
  console.error(USAGE);
  process.exit(2);
}

function parse() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        email: { type: "string" },
        "first-name": { type: "string" },
        "last-name": { type: "string" },
        turma: { type: "string" },
        unverified: { type: "boolean", default: false },
        "user-id": { type: "string" },
        "svix-id": { type: "string" },
        url: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (err) {
    return usage(err instanceof Error ? err.message : String(err));
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parse();
  if (values.help) usage();
  const [type, ...extra] = positionals;
  if (!type) usage("which event? user.created, user.updated or user.deleted");
  if (extra.length > 0) usage(`unexpected argument: ${extra.join(" ")}`);
  if (!(TYPES as readonly string[]).includes(type)) usage(`unknown event type "${type}"`);
  const eventType = type as EventType;
  const userId = values["user-id"];
  if (eventType !== "user.created" && !userId) {
    usage(
      `${eventType} needs --user-id <id>: the Clerk id of an existing user, as printed by ` +
        "`npm run send -- user.created`.",
    );
  }

  loadLocalEnv();
  // The same secret as the dev server (it reads the same .env.local); generated there if missing.
  const secretInfo = ensureDevSecret();
  checkDevSecret(secretInfo);
  // The first of several configured secrets signs, as the server's banner shows it (masked).
  const secret = secretInfo.secrets[0];
  if (!secret) usage("no signing secret: set CLERK_WEBHOOK_SIGNING_SECRET or run npm run dev once");
  const url = values.url ?? defaultWebhookUrl();
  if (!URL.canParse(url)) throw new SendError(`--url ${shellWord(url)} is not a URL`);

  let event: ClerkEventJson;
  let email: string | undefined;
  if (eventType === "user.deleted") {
    event = deletedEvent(userId ?? null);
  } else {
    email =
      values.email ??
      (eventType === "user.created"
        ? `dev.${randomBytes(3).toString("hex")}@example.com`
        : undefined);
    const now = Date.now();
    const user = buildUser({
      id: userId,
      email: email ?? null,
      verified: !values.unverified,
      firstName: values["first-name"],
      lastName: values["last-name"],
      turma: values.turma,
      // An update must be newer than what is stored, or it is (correctly) `stale`.
      createdAt: eventType === "user.created" ? now - 1000 : now - 60_000,
      updatedAt: now,
    });
    event = userEvent(eventType, user);
  }

  const body = JSON.stringify(event);
  const headers = svixHeaders(body, { secret, svixId: values["svix-id"] });
  const clerkId = (event.data as { id?: string }).id ?? "(none)";
  console.log(`POST ${url}`);
  const source = secretInfo.source === "environment" ? "the environment" : secretInfo.source;
  console.log(`  signed with ${maskSecret(secret)} from ${source}`);
  console.log(
    `  ${eventType}  user ${clerkId}${email ? `  email ${email}${values.unverified ? " (unverified)" : ""}` : ""}` +
      `  svix-id ${headers["svix-id"]}`,
  );
  if (eventType === "user.updated" && !values.email) {
    console.log("  (no --email: the user is sent without an email address)");
  }

  let res: Response;
  try {
    res = await fetch(url, { method: "POST", headers, body });
  } catch (err) {
    const c = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
    const cause = String(c?.code ?? c?.message ?? err);
    throw new SendError(`could not reach ${url} (${cause}): is \`npm run dev\` running?`);
  }
  const text = await res.text();
  let answer: { ok?: boolean; outcome?: string; error?: string; message?: string } = {};
  try {
    answer = JSON.parse(text) as typeof answer;
  } catch {
    // not JSON: print it raw below
  }
  if (answer.outcome) console.log(`${res.status} ${answer.outcome}`);
  else if (answer.error) console.log(`${res.status} ${answer.error}: ${answer.message ?? ""}`);
  else console.log(`${res.status} ${text.slice(0, 500)}`);

  if (answer.error === "invalid_signature") {
    console.log(
      "  the server verifies with another secret (its banner shows which, masked, and where from):" +
        " is CLERK_WEBHOOK_SIGNING_SECRET set in its environment but not in this one (under vercel" +
        " dev, the project's Development value)? `vercel env pull` puts it in .env.local, which" +
        " both read.",
    );
  }
  if (eventType === "user.created" && res.ok && answer.outcome !== "duplicate") {
    // Each line pastes into a shell as printed: --url is kept unless it is the default (a new
    // shell may not have this one's PORT), and values are quoted when they need it.
    const to = url === defaultWebhookUrl({}) ? "" : ` --url ${shellWord(url)}`;
    const id = shellWord(clerkId);
    const newEmail = shellWord(`updated.${email ?? "user@example.com"}`);
    console.log(
      "  next: update the email, deliver the same message again (answers duplicate), delete:",
    );
    console.log(`    npm run send -- user.updated --user-id ${id} --email ${newEmail}${to}`);
    console.log(
      `    npm run send -- user.created --svix-id ${shellWord(headers["svix-id"] ?? "")} --user-id ${id}` +
        `${email ? ` --email ${shellWord(email)}` : ""}${to}`,
    );
    console.log(`    npm run send -- user.deleted --user-id ${id}${to}`);
  }
  process.exit(res.ok ? 0 : 1);
}

main().catch((err: unknown) => {
  // One line, never a stack: the cause and what to do (configuration, network), or the error's
  // own message for anything unforeseen.
  const message =
    err instanceof SendError || err instanceof LocalConfigError
      ? err.message
      : `${err instanceof Error ? err.name : "Error"}: ${err instanceof Error ? err.message : String(err)}`;
  console.error(`npm run send: ${message.split("\n")[0]}`);
  process.exit(1);
});
