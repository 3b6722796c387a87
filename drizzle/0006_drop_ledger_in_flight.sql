-- The sync reads its ledger rows by svix_id only (lib/sync/statements.ts since the routines): the
-- partial index on in-flight rows (0005) is no longer read, and it kept an entry for every
-- superseded 'pending' version until VACUUM. Ours, in our schema: nothing of the app's is touched.
DROP INDEX "clerk_sync"."clerk_webhook_events_in_flight_idx";