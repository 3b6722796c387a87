// Offset pagination over GET /v1/users?order_by=+created_at, one page ahead: while the caller
// applies page i, page i+1 is already being fetched (Clerk's latency and the database's overlap).
//
// `+created_at` is stable under sign-ups during the run (new users append at the end, where the
// run picks them up). A deletion in Clerk during the run shifts later users one place earlier, so
// the user at a page boundary can be missed by that run: the webhook's own deliveries cover new
// activity, and re-running the backfill (idempotent) or the dry-run report shows any such gap.
import type { ClerkSource, UserPage } from "./clerk.js";

export interface Page extends UserPage {
  offset: number;
  /** Offset of the next page: offset + listed. */
  nextOffset: number;
  /** Fewer than `limit` users: nothing follows. */
  last: boolean;
}

export async function* listPages(
  clerk: ClerkSource,
  opts: { limit: number; startOffset: number; createdAfter?: number },
): AsyncGenerator<Page> {
  const fetchAt = (offset: number) => {
    const p = clerk.listUsers({
      limit: opts.limit,
      offset,
      ...(opts.createdAfter === undefined ? {} : { createdAfter: opts.createdAfter }),
    });
    // Handled here so an abandoned prefetch is never an unhandled rejection; awaiting `p` still
    // throws its error to the caller.
    p.catch(() => {});
    return p;
  };
  let offset = opts.startOffset;
  let next = fetchAt(offset);
  for (;;) {
    const page = await next;
    const last = page.listed < opts.limit;
    if (!last) next = fetchAt(offset + page.listed);
    yield { ...page, offset, nextOffset: offset + page.listed, last };
    if (last) return;
    offset += page.listed;
  }
}
