import axios from 'axios';
import {
  ServiceTitanResponseError,
  createServiceTitanClient,
  exportPages,
  isServiceTitanAuthError,
  paginate,
  paginatePages,
  type ExportBatch,
  type ServiceTitanClient,
} from '../src';
import type { Sandbox } from '../src/testing';
import { authOptions, flushIo, useSandbox } from './helpers/sandbox';
import { collect, rejection } from './helpers/iterables';

const CUSTOMERS = '/crm/v2/tenant/{tenant}/customers';
const EXPORT = '/crm/v2/tenant/{tenant}/export/customers';

interface Customer {
  id: number;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function clientFor(sandbox: Sandbox): ServiceTitanClient {
  return createServiceTitanClient({ ...authOptions(sandbox), tenantId: sandbox.tenantId });
}

const apiPaths = (sandbox: Sandbox): string[] =>
  sandbox.api.requests.map((r) => `${r.path}?${new URLSearchParams(r.query).toString()}`);

describe('paginate', () => {
  const sandbox = useSandbox();

  it('collects every item across pages, in order, through the client', async () => {
    const customers = await collect(paginate<Customer>(clientFor(sandbox()), CUSTOMERS));
    expect(customers.map((c) => c.id)).toEqual(range(1, 120));
    expect(sandbox().api.requests.map((r) => r.query)).toEqual([{ page: '1' }, { page: '2' }, { page: '3' }]);
    expect(sandbox().api.requests.every((r) => r.tokenId === 'tok-1')).toBe(true);
  });

  it('sends pageSize, params and startPage', async () => {
    const client = clientFor(sandbox());
    const items = await collect(
      paginate<Customer>(client, CUSTOMERS, {
        pageSize: 25,
        startPage: 2,
        params: { includeTotal: true, page: 99 },
      }),
    );
    expect(items.map((c) => c.id)).toEqual(range(26, 120));
    expect(apiPaths(sandbox())).toEqual(
      [2, 3, 4, 5].map((page) => `/crm/v2/tenant/1000/customers?includeTotal=true&page=${page}&pageSize=25`),
    );
  });

  it('yields whole pages with paginatePages', async () => {
    const pages = await collect(
      paginatePages<Customer>(clientFor(sandbox()), CUSTOMERS, {
        pageSize: 50,
        params: { includeTotal: true },
      }),
    );
    expect(pages.map((p) => [p.page, p.hasMore, p.totalCount, p.data.length])).toEqual([
      [1, true, 120, 50],
      [2, true, 120, 50],
      [3, false, 120, 20],
    ]);
  });

  it.each([0, 5001, 1.5, '10', Number.NaN, null])(
    'rejects pageSize %p synchronously with invalid_config',
    (pageSize) => {
      let thrown: unknown;
      try {
        paginate(clientFor(sandbox()), CUSTOMERS, { pageSize: pageSize as number });
      } catch (error) {
        thrown = error;
      }
      expect(isServiceTitanAuthError(thrown) && thrown.code).toBe('invalid_config');
      expect((thrown as Error).message).toMatch(/pageSize/);
      expect(sandbox().api.count).toBe(0);
    },
  );

  it('rejects a bad url, startPage, params or client synchronously, naming it', () => {
    const client = clientFor(sandbox());
    const cases: [() => unknown, RegExp][] = [
      [() => paginate(client, ''), /url/],
      [() => paginate(client, 42 as never), /url/],
      [() => paginate(client, CUSTOMERS, { startPage: 0 }), /startPage/],
      [() => paginate(client, CUSTOMERS, { params: [] as never }), /params/],
      [() => paginate(client, CUSTOMERS, { signal: {} as never }), /signal/],
      [() => paginate({} as never, CUSTOMERS), /client/],
      [() => exportPages(client, ' '), /url/],
      [() => exportPages(client, EXPORT, { from: new Date(Number.NaN) }), /from/],
      [() => exportPages(client, EXPORT, { from: 7 as never }), /from/],
    ];
    for (const [call, message] of cases) {
      expect(call).toThrow(message);
      try {
        call();
      } catch (error) {
        expect(isServiceTitanAuthError(error) && error.code).toBe('invalid_config');
      }
    }
  });

  it('fetches nothing more once the consumer breaks out', async () => {
    const seen: number[] = [];
    for await (const customer of paginate<Customer>(clientFor(sandbox()), CUSTOMERS)) {
      seen.push(customer.id);
      if (seen.length === 3) break;
    }
    await flushIo();
    expect(seen).toEqual([1, 2, 3]);
    expect(sandbox().api.count).toBe(1);
  });

  it('fetches nothing before the first item is asked for', async () => {
    paginate(clientFor(sandbox()), CUSTOMERS);
    await flushIo();
    expect(sandbox().api.count).toBe(0);
  });

  it('stops at once on abort while a page is in flight, with CanceledError', async () => {
    const controller = new AbortController();
    const iterator = paginate<Customer>(clientFor(sandbox()), CUSTOMERS, {
      signal: controller.signal,
    })[Symbol.asyncIterator]();
    for (let i = 0; i < 50; i += 1) await iterator.next();
    const hold = sandbox().api.hold();
    const next = iterator.next();
    await hold.untilWaiting(1);
    controller.abort();
    const error = await rejection(next);
    expect(axios.isCancel(error)).toBe(true);
    hold.release();
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
    await flushIo();
    expect(sandbox().api.count).toBe(2);
  });

  it('stops between items of a fetched page on abort, with CanceledError', async () => {
    const controller = new AbortController();
    const seen: number[] = [];
    const error = await rejection(
      (async () => {
        for await (const customer of paginate<Customer>(clientFor(sandbox()), CUSTOMERS, {
          signal: controller.signal,
        })) {
          seen.push(customer.id);
          if (seen.length === 2) controller.abort();
        }
      })(),
    );
    expect(axios.isCancel(error)).toBe(true);
    expect(seen).toEqual([1, 2]);
    expect(sandbox().api.count).toBe(1);
  });

  it('throws a clear error on a malformed page', async () => {
    sandbox().api.enqueue({ status: 200, body: { nope: 1 } });
    const error = await rejection(collect(paginate(clientFor(sandbox()), CUSTOMERS)));
    expect(error).toBeInstanceOf(ServiceTitanResponseError);
    expect((error as Error).message).toMatch(
      /GET \/crm\/v2\/tenant\/\{tenant\}\/customers page 1 did not answer a list page.*keys nope/,
    );
  });

  it('throws on a non-JSON page, without echoing the body', async () => {
    sandbox().api.enqueue({ status: 200, body: '<html>secret-ish</html>' });
    const error = await rejection(collect(paginate(clientFor(sandbox()), CUSTOMERS)));
    expect((error as Error).message).toMatch(/non-JSON body/);
    expect((error as Error).message).not.toContain('secret-ish');
  });

  it('ends on an empty page even when the server says hasMore', async () => {
    sandbox().api.enqueue({
      status: 200,
      body: { page: 1, pageSize: 50, hasMore: true, totalCount: null, data: [] },
      times: 5,
    });
    expect(await collect(paginate(clientFor(sandbox()), CUSTOMERS))).toEqual([]);
    expect(sandbox().api.count).toBe(1);
  });

  it('throws instead of looping when the server does not advance page', async () => {
    sandbox().api.enqueue({
      status: 200,
      body: { page: 1, pageSize: 50, hasMore: true, totalCount: null, data: [{ id: 1 }] },
      times: 10,
    });
    const seen: unknown[] = [];
    const error = await rejection(
      (async () => {
        for await (const item of paginate(clientFor(sandbox()), CUSTOMERS)) seen.push(item);
      })(),
    );
    expect(error).toBeInstanceOf(ServiceTitanResponseError);
    expect((error as Error).message).toMatch(/page 2 answered page 1; the server does not advance pages/);
    expect(seen).toEqual([{ id: 1 }]);
    expect(sandbox().api.count).toBe(2);
  });

  it('throws instead of looping when the server answers page 0 with hasMore', async () => {
    sandbox().api.enqueue({
      status: 200,
      body: { page: 0, pageSize: 50, hasMore: true, totalCount: null, data: [{ id: 1 }] },
      times: 10,
    });
    const error = await rejection(collect(paginate(clientFor(sandbox()), CUSTOMERS, { concurrency: 3 })));
    expect(error).toBeInstanceOf(ServiceTitanResponseError);
    expect((error as Error).message).toMatch(/page 1 answered page 0/);
    expect(sandbox().api.count).toBeLessThanOrEqual(3);
  });

  describe('a server that ignores page and leaves it out of the body', () => {
    const SAME_PAGE = { status: 200, body: { hasMore: true, data: [{ id: 1 }, { id: 2 }, { id: 3 }] }, times: 1000 };
    /** Items until the iteration ends or 600 have come (a loop without end, before the fix). */
    async function upTo600(iterable: AsyncIterable<unknown>): Promise<{ items: unknown[]; error: unknown }> {
      const items: unknown[] = [];
      try {
        for await (const item of iterable) {
          items.push(item);
          if (items.length === 600) break;
        }
      } catch (error) {
        return { items, error };
      }
      return { items, error: undefined };
    }

    it.each([1, 4])(
      'paginate (concurrency %i) throws naming the URL once a page repeats the previous one',
      async (concurrency) => {
        sandbox().api.enqueue(SAME_PAGE);
        const { items, error } = await upTo600(paginate(clientFor(sandbox()), CUSTOMERS, { concurrency }));
        expect(items).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
        expect(error).toBeInstanceOf(ServiceTitanResponseError);
        expect((error as Error).message).toBe(
          'paginate: GET /crm/v2/tenant/{tenant}/customers page 2 holds the same 3 items as page 1; the server ignores `page`, stopping instead of looping forever',
        );
        await flushIo();
        // Page 1, page 2, and with k in flight at most k more already asked for (then aborted).
        expect(sandbox().api.count).toBeLessThanOrEqual(concurrency === 1 ? 2 : concurrency + 1);
      },
    );

    it('paginatePages throws the same, after yielding the first page only', async () => {
      sandbox().api.enqueue(SAME_PAGE);
      const { items, error } = await upTo600(paginatePages(clientFor(sandbox()), CUSTOMERS));
      expect(items).toHaveLength(1);
      expect((error as Error).message).toMatch(/page 2 holds the same 3 items as page 1; the server ignores `page`/);
      expect(sandbox().api.count).toBe(2);
    });

    it('two pages that differ are followed as before', async () => {
      sandbox().api.enqueue(
        { status: 200, body: { hasMore: true, data: [{ id: 1 }] } },
        { status: 200, body: { hasMore: false, data: [{ id: 2 }] } },
      );
      expect(await collect(paginate(clientFor(sandbox()), CUSTOMERS))).toEqual([{ id: 1 }, { id: 2 }]);
    });
  });

  it('passes HTTP errors through as axios errors', async () => {
    sandbox().api.enqueue({ status: 404 });
    const error = await rejection(collect(paginate(clientFor(sandbox()), CUSTOMERS)));
    expect(axios.isAxiosError(error) && error.response?.status).toBe(404);
  });
});

describe('exportPages', () => {
  const sandbox = useSandbox({ customerCount: 120, exportBatchSize: 50 });

  it('follows continueFrom over every batch', async () => {
    const batches = await collect(exportPages<Customer>(clientFor(sandbox()), EXPORT));
    expect(batches.map((b) => [b.data.length, b.hasMore])).toEqual([
      [50, true],
      [50, true],
      [20, false],
    ]);
    expect(batches.flatMap((b) => b.data.map((c) => c.id))).toEqual(range(1, 120));
    const sent = sandbox().api.requests.map((r) => r.query['from']);
    expect(sent).toEqual([undefined, batches[0]?.continueFrom, batches[1]?.continueFrom]);
  });

  it('resumes from a checkpointed continueFrom with exactly the remaining records', async () => {
    const client = clientFor(sandbox());
    let checkpoint: string | undefined;
    const firstRun: number[] = [];
    for await (const batch of exportPages<Customer>(client, EXPORT)) {
      firstRun.push(...batch.data.map((c) => c.id));
      checkpoint = batch.continueFrom;
      if (firstRun.length >= 50) break; // the process "dies" after one batch
    }
    expect(sandbox().api.count).toBe(1);
    const secondRun: ExportBatch<Customer>[] = await collect(
      exportPages<Customer>(client, EXPORT, { ...(checkpoint ? { from: checkpoint } : {}) }),
    );
    const all = [...firstRun, ...secondRun.flatMap((b) => b.data.map((c) => c.id))];
    expect(all).toEqual(range(1, 120));
    // An incremental run from the last continueFrom finds nothing new.
    const last = secondRun.at(-1)?.continueFrom ?? '';
    expect(await collect(exportPages(client, EXPORT, { from: last }))).toEqual([
      { data: [], continueFrom: expect.any(String), hasMore: false },
    ]);
  });

  it('sends a Date from as an ISO string, and params', async () => {
    const from = new Date(Date.UTC(2024, 4, 1));
    await collect(exportPages(clientFor(sandbox()), EXPORT, { from, params: { active: 'True' } }));
    expect(sandbox().api.requests[0]?.query).toEqual({
      from: '2024-05-01T00:00:00.000Z',
      active: 'True',
    });
  });

  it('throws when the feed says hasMore without advancing continueFrom', async () => {
    sandbox().api.enqueue({
      status: 200,
      body: { hasMore: true, continueFrom: 'stuck', data: [{ id: 1 }] },
      times: 10,
    });
    const batches: unknown[] = [];
    const error = await rejection(
      (async () => {
        for await (const batch of exportPages(clientFor(sandbox()), EXPORT)) batches.push(batch);
      })(),
    );
    expect(error).toBeInstanceOf(ServiceTitanResponseError);
    expect((error as Error).message).toMatch(/did not advance continueFrom/);
    expect(batches).toHaveLength(1);
    expect(sandbox().api.count).toBe(2);
  });

  it('throws when continueFrom cycles (A -> B -> A) instead of looping forever', async () => {
    const batch = (continueFrom: string, id: number) => ({
      status: 200,
      body: { hasMore: true, continueFrom, data: [{ id }] },
    });
    sandbox().api.enqueue(batch('A', 1), batch('B', 2), batch('A', 3), batch('B', 4), batch('A', 5));
    const batches: ExportBatch<unknown>[] = [];
    const error = await rejection(
      (async () => {
        for await (const b of exportPages(clientFor(sandbox()), EXPORT)) batches.push(b);
      })(),
    );
    expect(error).toBeInstanceOf(ServiceTitanResponseError);
    expect((error as Error).message).toMatch(/batch 3 .*sent a continueFrom already followed; stopping/);
    expect(batches.map((b) => b.continueFrom)).toEqual(['A', 'B']);
    expect(sandbox().api.requests.map((r) => r.query['from'])).toEqual([undefined, 'A', 'B']);
  });

  it('throws when the feed cycles back to the from it started at', async () => {
    sandbox().api.enqueue(
      { status: 200, body: { hasMore: true, continueFrom: 'B', data: [] } },
      { status: 200, body: { hasMore: true, continueFrom: 'A', data: [] } },
    );
    const error = await rejection(collect(exportPages(clientFor(sandbox()), EXPORT, { from: 'A' })));
    expect((error as Error).message).toMatch(/batch 2 .*already followed/);
    expect(sandbox().api.count).toBe(2);
  });

  it('throws a clear error on a malformed batch', async () => {
    sandbox().api.enqueue({ status: 200, body: { hasMore: true, data: [] } });
    const error = await rejection(collect(exportPages(clientFor(sandbox()), EXPORT)));
    expect((error as Error).message).toMatch(/export\/customers batch 1 did not answer an export batch/);
  });

  it('stops on abort with CanceledError', async () => {
    const controller = new AbortController();
    const error = await rejection(
      (async () => {
        for await (const _batch of exportPages(clientFor(sandbox()), EXPORT, {
          signal: controller.signal,
        })) {
          controller.abort();
        }
      })(),
    );
    expect(axios.isCancel(error)).toBe(true);
    expect(sandbox().api.count).toBe(1);
  });
});
