// .env.example is copied to .env.local by newcomers: copied as it is, it must let `npm run dev`
// and `npm run send` start. Checked with their own configuration code (scripts/local/dev-env.ts)
// on a copy in a temporary directory, with an environment of its own (not this process's).
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseEnv } from "node:util";
import { Webhook } from "svix";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  checkDevSecret,
  chooseDatabase,
  defaultWebhookUrl,
  devPort,
  type Env,
  ensureDevSecret,
  loadLocalEnv,
} from "../scripts/local/dev-env.js";

const EXAMPLE = fileURLToPath(new URL("../.env.example", import.meta.url));
const text = readFileSync(EXAMPLE, "utf8");

let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "cns-env-example-"));
  file = join(dir, ".env.local");
  copyFileSync(EXAMPLE, file);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe(".env.example copied to .env.local", () => {
  it("npm run dev's configuration accepts it: embedded database, port 3000, a valid secret", () => {
    const env: Env = {};
    expect(loadLocalEnv(file, env)).toBe(true);
    const secret = ensureDevSecret(file, env);
    expect(secret.source).toBe(".env.local (generated now)");
    expect(() => checkDevSecret(secret, env)).not.toThrow();
    expect(chooseDatabase(env).kind).toBe("pglite");
    expect(devPort(env)).toBe(3000);
  });

  it("npm run send's configuration accepts it: the same secret as dev, and it signs", () => {
    const devEnv: Env = {};
    loadLocalEnv(file, devEnv);
    const generated = ensureDevSecret(file, devEnv).secrets[0];

    // send runs later, in another process: it reads the secret dev appended to the copy.
    const sendEnv: Env = {};
    loadLocalEnv(file, sendEnv);
    const info = ensureDevSecret(file, sendEnv);
    expect(info).toEqual({ secrets: [generated], source: ".env.local" });
    expect(() => checkDevSecret(info, sendEnv)).not.toThrow();
    expect(defaultWebhookUrl(sendEnv)).toBe("http://localhost:3000/api/webhooks/clerk");
    const signature = new Webhook(info.secrets[0] ?? "").sign("msg_1", new Date(), "{}");
    expect(signature).toMatch(/^v1,/);
  });

  it("sets nothing: every variable is commented out", () => {
    expect(parseEnv(text)).toEqual({});
  });

  it("names every variable a Vercel environment needs, in its Vercel part", () => {
    const vercelPart = text.slice(text.indexOf("2. each Vercel environment"));
    for (const name of [
      "DATABASE_URL",
      "CLERK_WEBHOOK_SIGNING_SECRET",
      "CRON_SECRET",
      "RESEND_API_KEY",
      "EMAIL_FROM",
      "DEFAULT_TURMA",
      "CLERK_SECRET_KEY",
      "CLERK_JWT_KEY",
      "CLERK_AUTHORIZED_PARTIES",
      "SQL_TIMEOUT_MS",
    ]) {
      expect(vercelPart, name).toMatch(new RegExp(`^# ${name}=`, "m"));
    }
  });

  it("the literal placeholder of a copied production line is refused at start, in one line", () => {
    const env: Env = { CLERK_WEBHOOK_SIGNING_SECRET: "whsec_..." };
    const info = ensureDevSecret(file, env);
    expect(() => checkDevSecret(info, env)).toThrow(
      /^CLERK_WEBHOOK_SIGNING_SECRET from the environment is not a Svix signing secret[^\n]*$/,
    );
  });
});
