import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { startSandbox, type Sandbox } from '../../src/testing';

/*
 * The sandbox against ServiceTitan's published schemas (tests/fixtures/servicetitan-schemas,
 * trimmed from the public OpenAPI files; see the README there). Each line of ROUTES sends one
 * real request to a started sandbox, then checks with ajv:
 * - the request (query parameters and body) against the operation's published parameter and
 *   request-body schemas: the line says whether the schema accepts it, and a request the schema
 *   refuses must be answered 400;
 * - the answer against the published response schema for its status (a status the operation
 *   does not document fails).
 * A new route, or a new case of one, is one more line.
 */

type Spec = 'crm-v2' | 'telecom-v3' | 'reporting-v2';

interface Exchange {
  /** The fixture, and the operation in it as `METHOD path` (the published path, without the base). */
  spec: Spec;
  operation: string;
  /** Path parameters other than `tenant`. */
  params?: Record<string, string>;
  query?: Record<string, string>;
  /** Sent as JSON. */
  body?: unknown;
  /** Whether the published schemas accept the request. */
  request: 'valid' | 'invalid';
  /** The status the sandbox must answer. */
  status: number;
}

const ADDRESS = { street: '1 Main St', unit: null, city: 'Glendale', state: 'CA', zip: '91203', country: 'USA' };
const NEW_CUSTOMER = {
  name: 'Contract Test Co',
  type: 'Commercial',
  doNotMail: true,
  locations: [
    {
      name: 'Head office',
      address: { ...ADDRESS, latitude: 34.14, longitude: -118.25 },
      contacts: [{ type: 'Phone', value: '+15550001111', memo: null }],
      customFields: [{ typeId: 7, value: 'Yard sign' }],
      tagTypeIds: [11],
      externalData: {
        applicationGuid: '6f1c2b1e-8a4d-4a8e-9d7b-2c4f0e1a9b3c',
        externalData: [{ key: 'k', value: 'v' }],
      },
      coordinatesSource: 'User',
    },
  ],
  address: ADDRESS,
  contacts: [{ type: 'Email', value: 'office@example.com' }],
  customFields: [{ typeId: 7, value: 'Referral' }],
  tagTypeIds: [11, 12],
  externalData: {
    applicationGuid: '6f1c2b1e-8a4d-4a8e-9d7b-2c4f0e1a9b3c',
    externalData: [{ key: 'erp', value: 'C-1' }],
  },
  taxExempt: false,
  paymentTermId: 3,
  creditLimit: 5000,
  creditLimitBalance: 5000,
};
const FULL_ADDRESS = { ...ADDRESS, unit: 'Suite 2', latitude: 34.1, longitude: -118.2 };
const UPDATE = {
  name: 'Renamed',
  doNotMail: true,
  address: FULL_ADDRESS,
  customFields: [{ typeId: 7, value: 'x' }],
  externalData: {
    patchMode: 'Merge',
    applicationGuid: '6f1c2b1e-8a4d-4a8e-9d7b-2c4f0e1a9b3c',
    externalData: [{ key: 'erp', value: null }],
  },
};
const REPORT = 'POST /tenant/{tenant}/report-category/{report_category}/reports/{reportId}/data';
const REPORT_PARAMS = { report_category: 'operations', reportId: '42' };
const FROM = { name: 'From', value: '2024-01-01' };

const LIST = 'GET /tenant/{tenant}/customers';
const CREATE = 'POST /tenant/{tenant}/customers';
const GET_ONE = 'GET /tenant/{tenant}/customers/{id}';
const PATCH = 'PATCH /tenant/{tenant}/customers/{id}';
const EXPORT = 'GET /tenant/{tenant}/export/customers';
const CALLS = 'GET /v3/tenant/{tenant}/calls';
const CATEGORIES = 'GET /tenant/{tenant}/report-categories';

