import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
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

const jobNumber = (n: number): string => `42-${String(n).padStart(5, '0')}`;
const reportPage = (page: number, hasMore: boolean, data: unknown[][], fields = ['JobNumber', 'Revenue']) => ({
  status: 200,
  match: (r: { query: Record<string, string> }) => r.query['page'] === String(page),
  body: { fields: fields.map((name) => ({ name, label: name })), page, pageSize: 2, hasMore, totalCount: null, data },
});

describe('reportRows', () => {
  const sandbox = useSandbox({ reportRateLimit: { perMinute: 5 } });

  it('yields every row as an object keyed by field name, paging the report-data POST under the reporting limit', async () => {
    const rows = await collect(reportRows(clientFor(sandbox()), { ...REPORT, parameters: FROM, pageSize: 25 }));
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

  it('sends pageSize 5000 by default, and a report id given as a string', async () => {
    const rows = await collect(reportRows(clientFor(sandbox()), { category: 'operations', reportId: '7' }));
    expect(rows).toHaveLength(75);
    expect(sandbox().api.requests.map((r) => r.query['pageSize'])).toEqual(['5000']);
  });

  it('throws when a later page has other fields than the first', async () => {
    sandbox().api.enqueue(reportPage(1, true, [['a', 1]]), reportPage(2, false, [[2, 'b']], ['Revenue', 'JobNumber']));
    const seen: unknown[] = [];
    const error = await rejection(
      (async () => {
        for await (const row of reportRows(clientFor(sandbox()), { ...REPORT, pageSize: 2 })) seen.push(row);
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
    const error = await rejection(collect(reportRows(clientFor(sandbox()), REPORT)));
    expect(error).toBeInstanceOf(ServiceTitanResponseError);
    expect((error as Error).message).toMatch(message);
    expect(sandbox().api.count).toBe(1);
  });

  it('passes the sandbox 400 for a bad pageSize through when the server disagrees', async () => {
    sandbox().api.enqueue({ status: 400 });
    const error = await rejection(collect(reportRows(clientFor(sandbox()), REPORT)));
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
      reportRows(clientFor(sandbox()), (change === null ? null : { ...REPORT, ...change }) as ReportRowsOptions);
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
        for await (const row of reportRows(clientFor(sandbox()), {
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
