import { isAxiosError } from 'axios';
import { createServiceTitanClient, exportPages, paginate, type ServiceTitanClient } from '../../src';
import { startSandbox, type Sandbox } from '../../src/testing';
import { collect } from '../helpers/iterables';

/*
 * What a user's sync test does against the sandbox: write customers through the library, read
 * them back, page and export through what it wrote. Counts are the sandbox's own data set (120
 * customers) plus the writes.
 */

const CUSTOMERS = '/crm/v2/tenant/{tenant}/customers';
const EXPORT = '/crm/v2/tenant/{tenant}/export/customers';
const ADDRESS = { street: '1 Main St', city: 'Glendale', state: 'CA', zip: '91203', country: 'USA' };

interface Customer {
  id: number;
  name: string;
  active: boolean;
  doNotMail: boolean;
  createdOn: string;
  modifiedOn: string;
  externalData: { key: string; value: string }[];
}

const open: Sandbox[] = [];
afterEach(async () => {
  jest.restoreAllMocks();
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function sandboxAndClient(): Promise<[Sandbox, ServiceTitanClient]> {
  const sandbox = await startSandbox({ rateLimit: false });
  open.push(sandbox);
  return [sandbox, createServiceTitanClient({ ...sandbox.clientOptions })];
}

function newCustomer(name: string): Record<string, unknown> {
  return { name, locations: [{ name: `${name} home`, address: ADDRESS }], address: ADDRESS };
}

async function errorOf(request: Promise<unknown>): Promise<{ status: number | undefined; data: unknown }> {
  const error: unknown = await request.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isAxiosError(error)) throw new Error(`expected an HTTP error, got ${String(error)}`);
  return { status: error.response?.status, data: error.response?.data };
}

describe('customer writes', () => {
  it('creates customers that the by-id route, the list and the export feed then serve', async () => {
    const [sandbox, client] = await sandboxAndClient();
    const feed = await collect(exportPages<Customer>(client, EXPORT));
    const checkpoint = feed.at(-1)?.continueFrom ?? '';
    const now = Date.UTC(2026, 0, 2, 3, 4, 5);
    jest.spyOn(Date, 'now').mockReturnValue(now);

    const created = [];
    for (const name of ['Alpha', 'Beta', 'Gamma']) {
      created.push((await client.post<Customer & { locations: unknown[] }>(CUSTOMERS, newCustomer(name))).data);
    }
    expect(created.map((c) => [c.id, c.name, c.active])).toEqual([
      [121, 'Alpha', true],
      [122, 'Beta', true],
      [123, 'Gamma', true],
    ]);
    expect(created[0]?.createdOn).toBe(new Date(now).toISOString());
    expect(created[0]?.locations).toEqual([
      expect.objectContaining({ customerId: 121, name: 'Alpha home', address: expect.objectContaining(ADDRESS) }),
    ]);

    const {
      locations: _locations,
      contacts: _contacts,
      ...asStored
    } = created[1] as unknown as Record<string, unknown>;
    expect((await client.get(`${CUSTOMERS}/122`)).data).toEqual(asStored);

    const all = await collect(paginate<Customer>(client, CUSTOMERS, { pageSize: 50, params: { includeTotal: true } }));
    expect(all).toHaveLength(123);
    expect(all.slice(-3).map((c) => c.name)).toEqual(['Alpha', 'Beta', 'Gamma']);

    // An incremental export from the checkpoint taken before the writes: exactly what was written.
    const since = await collect(exportPages<Customer>(client, EXPORT, { from: checkpoint }));
    expect(since.flatMap((b) => b.data.map((c) => c.id))).toEqual([121, 122, 123]);
    expect(sandbox.api.requests.filter((r) => r.method === 'POST').map((r) => r.status)).toEqual([200, 200, 200]);
  });

  it('updates with PATCH: by id, the list and the export feed show the new version, once', async () => {
    const [, client] = await sandboxAndClient();
    const before = await collect(exportPages<Customer>(client, EXPORT));
    const checkpoint = before.at(-1)?.continueFrom ?? '';
    const original = (await client.get<Customer>(`${CUSTOMERS}/5`)).data;

    const patch = {
      name: 'Renamed',
      doNotMail: true,
      externalData: {
        applicationGuid: '6f1c2b1e-8a4d-4a8e-9d7b-2c4f0e1a9b3c',
        externalData: [{ key: 'erp', value: 'C-5' }],
      },
    };
    const updated = (await client.patch<Customer>(`${CUSTOMERS}/5`, patch)).data;
    expect(updated).toEqual({
      ...original,
      name: 'Renamed',
      doNotMail: true,
      externalData: [{ key: 'erp', value: 'C-5' }],
      modifiedOn: expect.any(String),
    });
    expect(Date.parse(updated.modifiedOn)).toBeGreaterThan(Date.parse(original.modifiedOn));
    expect((await client.get(`${CUSTOMERS}/5`)).data).toEqual(updated);
    await client.patch(`${CUSTOMERS}/5`, { doNotMail: false });

    const since = await collect(exportPages<Customer>(client, EXPORT, { from: checkpoint }));
    expect(since.flatMap((b) => b.data.map((c) => [c.id, c.name, c.doNotMail]))).toEqual([[5, 'Renamed', false]]);
    // What an incremental sync of the list asks: changed since, newest first.
    const changed = await client.get<{ data: Customer[] }>(CUSTOMERS, {
      params: { modifiedOnOrAfter: updated.modifiedOn, sort: '-ModifiedOn' },
    });
    expect(changed.data.data.map((c) => c.id)).toEqual([5]);
    const newestFirst = await client.get<{ data: Customer[] }>(CUSTOMERS, {
      params: { sort: '-ModifiedOn', pageSize: 1 },
    });
    expect(newestFirst.data.data.map((c) => c.id)).toEqual([5]);
    // A full export still has every customer exactly once, the updated one last.
    const full = (await collect(exportPages<Customer>(client, EXPORT))).flatMap((b) => b.data.map((c) => c.id));
    expect(full).toHaveLength(120);
    expect(full.at(-1)).toBe(5);
  });

  it('lists active customers by default, as ServiceTitan does; active=Any and False show the others', async () => {
    const [, client] = await sandboxAndClient();
    await client.patch(`${CUSTOMERS}/9`, { active: false });
    const ids = async (params: Record<string, unknown>): Promise<number[]> =>
      (await collect(paginate<Customer>(client, CUSTOMERS, { pageSize: 500, params }))).map((c) => c.id);
    expect(await ids({})).not.toContain(9);
    expect(await ids({})).toHaveLength(119);
    expect(await ids({ active: 'Any' })).toHaveLength(120);
    expect(await ids({ active: 'False' })).toEqual([9]);
    expect(await ids({ ids: '8,9,10', active: 'Any' })).toEqual([8, 9, 10]);
  });

  it('keeps each tenant its own customers', async () => {
    const clients = [
      { clientId: 'a', clientSecret: 'secret-a', tenantId: '1' },
      { clientId: 'b', clientSecret: 'secret-b', tenantId: '2' },
    ];
    const sandbox = await startSandbox({ clients, rateLimit: false });
    open.push(sandbox);
    const [a, b] = clients.map((c) =>
      createServiceTitanClient({ ...c, appKey: sandbox.appKey, environment: sandbox.environment }),
    ) as [ServiceTitanClient, ServiceTitanClient];
    expect((await a.post<Customer>(CUSTOMERS, newCustomer('Only in 1'))).data.id).toBe(121);
    expect((await errorOf(b.get(`${CUSTOMERS}/121`))).status).toBe(404);
    expect((await b.post<Customer>(CUSTOMERS, newCustomer('Only in 2'))).data.id).toBe(121);
    expect((await a.get<Customer>(`${CUSTOMERS}/121`)).data.name).toBe('Only in 1');
  });

  it('refuses what the published request schemas refuse, with 400 errors by field, and writes nothing', async () => {
    const [, client] = await sandboxAndClient();
    const cases: [Promise<unknown>, Record<string, string[]>][] = [
      [client.post(CUSTOMERS, { name: 'No address', locations: [] }), { address: [expect.any(String)] }],
      [client.post(CUSTOMERS, { ...newCustomer('X'), vip: true }), { vip: [expect.any(String)] }],
      [client.post(CUSTOMERS, { ...newCustomer('X'), type: 'Alien' }), { type: [expect.any(String)] }],
      [
        client.post(CUSTOMERS, { ...newCustomer('X'), locations: [{ name: 'L', address: { street: 'S' } }] }),
        {
          'locations[0].address.city': [expect.any(String)],
          'locations[0].address.state': [expect.any(String)],
          'locations[0].address.zip': [expect.any(String)],
          'locations[0].address.country': [expect.any(String)],
        },
      ],
      [client.patch(`${CUSTOMERS}/1`, { active: 'yes' }), { active: [expect.any(String)] }],
      [client.patch(`${CUSTOMERS}/1`, { name: null }), { name: [expect.any(String)] }],
      [client.get(CUSTOMERS, { params: { includeTotal: 'maybe' } }), { includeTotal: [expect.any(String)] }],
      [client.get(CUSTOMERS, { params: { sort: '+Name' } }), { sort: [expect.any(String)] }],
      [
        client.get(CUSTOMERS, { params: { modifiedOnOrAfter: 'yesterday' } }),
        { modifiedOnOrAfter: [expect.any(String)] },
      ],
    ];
    for (const [request, errors] of cases) {
      const { status, data } = await errorOf(request);
      expect({ status, data }).toEqual({
        status: 400,
        data: {
          type: expect.any(String),
          title: expect.any(String),
          status: 400,
          traceId: expect.any(String),
          errors,
          data: {},
        },
      });
    }
    expect((await client.get(CUSTOMERS, { params: { includeTotal: true, active: 'Any' } })).data).toMatchObject({
      totalCount: 120,
    });
    expect((await client.get<Customer>(`${CUSTOMERS}/1`)).data.active).toBe(true);
  });

  it('answers 404 for an unknown id and 405 with Allow for a method the resource lacks', async () => {
    const [, client] = await sandboxAndClient();
    expect((await errorOf(client.patch(`${CUSTOMERS}/999`, { name: 'Nobody' }))).status).toBe(404);
    const put = await errorOf(client.put(`${CUSTOMERS}/1`, { name: 'x' }));
    expect(put.status).toBe(405);
    const del = await client.delete(CUSTOMERS, { validateStatus: () => true });
    expect([del.status, del.headers['allow']]).toEqual([405, 'GET, POST, HEAD']);
  });
});