// One line per exchange (kept on one line each: a new route is one line to add or review).
// prettier-ignore
const ROUTES: [string, Exchange][] = [
  ['customers', { spec: 'crm-v2', operation: LIST, request: 'valid', status: 200 }],
  ['customers, page 2 with total', { spec: 'crm-v2', operation: LIST, query: { page: '2', pageSize: '10', includeTotal: 'true' }, request: 'valid', status: 200 }],
  ['customers, filtered', { spec: 'crm-v2', operation: LIST, query: { active: 'Any', ids: '1,2,3', modifiedOnOrAfter: '2020-01-01T00:00:00Z' }, request: 'valid', status: 200 }],
  ['customers, sorted', { spec: 'crm-v2', operation: LIST, query: { sort: '-ModifiedOn', pageSize: '3' }, request: 'valid', status: 200 }],
  ['customers, includeTotal=maybe', { spec: 'crm-v2', operation: LIST, query: { includeTotal: 'maybe' }, request: 'invalid', status: 400 }],
  ['customers, pageSize=abc', { spec: 'crm-v2', operation: LIST, query: { pageSize: 'abc' }, request: 'invalid', status: 400 }],
  ['customers, active=Maybe', { spec: 'crm-v2', operation: LIST, query: { active: 'Maybe' }, request: 'invalid', status: 400 }],
  ['customers, createdBefore=soon', { spec: 'crm-v2', operation: LIST, query: { createdBefore: 'soon' }, request: 'invalid', status: 400 }],
  ['create customer', { spec: 'crm-v2', operation: CREATE, body: NEW_CUSTOMER, request: 'valid', status: 200 }],
  ['create customer, required fields only', { spec: 'crm-v2', operation: CREATE, body: { name: 'Min', locations: [], address: ADDRESS }, request: 'valid', status: 200 }],
  ['create customer, no address', { spec: 'crm-v2', operation: CREATE, body: { name: 'X', locations: [] }, request: 'invalid', status: 400 }],
  ['create customer, unknown property', { spec: 'crm-v2', operation: CREATE, body: { name: 'X', locations: [], address: ADDRESS, vip: true }, request: 'invalid', status: 400 }],
  ['create customer, bad type', { spec: 'crm-v2', operation: CREATE, body: { name: 'X', locations: [], address: ADDRESS, type: 'Alien' }, request: 'invalid', status: 400 }],
  ['create customer, no body', { spec: 'crm-v2', operation: CREATE, request: 'invalid', status: 400 }],
  ['customer by id', { spec: 'crm-v2', operation: GET_ONE, params: { id: '1' }, request: 'valid', status: 200 }],
  ['customer by id, unknown', { spec: 'crm-v2', operation: GET_ONE, params: { id: '999999' }, request: 'valid', status: 404 }],
  ['update customer', { spec: 'crm-v2', operation: PATCH, params: { id: '2' }, body: UPDATE, request: 'valid', status: 200 }],
  ['update customer, unknown', { spec: 'crm-v2', operation: PATCH, params: { id: '999999' }, body: { name: 'Nobody' }, request: 'valid', status: 404 }],
  ['update customer, active=yes', { spec: 'crm-v2', operation: PATCH, params: { id: '2' }, body: { active: 'yes' }, request: 'invalid', status: 400 }],
  ['update customer, partial address', { spec: 'crm-v2', operation: PATCH, params: { id: '2' }, body: { address: ADDRESS }, request: 'invalid', status: 400 }],
  ['update customer, unknown property', { spec: 'crm-v2', operation: PATCH, params: { id: '2' }, body: { balance: 0 }, request: 'invalid', status: 400 }],
  ['export customers', { spec: 'crm-v2', operation: EXPORT, request: 'valid', status: 200 }],
  ['export customers from a date', { spec: 'crm-v2', operation: EXPORT, query: { from: '2020-01-01T00:00:00Z', includeRecentChanges: 'true' }, request: 'valid', status: 200 }],
  ['export customers, from=nonsense', { spec: 'crm-v2', operation: EXPORT, query: { from: 'nonsense' }, request: 'valid', status: 400 }],
  ['export customers, includeRecentChanges=maybe', { spec: 'crm-v2', operation: EXPORT, query: { includeRecentChanges: 'maybe' }, request: 'invalid', status: 400 }],
  ['calls', { spec: 'telecom-v3', operation: CALLS, request: 'valid', status: 200 }],
  ['calls, page with total', { spec: 'telecom-v3', operation: CALLS, query: { pageSize: '5', includeTotal: 'true', active: 'Any' }, request: 'valid', status: 200 }],
  ['calls, includeTotal=maybe', { spec: 'telecom-v3', operation: CALLS, query: { includeTotal: 'maybe' }, request: 'invalid', status: 400 }],
  ['report categories', { spec: 'reporting-v2', operation: CATEGORIES, request: 'valid', status: 200 }],
  ['report categories, page=first', { spec: 'reporting-v2', operation: CATEGORIES, query: { page: 'first' }, request: 'invalid', status: 400 }],
  ['report data', { spec: 'reporting-v2', operation: REPORT, params: REPORT_PARAMS, body: { parameters: [FROM] }, request: 'valid', status: 200 }],
  ['report data, paged', { spec: 'reporting-v2', operation: REPORT, params: REPORT_PARAMS, query: { page: '2', pageSize: '25', includeTotal: 'true' }, body: { parameters: [FROM] }, request: 'valid', status: 200 }],
  ['report data, a parameter without value', { spec: 'reporting-v2', operation: REPORT, params: REPORT_PARAMS, body: { parameters: [{ name: 'IncludeInactive' }] }, request: 'valid', status: 200 }],
  ['report data, a null value', { spec: 'reporting-v2', operation: REPORT, params: REPORT_PARAMS, body: { parameters: [{ name: 'To', value: null }] }, request: 'valid', status: 200 }],
  ['report data, extra body property', { spec: 'reporting-v2', operation: REPORT, params: REPORT_PARAMS, body: { parameters: [FROM], format: 'csv' }, request: 'invalid', status: 400 }],
  ['report data, extra parameter property', { spec: 'reporting-v2', operation: REPORT, params: REPORT_PARAMS, body: { parameters: [{ ...FROM, type: 'Date' }] }, request: 'invalid', status: 400 }],
  ['report data, empty name', { spec: 'reporting-v2', operation: REPORT, params: REPORT_PARAMS, body: { parameters: [{ name: '' }] }, request: 'invalid', status: 400 }],
  ['report data, no parameters', { spec: 'reporting-v2', operation: REPORT, params: REPORT_PARAMS, body: {}, request: 'invalid', status: 400 }],
  ['report data, pageSize=25001', { spec: 'reporting-v2', operation: REPORT, params: REPORT_PARAMS, query: { pageSize: '25001' }, body: { parameters: [] }, request: 'invalid', status: 400 }],
  ['report data, includeTotal=maybe', { spec: 'reporting-v2', operation: REPORT, params: REPORT_PARAMS, query: { includeTotal: 'maybe' }, body: { parameters: [] }, request: 'invalid', status: 400 }],
];

