import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios, { AxiosError, getAdapter, type AxiosAdapter } from 'axios';
import {
  ServiceTitanResponseError,
  createServiceTitanClient,
  isServiceTitanAuthError,
  reportRows,
  type ReportRowsOptions,
  type ServiceTitanClient,
  type ServiceTitanClientOptions,
} from '../src';
import type { Sandbox } from '../src/testing';
import { authOptions, flushIo, useSandbox } from './helpers/sandbox';
import { collect, rejection } from './helpers/iterables';

const REPORT = { category: 'operations', reportId: 42 };
const FROM = [{ name: 'From', value: '2024-01-01' }];

function clientFor(sandbox: Sandbox, overrides: Partial<ServiceTitanClientOptions> = {}): ServiceTitanClient {
  return createServiceTitanClient({ ...authOptions(sandbox), tenantId: sandbox.tenantId, ...overrides });
}

/** The lenient figure, as this block's sandbox: its tests are not about the wait between runs. */
const FIVE_RUNS_A_MINUTE = { reportLimit: { perMinute: 5 } };

const jobNumber = (n: number): string => `42-${String(n).padStart(5, '0')}`;
const reportPage = (page: number, hasMore: boolean, data: unknown[][], fields = ['JobNumber', 'Revenue']) => ({
  status: 200,
  match: (r: { query: Record<string, string> }) => r.query['page'] === String(page),
  body: { fields: fields.map((name) => ({ name, label: name })), page, pageSize: 2, hasMore, totalCount: null, data },
});

