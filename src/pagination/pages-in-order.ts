import { throwIfAborted } from './checks';

/** What the engine needs to know of a page to tell whether more follow. */
export interface PageEnd {
  hasMore: boolean;
  data: readonly unknown[];
}

export interface PagesInOrderOptions<P extends PageEnd> {
  /** Fetches and checks one page; must pass `signal` to its request. */
  fetchPage: (page: number, signal: AbortSignal) => Promise<P>;
  startPage: number;
  /** Most pages in flight at once (1: the next page is fetched only once this one is consumed). */
  concurrency: number;
  signal: AbortSignal | undefined;
  /** The last page number a page tells of (from `totalCount`), or undefined when it does not. */
  lastPageOf?: (page: P) => number | undefined;
  /** Throws when `page` shows that the server did not advance from `previous` (checked in order). */
  checkAdvanced?: (previous: P, page: P) => void;
}

/**
 * Fetches numbered pages with up to `concurrency` in flight and yields them strictly in page
 * order. The end is unknown until a page says `hasMore: false` (or is empty), so with k in flight
 * up to k − 1 pages past the end are requested; they are aborted and never yielded. Once a page
 * gives the last page number (`lastPageOf`), nothing past it is requested unless a page there
 * still says `hasMore`.
 *
 * Every fetch runs under its own AbortController; those still in flight are aborted when the
 * iteration ends for any reason (`break`, an error, the end, the caller's `signal`); and every
 * fetch gets a rejection handler at once, so a page that fails after the consumer left (or
 * while an earlier page is awaited) is never an unhandled rejection.
 */
export async function* pagesInOrder<P extends PageEnd>(options: PagesInOrderOptions<P>): AsyncGenerator<P, void> {
  const { fetchPage, startPage, concurrency, signal, lastPageOf, checkAdvanced } = options;
  // One controller per page (not one shared signal): layers below (the rate limit's queue) keep
  // an abort listener per request for a while, and a long iteration must not pile them up.
  const inFlight = new Set<AbortController>();
  const abortAll = (): void => {
    for (const controller of inFlight) controller.abort();
  };
  signal?.addEventListener('abort', abortAll, { once: true });
  const ahead: Promise<P>[] = [];
  let next = startPage;
  let lastPage = Number.POSITIVE_INFINITY;
  let previous: P | undefined;
  try {
    for (;;) {
      // Past the announced last page, fetch one at a time: only a page saying hasMore asks for it.
      while (ahead.length < concurrency && (next <= lastPage || ahead.length === 0)) {
        throwIfAborted(signal);
        const controller = new AbortController();
        inFlight.add(controller);
        const fetched = fetchPage(next, controller.signal);
        const settled = (): void => {
          inFlight.delete(controller);
        };
        // Handled at once: a page that fails while an earlier one is awaited, or after the
        // consumer left, must never be an unhandled rejection.
        fetched.then(settled, settled);
        ahead.push(fetched);
        next += 1;
      }
      const head = ahead.shift();
      if (head === undefined) return;
      const page = await head;
      if (previous !== undefined) checkAdvanced?.(previous, page);
      previous = page;
      lastPage = lastPageOf?.(page) ?? lastPage;
      yield page;
      if (!page.hasMore || page.data.length === 0) return;
    }
  } finally {
    signal?.removeEventListener('abort', abortAll);
    abortAll();
  }
}