interface Fixture {
  $id: string;
  basePath: string;
  operations: Record<
    string,
    { query: Record<string, unknown>; requestBody?: unknown; responses: Record<string, unknown> }
  >;
}

const FIXTURES = join(__dirname, '../fixtures/servicetitan-schemas');
const fixtures = Object.fromEntries(
  (['crm-v2', 'telecom-v3', 'reporting-v2'] as const).map((spec) => [
    spec,
    JSON.parse(readFileSync(join(FIXTURES, `${spec}.json`), 'utf8')) as Fixture,
  ]),
) as Record<Spec, Fixture>;

const INT32 = 2 ** 31;
const GUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** An ajv that reads the fixtures: strict, every error, formats by their published names. */
function validator(options: { coerceTypes: boolean }): Ajv {
  const ajv = new Ajv({ strict: true, allErrors: true, ...options });
  addFormats(ajv, ['date-time', 'duration']);
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -INT32 && n < INT32 });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
  ajv.addFormat('guid', GUID);
  for (const format of ['decimal', 'double', 'multiline']) ajv.addFormat(format, true);
  ajv.addKeyword('basePath').addKeyword('operations');
  for (const fixture of Object.values(fixtures)) ajv.addSchema(fixture);
  return ajv;
}

const bodies = validator({ coerceTypes: false });
/** Query parameters are strings on the wire: ajv coerces them as ASP.NET binds them. */
const queries = validator({ coerceTypes: true });

