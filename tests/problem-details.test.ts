import { inspect } from 'node:util';
import axios, { AxiosError, type AxiosInstance } from 'axios';
import {
  attachServiceTitanAuth,
  createServiceTitanClient,
  problemDetails,
  ServiceTitanAuthError,
  type ProblemDetails,
  type ServiceTitanAuthOptions,
  type ServiceTitanClient,
} from '../src';
import type { Sandbox } from '../src/testing';
import { reachableText } from './helpers/reachable-text';
import { authOptions, customersPath, useSandbox } from './helpers/sandbox';

/*
 * Issue 19 item 5: ServiceTitan's error body ({type, title, status, traceId, errors, data}) is
 * read by problemDetails(), and an API error's message names its status, title and traceId,
 * through a client and through an attached instance, with no secret in either.
 */

const sandboxOf = useSandbox();

type Via = 'client' | 'attached instance';
const VIAS: Via[] = ['client', 'attached instance'];

function clientVia(
  via: Via,
  sandbox: Sandbox,
  overrides: Partial<ServiceTitanAuthOptions> = {},
): AxiosInstance & { auth: { getToken(): Promise<string> } } {
  if (via === 'client') {
    return createServiceTitanClient({ ...authOptions(sandbox, overrides), tenantId: sandbox.tenantId, retry: false });
  }
  const instance = axios.create({ baseURL: sandbox.apiUrl });
  const auth = attachServiceTitanAuth(instance, authOptions(sandbox, overrides));
  return Object.assign(instance, { auth });
}

async function failure(request: Promise<unknown>): Promise<AxiosError> {
  const error = await request.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AxiosError);
  return error as AxiosError;
}

/** The body the sandbox sent, as it arrived (the ground truth the details must match). */
function sentBody(error: AxiosError): Record<string, unknown> {
  return error.response?.data as Record<string, unknown>;
}

describe.each(VIAS)('problemDetails through a %s', (via) => {
  it('reads a 404 problem and puts status, title and traceId in the message', async () => {
    const sandbox = sandboxOf();
    const api = clientVia(via, sandbox);
    const error = await failure(api.get(`${customersPath(sandbox)}/999999`));

    const body = sentBody(error);
    expect(body.traceId).toMatch(/^[0-9a-f]{32}$/);
    const details: ProblemDetails | undefined = problemDetails(error);
    expect(details).toEqual({
      status: 404,
      type: body.type,
      title: 'Customer with ID 999999 was not found.',
      traceId: body.traceId,
      errors: {},
    });
    expect(error.message).toBe(
      `Request failed with status code 404: Customer with ID 999999 was not found. (traceId ${String(body.traceId)})`,
    );
    expect(error.stack?.split('\n')[0]).toBe(`AxiosError: ${error.message}`);
    expect(sandbox.api.count).toBe(1);
  });

  it('reads the validation errors of a 400', async () => {
    const sandbox = sandboxOf();
    const api = clientVia(via, sandbox);
    const error = await failure(api.get(customersPath(sandbox), { params: { pageSize: 'abc' } }));

    const details = problemDetails(error);
    expect(details).toMatchObject({ status: 400, title: 'One or more validation errors occurred.' });
    expect(details?.traceId).toBe(sentBody(error).traceId);
    expect(Object.keys(details?.errors ?? {})).toContain('pageSize');
    expect(error.message).toMatch(
      /^Request failed with status code 400: One or more validation errors occurred\. \(traceId [0-9a-f]{32}\)$/,
    );
  });

  it('reads the 401 the API answers a wrong app key with', async () => {
    const sandbox = sandboxOf();
    const api = clientVia(via, sandbox, { appKey: 'ak1.not-the-right-key' });
    const error = await failure(api.get(customersPath(sandbox)));
    expect(problemDetails(error)).toMatchObject({ status: 401, traceId: sentBody(error).traceId });
    expect(error.message).toContain('Request failed with status code 401: ');
    expect(error.message).toContain(`(traceId ${String(sentBody(error).traceId)})`);
  });

  it('never shows the token, app key or client secret, even when the server echoes them', async () => {
    const sandbox = sandboxOf();
    const api = clientVia(via, sandbox);
    const token = await api.auth.getToken();
    const echo = `Bearer ${token} with ST-App-Key ${sandbox.appKey} and secret ${sandbox.clientSecret}`;
    const body = {
      type: `https://example.test/${token}`,
      title: `Rejected: ${echo}\r\nINFO forged log line \u001b[31mred\u001b[0m \u202Eevil ${'x'.repeat(5000)}`,
      status: 400,
      traceId: `trace-${sandbox.appKey}\nsecond line`,
      errors: { [token]: [echo], field: [`\u0000${sandbox.clientSecret}`] },
      data: { echoed: echo },
    };
    for (const responseType of ['json', 'text', 'arraybuffer'] as const) {
      sandbox.api.enqueue({ status: 400, body });
      const error = await failure(api.get(customersPath(sandbox), { responseType }));
      const details = problemDetails(error);
      expect(details?.status).toBe(400);
      expect(details?.title).toMatch(
        /^Rejected: Bearer \[redacted\] with ST-App-Key \[redacted\] and secret \[redacted\]/,
      );
      expect(details?.title).not.toMatch(/[\p{Cc}\p{Cf}]/u);
      expect(details?.title?.length).toBeLessThanOrEqual(300);
      expect(details?.traceId).toBe('trace-[redacted] second line');
      expect(error.message).not.toMatch(/[\p{Cc}\p{Cf}]/u);
      expect(error.message.length).toBeLessThan(500);
      const everything = [
        error.message,
        JSON.stringify(details),
        inspect(error, { depth: Infinity, showHidden: true }),
        JSON.stringify(error),
        reachableText(error),
      ].join('\n');
      expect(everything).not.toContain(token);
      expect(everything).not.toContain(sandbox.appKey);
      expect(everything).not.toContain(sandbox.clientSecret);
    }
  });

  it('reads a problem body whatever the responseType, and nothing from a stream', async () => {
    const sandbox = sandboxOf();
    const api = clientVia(via, sandbox);
    for (const responseType of ['json', 'text', 'arraybuffer'] as const) {
      const error = await failure(api.get(`${customersPath(sandbox)}/424242`, { responseType }));
      expect(problemDetails(error)).toMatchObject({ status: 404, title: 'Customer with ID 424242 was not found.' });
      expect(error.message).toMatch(/: Customer with ID 424242 was not found\. \(traceId [0-9a-f]{32}\)$/);
    }
    const streamed = await failure(api.get(`${customersPath(sandbox)}/424242`, { responseType: 'stream' }));
    expect(problemDetails(streamed)).toBeUndefined();
    expect(streamed.message).toBe('Request failed with status code 404');
    (streamed.response?.data as NodeJS.ReadableStream & { destroy(): void }).destroy();
  });
});

