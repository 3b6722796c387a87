// What a live database already holds when an event arrives: `n` users, each with a profile (every
// tenth one still a pre-registered profile waiting for its user, as pre-registration leaves some),
// and a settled ledger row per user. Inserted set-based with generate_series (100,000 of each in
// seconds), then analyzed as autovacuum would after that many inserts, so plans are made on the
// statistics production has, not on those of an empty table.
//
// Every preloaded row is marked (PRELOAD_PREFIX) so the bench's row check can leave it out: the
// check is about what the measured events wrote.

export const PRELOAD_PREFIX = "preload";

/** Statements (no parameters but `n`) that insert the preload; run in order, before the seed. */
export function preloadStatements(n: number): { query: string; params: unknown[] }[] {
  if (n <= 0) return [];
  return [
    {
      query: `insert into users (clerk_id, email, email_verified, first_name, last_name, clerk_created_at, clerk_updated_at)
        select 'user_${PRELOAD_PREFIX}_' || g, '${PRELOAD_PREFIX}.' || g || '@example.com', true,
          'Nome' || g, 'Preload', now() - interval '30 days', now() - interval '30 days'
        from generate_series(1, $1::int) g`,
      params: [n],
    },
    {
      // users.id runs 1..n after the reset (restart identity): profile g belongs to user g.
      query: `insert into mentorados (user_id, nome_completo, email, turma, origem)
        select case when g % 10 = 0 then null else g end, 'Preload ' || g,
          '${PRELOAD_PREFIX}.' || case when g % 10 = 0 then 'waiting.' else '' end || g || '@example.com',
          'turma_bench', case when g % 10 = 0 then 'pre_registered' else 'clerk_signup' end
        from generate_series(1, $1::int) g`,
      params: [n],
    },
    {
      query: `insert into clerk_sync.clerk_webhook_events (svix_id, type, clerk_user_id, outcome, event_timestamp, received_at)
        select 'msg_${PRELOAD_PREFIX}_' || g, 'user.created', 'user_${PRELOAD_PREFIX}_' || g, 'created',
          now() - interval '30 days', now() - interval '30 days'
        from generate_series(1, $1::int) g`,
      params: [n],
    },
  ];
}

/** Filters for the row check: what the preload inserted is not the events' work. */
export const NOT_PRELOADED = {
  users: `clerk_id not like 'user_${PRELOAD_PREFIX}_%'`,
  mentorados: `email not like '${PRELOAD_PREFIX}.%'`,
  ledger: `svix_id not like 'msg_${PRELOAD_PREFIX}_%'`,
} as const;
