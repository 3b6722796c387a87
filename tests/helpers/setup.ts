// Runs in every test worker before each file: points the app at the run's SQL endpoint and gives
// every test empty tables.
import { sql } from "drizzle-orm";
import { beforeEach, inject } from "vitest";
import { getDb } from "../../lib/db.js";
import { LOCAL_DATABASE_URL, TEST_SECRET } from "./constants.js";

process.env.DATABASE_URL = LOCAL_DATABASE_URL;
process.env.NEON_LOCAL_FETCH_ENDPOINT = inject("sqlEndpoint");
process.env.CLERK_WEBHOOK_SIGNING_SECRET = TEST_SECRET;
delete process.env.DEFAULT_TURMA;

beforeEach(async () => {
  await getDb().execute(
    sql`truncate users, mentorados, clerk_webhook_events, email_outbox restart identity cascade`,
  );
});