describe('problemDetails is undefined for anything but a ServiceTitan error body', () => {
  const bodies: Array<[string, { body: unknown; contentType?: string; responseType?: 'text' }]> = [
    ["the token endpoint's OAuth error", { body: { error: 'invalid_client' } }],
    ['an array', { body: [{ title: 'x', traceId: 'y' }] }],
    ['an HTML page', { body: '<html><body>Bad gateway</body></html>' }],
    [
      'JSON text sent as text/plain, read as text',
      { body: '{"title":"x","traceId":"y"}', contentType: 'text/plain', responseType: 'text' },
    ],
    ['a problem whose status is not a number', { body: { title: 'x', traceId: 'y', status: '400' } }],
    ['an empty object', { body: {} }],
  ];

  it.each(bodies)('%s', async (_name, { body, contentType, responseType }) => {
    const sandbox = sandboxOf();
    const client: ServiceTitanClient = createServiceTitanClient({ ...authOptions(sandbox), retry: false });
    sandbox.api.enqueue({ status: 400, body, ...(contentType === undefined ? {} : { contentType }) });
    const error = await failure(client.get(customersPath(sandbox), responseType === undefined ? {} : { responseType }));
    expect(problemDetails(error)).toBeUndefined();
    expect(error.message).toBe('Request failed with status code 400');
  });

  it('a 2xx, an error without a response, and errors that are not axios errors', async () => {
    const sandbox = sandboxOf();
    const client = createServiceTitanClient({ ...authOptions(sandbox), retry: false });
    const ok = await client.get(customersPath(sandbox));
    expect(problemDetails(new AxiosError('fake', 'X', undefined, undefined, ok))).toBeUndefined();

    sandbox.api.enqueue({ reset: true });
    const network = await failure(client.get(customersPath(sandbox)));
    expect(network.response).toBeUndefined();
    expect(problemDetails(network)).toBeUndefined();

    sandbox.token.enqueue({ status: 400, body: { error: 'invalid_client' } });
    const tokenError = await client.auth.getToken({ forceRefresh: true }).catch((caught: unknown) => caught);
    expect(tokenError).toBeInstanceOf(ServiceTitanAuthError);
    expect(problemDetails(tokenError)).toBeUndefined();

    for (const value of [
      new Error('x'),
      undefined,
      null,
      'text',
      { response: { status: 400, data: { title: 'x' } } },
    ]) {
      expect(problemDetails(value)).toBeUndefined();
    }
  });
});