describe('reportRows', () => {
  const sandbox = useSandbox({ reportRateLimit: { perMinute: 5 } });

  it('yields every row as an object keyed by field name, paging the report-data POST under the reporting limit', async () => {
    const rows = await collect(
      reportRows(clientFor(sandbox(), FIVE_RUNS_A_MINUTE), { ...REPORT, parameters: FROM, pageSize: 25 }),
    );
    expect(rows).toHaveLength(75);
    expect(rows.map((row) => row['JobNumber'])).toEqual(Array.from({ length: 75 }, (_, i) => jobNumber(i + 1)));
    expect(Object.keys(rows[0] ?? {})).toEqual(['JobNumber', 'BusinessUnit', 'CompletedOn', 'Revenue']);
    const requests = sandbox().api.requests;
    expect(requests.map((r) => [r.method, r.path, r.query])).toEqual(
      [1, 2, 3].map((page) => [
        'POST',
        '/reporting/v2/tenant/1000/report-category/operations/reports/42/data',
        { page: String(page), pageSize: '25', includeTotal: 'true' },
      ]),
    );
    expect(requests.every((r) => r.status === 200)).toBe(true);
    expect(sandbox().api.rateLimited).toBe(0);
  });

  it('sends pageSize 25000 (the most: fewer runs of a limited report) by default, and a report id given as a string', async () => {
    const rows = await collect(
      reportRows(clientFor(sandbox(), FIVE_RUNS_A_MINUTE), { category: 'operations', reportId: '7' }),
    );
    expect(rows).toHaveLength(75);
    expect(sandbox().api.requests.map((r) => r.query['pageSize'])).toEqual(['25000']);
  });

  it('throws when a later page has other fields than the first', async () => {
    sandbox().api.enqueue(reportPage(1, true, [['a', 1]]), reportPage(2, false, [[2, 'b']], ['Revenue', 'JobNumber']));
    const seen: unknown[] = [];
    const error = await rejection(
      (async () => {
        for await (const row of reportRows(clientFor(sandbox(), FIVE_RUNS_A_MINUTE), { ...REPORT, pageSize: 2 }))
          seen.push(row);
      })(),
    );
    expect(error).toBeInstanceOf(ServiceTitanResponseError);
    expect((error as Error).message).toMatch(/page 2 has fields \(Revenue, JobNumber\) unlike the first page's/);
    expect(seen).toEqual([{ JobNumber: 'a', Revenue: 1 }]);
  });

  it.each([
    ['a row shorter than the fields', reportPage(1, false, [['a']]), /row 0 has 1 values, the report has 2 fields/],
    ['a row that is not an array', reportPage(1, false, [{ a: 1 } as never]), /row 0 has object/],
    ['a repeated field name', reportPage(1, false, [], ['A', 'A']), /fields repeat a name/],
    ['a list page without fields', { status: 200, body: { hasMore: false, data: [] } }, /did not answer report data/],
    [
      'another page than the one asked for',
      { ...reportPage(1, true, [['a', 1]]), body: { ...reportPage(1, true, [['a', 1]]).body, page: 0 } },
      /page 1 answered page 0/,
    ],
  ])('throws ServiceTitanResponseError on %s, without the row values', async (_name, fault, message) => {
    sandbox().api.enqueue(fault);
    const error = await rejection(collect(reportRows(clientFor(sandbox(), FIVE_RUNS_A_MINUTE), REPORT)));
    expect(error).toBeInstanceOf(ServiceTitanResponseError);
    expect((error as Error).message).toMatch(message);
    expect(sandbox().api.count).toBe(1);
  });

  it('passes the sandbox 400 for a bad pageSize through when the server disagrees', async () => {
    sandbox().api.enqueue({ status: 400 });
    const error = await rejection(collect(reportRows(clientFor(sandbox(), FIVE_RUNS_A_MINUTE), REPORT)));
    expect(axios.isAxiosError(error) && error.response?.status).toBe(400);
  });

  it.each<[string, Partial<ReportRowsOptions> | null, RegExp]>([
    ['no options', null, /options must be an object/],
    ['an empty category', { category: '' }, /category must be a report category id/],
    ['a category with a slash', { category: 'a/b' }, /category/],
    ['report id 0', { reportId: 0 }, /reportId must be a positive integer/],
    ['a fractional report id', { reportId: 1.5 }, /reportId/],
    ['a non-digit report id', { reportId: '12a' }, /reportId/],
    ['parameters not an array', { parameters: { From: 'x' } as never }, /parameters must be an array/],
    [
      'a parameter without name',
      { parameters: [{ value: 1 } as never] },
      /parameters\[0\]\.name must be a non-empty string/,
    ],
    ['a parameter without value', { parameters: [{ name: 'From' } as never] }, /parameters\[0\]\.value \(From\)/],
    [
      'an object value',
      { parameters: [FROM[0]!, { name: 'To', value: {} as never }] },
      /parameters\[1\]\.value \(To\)/,
    ],
    ['pageSize 0', { pageSize: 0 }, /pageSize must be an integer from 1 to 25000, got 0/],
    ['pageSize 25001', { pageSize: 25_001 }, /pageSize must be an integer from 1 to 25000/],
    ['concurrency 6', { concurrency: 6 }, /concurrency must be an integer from 1 to 5/],
    ['a bad signal', { signal: {} as never }, /signal must be an AbortSignal/],
  ])('rejects %s synchronously with invalid_config, before any request', (_name, change, message) => {
    let thrown: unknown;
    try {
      reportRows(
        clientFor(sandbox(), FIVE_RUNS_A_MINUTE),
        (change === null ? null : { ...REPORT, ...change }) as ReportRowsOptions,
      );
    } catch (error) {
      thrown = error;
    }
    expect(isServiceTitanAuthError(thrown) && thrown.code).toBe('invalid_config');
    expect((thrown as Error).message).toMatch(/^reportRows: /);
    expect((thrown as Error).message).toMatch(message);
    expect(sandbox().api.count).toBe(0);
  });

  it('stops on abort between rows with CanceledError, fetching nothing more', async () => {
    const controller = new AbortController();
    const seen: unknown[] = [];
    const error = await rejection(
      (async () => {
        for await (const row of reportRows(clientFor(sandbox(), FIVE_RUNS_A_MINUTE), {
          ...REPORT,
          pageSize: 25,
          signal: controller.signal,
        })) {
          seen.push(row);
          if (seen.length === 3) controller.abort();
        }
      })(),
    );
    await flushIo();
    expect(axios.isCancel(error)).toBe(true);
    expect(seen).toHaveLength(3);
    expect(sandbox().api.count).toBe(1);
  });
});

describe('reportRows with concurrency (no reporting limit on either side)', () => {
  const sandbox = useSandbox();

  it('fetches pages in parallel, in order, and stops at the last page totalCount gives', async () => {
    const client = clientFor(sandbox(), { reportLimit: false });
    const rows = await collect(reportRows(client, { ...REPORT, pageSize: 10, concurrency: 2 }));
    expect(rows.map((row) => row['JobNumber'])).toEqual(Array.from({ length: 75 }, (_, i) => jobNumber(i + 1)));
    expect(sandbox().api.count).toBe(8);
    expect(sandbox().api.maxInFlight).toBeLessThanOrEqual(2);
  });
});

describe('reportRows request body', () => {
  let server: http.Server;
  let url: string;
  const bodies: unknown[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        bodies.push({
          method: req.method,
          type: req.headers['content-type'],
          body: JSON.parse(Buffer.concat(chunks).toString()),
        });
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({ fields: [{ name: 'A', label: 'A' }], page: 1, pageSize: 5000, hasMore: false, data: [[1]] }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('POSTs { parameters } as JSON, with Dates as ISO strings', async () => {
    const parameters = [
      { name: 'From', value: new Date(Date.UTC(2024, 0, 1)) },
      { name: 'BusinessUnitIds', value: [1, 2] },
      { name: 'IncludeInactive', value: false },
    ];
    const rows = await collect(reportRows(axios.create({ baseURL: url }), { ...REPORT, parameters }));
    expect(rows).toEqual([{ A: 1 }]);
    expect(bodies).toEqual([
      {
        method: 'POST',
        type: expect.stringMatching(/^application\/json/),
        body: {
          parameters: [
            { name: 'From', value: '2024-01-01T00:00:00.000Z' },
            { name: 'BusinessUnitIds', value: [1, 2] },
            { name: 'IncludeInactive', value: false },
          ],
        },
      },
    ]);
  });
});

/**
 * The real limit is a minute: these tests fake the clock every layer reads (`Date`, which the
 * sandbox's reporting limit reads, `performance`, which the client's limit and deadline read, and
 * the timers), and leave I/O real. The clock moves to the next timer only while no HTTP exchange
 * is in flight, so no request ever sees time pass while it travels: the waits are the library's
 * own, to the millisecond, however busy the machine.
 */
describe('reportRows under a reporting limit of 1 run a minute (fake clock)', () => {
  const sandbox = useSandbox({ reportRateLimit: { perMinute: 1 }, requestLogLimit: 1_000 });
  let exchanges = 0;
  const http = getAdapter(axios.defaults.adapter);
  const countingAdapter: AxiosAdapter = async (config) => {
    exchanges += 1;
    try {
      return await http(config);
    } finally {
      exchanges -= 1;
    }
  };

  async function fakeClockClient(overrides: Partial<ServiceTitanClientOptions> = {}): Promise<ServiceTitanClient> {
    const client = clientFor(sandbox(), { ...overrides, axios: { adapter: countingAdapter, ...overrides.axios } });
    await client.auth.getToken(); // the token fetch, with its own timers, before the clock is faked
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'queueMicrotask'] });
    return client;
  }
  afterEach(() => {
    jest.useRealTimers();
  });

  /** Settles `work`, moving the fake clock to the next timer whenever no exchange is in flight. */
  async function underFakeClock<T>(
    work: Promise<T>,
  ): Promise<{ result: T | undefined; error: unknown; elapsedMs: number }> {
    const started = Date.now();
    let settled = false;
    const outcome = work.then(
      (result) => ({ result, error: undefined }),
      (error: unknown) => ({ result: undefined, error }),
    );
    void outcome.then(() => {
      settled = true;
    });
    while (!settled) {
      await flushIo();
      if (!settled && exchanges === 0) jest.advanceTimersToNextTimer();
    }
    return { ...(await outcome), elapsedMs: Date.now() - started };
  }

  const statuses = () => sandbox().api.requests.map((r) => r.status);
  const arrivals = () => sandbox().api.requests.map((r) => r.at);
  const pages = () => sandbox().api.requests.map((r) => r.query['page']);
  const ALL_ROWS = Array.from({ length: 75 }, (_, i) => jobNumber(i + 1));

  it("with the client's default reportLimit (1 a minute), spaces the runs itself: no 429 at all", async () => {
    const client = await fakeClockClient();
    const { result, error } = await underFakeClock(collect(reportRows(client, { ...REPORT, pageSize: 30 })));
    expect(error).toBeUndefined();
    expect(result?.map((row) => row['JobNumber'])).toEqual(ALL_ROWS);
    expect(statuses()).toEqual([200, 200, 200]);
    expect(pages()).toEqual(['1', '2', '3']);
    expect(sandbox().api.rateLimited).toBe(0);
    const [first, second, third] = arrivals();
    // A minute plus the window margin (40 ms) between runs, to the millisecond on a fake clock.
    expect([second! - first!, third! - second!]).toEqual([60_040, 60_040]);
  });

  it("with the client's limit off, waits out the server's 429 + Retry-After and completes the report", async () => {
    const client = await fakeClockClient({ reportLimit: false });
    const { result, error } = await underFakeClock(collect(reportRows(client, { ...REPORT, pageSize: 30 })));
    expect(error).toBeUndefined();
    expect(result?.map((row) => row['JobNumber'])).toEqual(ALL_ROWS);
    expect(statuses()).toEqual([200, 429, 200, 429, 200]);
    expect(pages()).toEqual(['1', '2', '2', '3', '3']);
    const [first, , secondRun, , thirdRun] = arrivals();
    expect([secondRun! - first!, thirdRun! - secondRun!]).toEqual([60_000, 60_000]);
  });

  it.each([
    ["the client's default limit", {}],
    ['the client limit off', { reportLimit: false as const }],
  ])(
    'with %s, a caller timeout shorter than the wait fails the report by its deadline with the timeout error',
    async (_name, overrides) => {
      const client = await fakeClockClient({ ...overrides, axios: { timeout: 5000 } });
      const seen: unknown[] = [];
      const { error, elapsedMs } = await underFakeClock(
        (async () => {
          for await (const row of reportRows(client, { ...REPORT, pageSize: 30 })) seen.push(row);
        })(),
      );
      expect(seen).toHaveLength(30);
      expect(error).toBeInstanceOf(AxiosError);
      expect((error as AxiosError).code).toBe(AxiosError.ECONNABORTED);
      expect((error as AxiosError).message).toBe('timeout of 5000ms exceeded');
      // Never past the deadline of page 2 (asked for at once after page 1, at fake time 0).
      expect(elapsedMs).toBeLessThanOrEqual(5000);
      expect(statuses()).toEqual('reportLimit' in overrides ? [200, 429] : [200]);
    },
  );

  it('the per-request opt-out still holds: retry: false gets the 429 at once', async () => {
    const client = await fakeClockClient({ reportLimit: false });
    const url = `/reporting/v2/tenant/{tenant}/report-category/operations/reports/42/data`;
    const { error, elapsedMs } = await underFakeClock(
      (async () => {
        await client.post(url, { parameters: [] });
        await client.post(url, { parameters: [] }, { serviceTitanAuth: { retry: false } });
      })(),
    );
    expect(axios.isAxiosError(error) && error.response?.status).toBe(429);
    expect(elapsedMs).toBe(0);
    expect(statuses()).toEqual([200, 429]);
  });
});