function pointer(exchange: Exchange, ...rest: string[]): string {
  const escape = (s: string): string => encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'));
  return `${exchange.spec}.json#/operations/${[exchange.operation, ...rest].map(escape).join('/')}`;
}

/** The errors of the request against the published parameter and body schemas (none: valid). */
function requestErrors(exchange: Exchange): string[] {
  const operation = fixtures[exchange.spec].operations[exchange.operation];
  if (!operation) return [`no operation ${exchange.operation} in ${exchange.spec}`];
  const errors: string[] = [];
  const query = { ...exchange.query };
  const undeclared = Object.keys(query).filter((name) => !(name in operation.query));
  errors.push(...undeclared.map((name) => `query ${name} is not a parameter of the operation`));
  const queryCheck = queries.compile({
    type: 'object',
    properties: Object.fromEntries(
      Object.keys(operation.query).map((n) => [n, { $ref: pointer(exchange, 'query', n) }]),
    ),
  });
  if (!queryCheck(query)) errors.push(...messages(queryCheck));
  if (operation.requestBody !== undefined) {
    const bodyCheck = bodies.getSchema(pointer(exchange, 'requestBody')) as ValidateFunction;
    if (exchange.body === undefined) errors.push('the operation requires a body');
    else if (!bodyCheck(exchange.body)) errors.push(...messages(bodyCheck));
  } else if (exchange.body !== undefined) errors.push('the operation takes no body');
  return errors;
}

function messages(check: ValidateFunction): string[] {
  return (check.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

function urlOf(sandbox: Sandbox, exchange: Exchange): string {
  const [, template = ''] = exchange.operation.split(' ');
  const params: Record<string, string> = { tenant: sandbox.tenantId, ...exchange.params };
  const path = template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
  const query = new URLSearchParams(exchange.query).toString();
  return `${sandbox.apiUrl}${fixtures[exchange.spec].basePath}${path}${query ? `?${query}` : ''}`;
}

let sandbox: Sandbox;
let token: string;

beforeAll(async () => {
  sandbox = await startSandbox({ rateLimit: false, reportRateLimit: false });
  const res = await fetch(sandbox.authUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: sandbox.clientId,
      client_secret: sandbox.clientSecret,
    }).toString(),
  });
  token = ((await res.json()) as { access_token: string }).access_token;
});

afterAll(() => sandbox.close());

describe('the sandbox against the published schemas', () => {
  it.each(ROUTES)('%s', async (_name, exchange) => {
    expect({ request: requestErrors(exchange).length === 0 ? 'valid' : 'invalid' }).toEqual({
      request: exchange.request,
    });
    if (exchange.request === 'invalid') expect(exchange.status).toBe(400);

    const [method = 'GET'] = exchange.operation.split(' ');
    const res = await fetch(urlOf(sandbox, exchange), {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        'st-app-key': sandbox.appKey,
        ...(exchange.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(exchange.body !== undefined ? { body: JSON.stringify(exchange.body) } : {}),
    });
    const body: unknown = await res.json();
    expect({ status: res.status, body }).toMatchObject({ status: exchange.status });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const check = bodies.getSchema(pointer(exchange, 'responses', String(res.status)));
    expect(check).toBeDefined();
    const valid = check?.(body);
    expect({ valid, errors: valid ? [] : messages(check as ValidateFunction) }).toEqual({ valid: true, errors: [] });
  });

  it('covers every operation of the fixtures', () => {
    const covered = new Set(ROUTES.map(([, e]) => `${e.spec} ${e.operation}`));
    const published = Object.values(fixtures).flatMap((f) =>
      Object.keys(f.operations).map((op) => `${f.$id.replace(/\.json$/, '')} ${op}`),
    );
    expect(published.filter((op) => !covered.has(op))).toEqual([]);
  });
});
