// Paging through GET /v1/users?order_by=+created_at, one page ahead: while the caller applies page
// i, page i+1 is already being fetched (Clerk's latency and the database's overlap), and no more
// than those two pages are ever held, whatever the number of users.
//
// By cursor (`starting_after` = the last user id of the previous page): each page starts right
// after a user, not at a position, so a user deleted in Clerk during the run shifts nobody, and a
// page costs Clerk the same however deep it is. Sign-ups during the run append at the end of the
// `+created_at` order, where the run picks them up.
//
// By offset only when it must: the first page of a run checkpointed by offset (a run started before
// cursor paging; the next page goes by cursor again), and for the rest of a run whose API refused
// the cursor (said once). With offsets, a deletion during the run shifts later users one place
// earlier, so the user at a page boundary can be missed by that run (the dry run's `missing` shows
// it; a re-run, idempotent, brings it in).
import { type ClerkSource, CursorRefused, type UserPage } from "./clerk.js";

/** Where a page starts: after the cursor's user, or at the offset (cursor null, or refused). */
export interface Position {
  cursor: string | null;
  /** Users listed before this page in the run: the offset paging would use. */
  offset: number;
}

export interface Page extends UserPage {
  from: Position;
  next: Position;
  /** Fewer than `limit` users: nothing follows. */
  last: boolean;
}

export interface ListPagesOptions {
  limit: number;
  start: Position;
  createdAfter?: number;
  /** Once, when Clerk refuses the cursor and the run falls back to offsets. */
  onCursorRefused?: (reason: string) => void;
}

export async function* listPages(clerk: ClerkSource, opts: ListPagesOptions): AsyncGenerator<Page> {
  let cursorOk = true;
  const filter = opts.createdAfter === undefined ? {} : { createdAfter: opts.createdAfter };
  // A cursor page must start at or after the previous page's last user, or the API ignored the
  // cursor and listed from the start again.
  let previousLast: number | null = null;
  const fetchAt = async (at: Position): Promise<UserPage> => {
    const byCursor = cursorOk && (at.cursor !== null || at.offset === 0);
    if (!byCursor) return clerk.listUsers({ limit: opts.limit, offset: at.offset, ...filter });
    const page = await clerk.listUsers({
      limit: opts.limit,
      ...(at.cursor === null ? {} : { startingAfter: at.cursor }),
      ...filter,
    });
    if (
      at.cursor !== null &&
      previousLast !== null &&
      page.firstCreatedAt !== null &&
      page.firstCreatedAt < previousLast
    )
      throw new CursorRefused("ignored: the page starts before the cursor");
    return page;
  };
  const prefetch = (at: Position) => {
    const p = fetchAt(at);
    // Handled here so an abandoned prefetch is never an unhandled rejection; awaiting `p` still
    // throws its error to the caller.
    p.catch(() => {});
    return p;
  };

  let at = opts.start;
  let next = prefetch(at);
  for (;;) {
    let page: UserPage;
    try {
      page = await next;
    } catch (err) {
      if (!(err instanceof CursorRefused) || !cursorOk) throw err;
      cursorOk = false;
      opts.onCursorRefused?.(err.reason);
      // The same position by offset; `from` keeps the checkpoint's cursor, which guards the page.
      next = prefetch(at);
      continue;
    }
    const last = page.listed < opts.limit;
    const following: Position = {
      cursor: cursorOk ? (page.lastId ?? at.cursor) : null,
      offset: at.offset + page.listed,
    };
    previousLast = page.lastCreatedAt ?? previousLast;
    if (!last) next = prefetch(following);
    yield { ...page, from: at, next: following, last };
    if (last) return;
    at = following;
  }
}
