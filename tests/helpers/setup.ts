// Runs in every test worker before each file: points the app at the run's SQL endpoint, gives
// every test empty tables, and checks that nothing personal or secret was logged by the file.
import { sql } from "drizzle-orm";
import { afterAll, beforeEach, expect } from "vitest";
import { getDb } from "../../lib/db.js";
import { LOCAL_DATABASE_URL, OTHER_SECRET, TEST_SECRET } from "./constants.js";
import { leaks, sensitive, startCapture, stopCapture } from "./log-capture.js";
import { inject } from "./provided.js";

process.env.DATABASE_URL = LOCAL_DATABASE_URL;
process.env.NEON_LOCAL_FETCH_ENDPOINT = inject("sqlEndpoint");
process.env.CLERK_WEBHOOK_SIGNING_SECRET = TEST_SECRET;
delete process.env.DEFAULT_TURMA;

sensitive.add(TEST_SECRET.slice(6));
sensitive.add(OTHER_SECRET.slice(6));
startCapture();

beforeEach(async () => {
  await getDb().execute(
    sql`truncate users, mentorados, clerk_sync.clerk_webhook_events, clerk_sync.email_outbox, clerk_sync.sync_runs restart identity cascade`,
  );
});

afterAll(() => {
  stopCapture();
  expect(leaks(), "log lines with personal data or secrets").toEqual([]);
});
