import axios from 'axios';
import {
  createServiceTitanClient,
  isServiceTitanAuthError,
  paginate,
  paginatePages,
  type ServiceTitanClient,
} from '../src';
import type { Sandbox } from '../src/testing';
import { authOptions, flushIo, useSandbox } from './helpers/sandbox';
import { collect } from './helpers/iterables';

const CUSTOMERS = '/crm/v2/tenant/{tenant}/customers';

interface Customer {
  id: number;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function clientFor(sandbox: Sandbox): ServiceTitanClient {
  return createServiceTitanClient({ ...authOptions(sandbox), tenantId: sandbox.tenantId, retry: false });
}

/** The page numbers the server was asked for, in arrival order. */
const pagesAsked = (sandbox: Sandbox): number[] => sandbox.api.requests.map((r) => Number(r.query['page']));

/** Waits (in event-loop turns, not time) until `condition` holds; fails after `turns`. */
async function until(condition: () => boolean, turns = 2000): Promise<void> {
  for (let i = 0; i < turns; i += 1) {
    if (condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('condition not met');
}

/** A deterministic pseudo-random sequence (mulberry32), so a failure can be replayed. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Records unhandled rejections while a test runs. */
function useUnhandledRejectionSpy(): () => unknown[] {
  let seen: unknown[] = [];
  const listener = (reason: unknown): void => {
    seen.push(reason);
  };
  beforeEach(() => {
    seen = [];
    process.on('unhandledRejection', listener);
  });
  afterEach(() => {
    process.off('unhandledRejection', listener);
  });
  return () => seen;
}

describe('paginate with concurrency', () => {
  const sandbox = useSandbox();
  const unhandled = useUnhandledRejectionSpy();

  it.each([1, 3, 8])(
    'yields every item strictly in order when pages answer with random latency (concurrency %i)',
    async (concurrency) => {
      const random = seeded(concurrency);
      // 24 pages of 5; each page is answered after 0-30 ms, so later pages often finish first.
      for (let page = 1; page <= 32; page += 1) {
        sandbox().api.enqueue({ match: (r) => r.query['page'] === String(page), delayMs: Math.floor(random() * 30) });
      }
      const items = await collect(paginate<Customer>(clientFor(sandbox()), CUSTOMERS, { pageSize: 5, concurrency }));
      expect(items.map((c) => c.id)).toEqual(range(1, 120));
      expect(sandbox().api.maxInFlight).toBeLessThanOrEqual(concurrency);
      expect(pagesAsked(sandbox()).filter((p) => p > 24).length).toBeLessThanOrEqual(concurrency - 1);
      expect(unhandled()).toEqual([]);
    },
  );

  it('keeps exactly `concurrency` pages in flight, and holds a finished later page until its turn', async () => {
    const firstPage = sandbox().api.hold((r) => r.query['page'] === '1');
    const iterator = paginate<Customer>(clientFor(sandbox()), CUSTOMERS, {
      pageSize: 10,
      concurrency: 4,
    })[Symbol.asyncIterator]();
    let first: IteratorResult<Customer> | undefined;
    const next = iterator.next().then((result) => (first = result));
    await firstPage.untilWaiting(1);
    // Pages 2-4 are answered while page 1 is held: none of their items may come out first.
    await until(() => sandbox().api.requests.filter((r) => r.status === 200).length === 3);
    await flushIo();
    expect(first).toBeUndefined();
    expect(sandbox().api.count).toBe(4);
    firstPage.release();
    await next;
    expect(first?.value?.id).toBe(1);
    expect(pagesAsked(sandbox()).sort()).toEqual([1, 2, 3, 4]);
    await iterator.return?.();
  });

  it('asks for at most concurrency - 1 pages past the end without includeTotal', async () => {
    const pages = await collect(
      paginatePages<Customer>(clientFor(sandbox()), CUSTOMERS, { pageSize: 10, concurrency: 5 }),
    );
    expect(pages.map((p) => p.page)).toEqual(range(1, 12));
    await flushIo();
    const past = pagesAsked(sandbox()).filter((p) => p > 12);
    expect(past.length).toBeLessThanOrEqual(4);
    expect(unhandled()).toEqual([]);
  });

  it('asks for no page past the end when includeTotal gives the last page', async () => {
    const pages = await collect(
      paginatePages<Customer>(clientFor(sandbox()), CUSTOMERS, {
        pageSize: 10,
        concurrency: 5,
        params: { includeTotal: true },
      }),
    );
    expect(pages.map((p) => p.page)).toEqual(range(1, 12));
    expect(pagesAsked(sandbox()).sort((a, b) => a - b)).toEqual(range(1, 12));
  });

  it('still follows hasMore past the page totalCount implies (the list grew)', async () => {
    // Page 1 claims 20 items (2 pages of 10), but the server has 120: the iterator must not stop.
    sandbox().api.enqueue({
      match: (r) => r.query['page'] === '1',
      status: 200,
      body: { page: 1, pageSize: 10, hasMore: true, totalCount: 20, data: range(1, 10).map((id) => ({ id })) },
    });
    const items = await collect(
      paginate<Customer>(clientFor(sandbox()), CUSTOMERS, {
        pageSize: 10,
        concurrency: 3,
        params: { includeTotal: true },
      }),
    );
    expect(items.map((c) => c.id)).toEqual(range(1, 120));
  });

  it('cancels the pages in flight on break, with no unhandled rejection', async () => {
    const later = sandbox().api.hold((r) => r.query['page'] !== '1');
    const seen: number[] = [];
    for await (const customer of paginate<Customer>(clientFor(sandbox()), CUSTOMERS, {
      pageSize: 10,
      concurrency: 4,
    })) {
      seen.push(customer.id);
      if (seen.length === 1) await later.untilWaiting(3);
      if (seen.length === 2) break;
    }
    // The client closed the three held requests: they leave the hold without an answer.
    await until(() => later.waiting === 0);
    later.release();
    await flushIo(20);
    expect(seen).toEqual([1, 2]);
    expect(sandbox().api.count).toBe(4);
    expect(
      sandbox()
        .api.requests.filter((r) => r.status !== undefined)
        .map((r) => r.query['page']),
    ).toEqual(['1']);
    expect(unhandled()).toEqual([]);
  });

  it('reports a failed later page in order, after the earlier pages, with no unhandled rejection', async () => {
    sandbox().api.enqueue({ match: (r) => r.query['page'] === '3', status: 404 });
    const seen: number[] = [];
    let error: unknown;
    try {
      for await (const customer of paginate<Customer>(clientFor(sandbox()), CUSTOMERS, {
        pageSize: 10,
        concurrency: 4,
      })) {
        seen.push(customer.id);
      }
    } catch (caught) {
      error = caught;
    }
    expect(axios.isAxiosError(error) && error.response?.status).toBe(404);
    expect(seen).toEqual(range(1, 20));
    await flushIo(20);
    expect(unhandled()).toEqual([]);
  });

  it('leaves no unhandled rejection when a page fails after the consumer broke out', async () => {
    const third = sandbox().api.hold((r) => r.query['page'] === '3');
    sandbox().api.enqueue({ match: (r) => r.query['page'] === '3', status: 500 });
    for await (const customer of paginate<Customer>(clientFor(sandbox()), CUSTOMERS, {
      pageSize: 10,
      concurrency: 4,
    })) {
      if (customer.id === 1) await third.untilWaiting(1);
      break;
    }
    third.release();
    await flushIo(50);
    expect(unhandled()).toEqual([]);
  });

  it('stops every page in flight at once on abort, with CanceledError', async () => {
    const held = sandbox().api.hold();
    const controller = new AbortController();
    const iterator = paginate<Customer>(clientFor(sandbox()), CUSTOMERS, {
      concurrency: 3,
      signal: controller.signal,
    })[Symbol.asyncIterator]();
    const next = iterator.next();
    next.catch(() => undefined);
    await held.untilWaiting(3);
    controller.abort();
    let error: unknown;
    try {
      await next;
    } catch (caught) {
      error = caught;
    }
    expect(axios.isCancel(error)).toBe(true);
    await until(() => held.waiting === 0);
    held.release();
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
    expect(sandbox().api.count).toBe(3);
    expect(unhandled()).toEqual([]);
  });

  it.each([0, 65, 1.5, '2', Number.NaN])('rejects concurrency %p synchronously with invalid_config', (concurrency) => {
    let thrown: unknown;
    try {
      paginate(clientFor(sandbox()), CUSTOMERS, { concurrency: concurrency as number });
    } catch (error) {
      thrown = error;
    }
    expect(isServiceTitanAuthError(thrown) && thrown.code).toBe('invalid_config');
    expect((thrown as Error).message).toMatch(/paginate: concurrency must be an integer from 1 to 64/);
  });
});