describe('reportRows retries a report-data POST like a GET', () => {
  const sandbox = useSandbox();

  it.each([502, 503, 504])('a %i on a page is retried and the report completes', async (status) => {
    const client = clientFor(sandbox(), { retry: { retryDelayMs: 1 }, reportLimit: false });
    sandbox().api.enqueue({ status, match: (r: { query: Record<string, string> }) => r.query['page'] === '2' });
    const rows = await collect(reportRows(client, { ...REPORT, pageSize: 30 }));
    expect(rows.map((row) => row['JobNumber'])).toEqual(Array.from({ length: 75 }, (_, i) => jobNumber(i + 1)));
    expect(sandbox().api.requests.map((r) => [r.query['page'], r.status])).toEqual([
      ['1', 200],
      ['2', status],
      ['2', 200],
      ['3', 200],
    ]);
  });

  it('a connection reset on a page is retried and the report completes', async () => {
    const client = clientFor(sandbox(), { retry: { retryDelayMs: 1 }, reportLimit: false });
    sandbox().api.enqueue({ reset: true, match: (r: { query: Record<string, string> }) => r.query['page'] === '2' });
    const rows = await collect(reportRows(client, { ...REPORT, pageSize: 30 }));
    expect(rows).toHaveLength(75);
    expect(sandbox().api.requests.map((r) => [r.query['page'], r.status])).toEqual([
      ['1', 200],
      ['2', undefined],
      ['2', 200],
      ['3', 200],
    ]);
  });

  it('other POSTs are still not retried', async () => {
    const client = clientFor(sandbox(), { retry: { retryDelayMs: 1 } });
    sandbox().api.enqueue({ status: 503 });
    const error = await rejection(client.post('/crm/v2/tenant/{tenant}/customers', { name: 'x' }));
    expect(axios.isAxiosError(error) && error.response?.status).toBe(503);
    expect(sandbox().api.count).toBe(1);
  });
});
