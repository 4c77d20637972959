import axios, { isCancel } from 'axios';
import pLimit from 'p-limit';
import { MemoryTokenStore, ServiceTitanAuthError, attachServiceTitanAuth, createServiceTitanClient } from '../src';
import { recordingLogger } from './helpers/logger';
import { authOptions, customersPath, flushIo, useFakeClock, useSandbox } from './helpers/sandbox';

describe('token cache and single flight', () => {
  const sandbox = useSandbox();

  test('G1: 50 concurrent requests with no cached token cause exactly one token request, and all get it', async () => {
    const client = createServiceTitanClient({ ...authOptions(sandbox()), tenantId: sandbox().tenantId });
    const hold = sandbox().token.hold();
    const requests = Array.from({ length: 50 }, () => client.get('/crm/v2/tenant/{tenant}/customers'));
    await hold.untilWaiting(1);
    await flushIo();
    expect(sandbox().api.count).toBe(0);
    hold.release();

    const responses = await Promise.all(requests);
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(sandbox().token.count).toBe(1);
    expect(sandbox().api.count).toBe(50);
    expect(new Set(sandbox().api.requests.map((r) => r.tokenId))).toEqual(new Set(['tok-1']));
  });

  test('getToken shares the in-flight fetch with requests, and forceRefresh fetches a new token', async () => {
    const instance = axios.create({ baseURL: sandbox().apiUrl });
    const auth = attachServiceTitanAuth(instance, authOptions(sandbox()));
    const [a, b, response] = await Promise.all([
      auth.getToken(),
      auth.getToken(),
      instance.get(customersPath(sandbox())),
    ]);
    expect(a).toBe(b);
    expect(response.status).toBe(200);
    expect(sandbox().token.count).toBe(1);

    const renewed = await auth.getToken({ forceRefresh: true });
    expect(renewed).not.toBe(a);
    expect(sandbox().token.count).toBe(2);
    await instance.get(customersPath(sandbox()));
    expect(sandbox().api.requests.at(-1)?.tokenId).toBe('tok-2');
  });

  test('invalidate() forgets the token: the next request fetches a new one', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    await client.get(customersPath(sandbox()));
    await client.auth.invalidate();
    await client.get(customersPath(sandbox()));
    expect(sandbox().token.count).toBe(2);
    expect(sandbox().tokensSeen).toEqual(['tok-1', 'tok-2']);
  });
});

describe('expiry and renewal ahead of it', () => {
  const sandbox = useSandbox();
  const clock = useFakeClock();
  const lifetimeMs = 900_000;

  test('G2: a cached token is reused until refreshBufferMs before expiry, then renewed', async () => {
    const { logger, next } = recordingLogger();
    const client = createServiceTitanClient(authOptions(sandbox(), { refreshBufferMs: 60_000, logger }));
    await client.get(customersPath(sandbox()));
    clock.advance(lifetimeMs - 61_000);
    await client.get(customersPath(sandbox()));
    expect(sandbox().token.count).toBe(1);

    clock.advance(2_000); // 59 s left: inside the buffer
    const renewed = next('token obtained');
    await client.get(customersPath(sandbox()));
    await renewed;
    expect(sandbox().token.count).toBe(2);
    await client.get(customersPath(sandbox()));
    expect(sandbox().api.requests.map((r) => r.tokenId)).toEqual(['tok-1', 'tok-1', 'tok-1', 'tok-2']);
  });

  test('G2: renewal ahead of expiry does not make requests wait', async () => {
    const { logger, next } = recordingLogger();
    const client = createServiceTitanClient(authOptions(sandbox(), { logger }));
    await client.get(customersPath(sandbox()));
    clock.advance(lifetimeMs - 30_000);

    const hold = sandbox().token.hold();
    const renewed = next('token obtained');
    const during = await Promise.all([client.get(customersPath(sandbox())), client.get(customersPath(sandbox()))]);
    await hold.untilWaiting(1);
    // Both requests completed with the old token while the renewal is still held at the server.
    expect(during.map((r) => r.status)).toEqual([200, 200]);
    expect(sandbox().api.requests.map((r) => r.tokenId)).toEqual(['tok-1', 'tok-1', 'tok-1']);
    expect(sandbox().token.count).toBe(2);
    hold.release();
    await renewed;
    await client.get(customersPath(sandbox()));
    expect(sandbox().api.requests.at(-1)?.tokenId).toBe('tok-2');
    expect(sandbox().token.count).toBe(2);
  });

  test('G2: expiry is measured from when the token request was sent, not when the answer came', async () => {
    const { logger, next } = recordingLogger();
    const client = createServiceTitanClient(authOptions(sandbox(), { logger }));
    const hold = sandbox().token.hold();
    const first = client.get(customersPath(sandbox()));
    await hold.untilWaiting(1);
    clock.advance(100_000); // the token endpoint takes "100 s" to answer
    hold.release();
    await first;

    // Measured from the answer, 900 s would end 100 s later and this would still be outside the buffer.
    clock.advance(lifetimeMs - 100_000 - 59_000);
    const renewed = next('token obtained');
    await client.get(customersPath(sandbox()));
    await renewed;
    expect(sandbox().token.count).toBe(2);
    expect(sandbox().api.requests.map((r) => r.tokenId)).toEqual(['tok-1', 'tok-1']);
  });

  test('clock jumps: backwards keeps the token, forwards past expiry costs exactly one fetch', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    await client.get(customersPath(sandbox()));
    clock.advance(-3_600_000);
    await Promise.all(Array.from({ length: 10 }, () => client.get(customersPath(sandbox()))));
    expect(sandbox().token.count).toBe(1);

    clock.advance(2 * 3_600_000);
    await Promise.all(Array.from({ length: 10 }, () => client.get(customersPath(sandbox()))));
    expect(sandbox().token.count).toBe(2);
    expect(sandbox().api.requests.filter((r) => r.tokenId === 'tok-2')).toHaveLength(10);
    expect(sandbox().api.requests.every((r) => r.status === 200)).toBe(true);
  });

  test('an expired token blocks requests until a new one arrives', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    await client.get(customersPath(sandbox()));
    clock.advance(lifetimeMs + 1_000);
    const hold = sandbox().token.hold();
    const waiting = client.get(customersPath(sandbox()));
    await hold.untilWaiting(1);
    await flushIo();
    expect(sandbox().api.count).toBe(1);
    hold.release();
    await waiting;
    expect(sandbox().api.requests.map((r) => r.tokenId)).toEqual(['tok-1', 'tok-2']);
  });
});

describe('failed token fetches', () => {
  const sandbox = useSandbox();
  const clock = useFakeClock();

  test('G5: every waiter rejects with the same typed error, nothing is cached, a later request tries again', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    sandbox().token.enqueue({ status: 400, body: { error: 'invalid_client' } });
    const hold = sandbox().token.hold();
    const requests = Array.from({ length: 10 }, () => client.get(customersPath(sandbox())).catch((e: unknown) => e));
    await hold.untilWaiting(1);
    hold.release();
    const errors = await Promise.all(requests);

    expect(errors[0]).toBeInstanceOf(ServiceTitanAuthError);
    expect((errors[0] as ServiceTitanAuthError).code).toBe('invalid_client');
    for (const error of errors) expect(error).toBe(errors[0]);
    expect(sandbox().token.count).toBe(1);
    expect(sandbox().api.count).toBe(0);

    clock.advance(1_001); // past the default failure cooldown
    const later = await client.get(customersPath(sandbox()));
    expect(later.status).toBe(200);
    expect(sandbox().token.count).toBe(2);
  });

  test('G9: an aborted request stops waiting at once; the shared fetch goes on for the others', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    const hold = sandbox().token.hold();
    const controller = new AbortController();
    const aborted = client.get(customersPath(sandbox()), { signal: controller.signal }).catch((e: unknown) => e);
    const patient = client.get(customersPath(sandbox()));
    await hold.untilWaiting(1);

    controller.abort();
    const error = await aborted;
    expect(isCancel(error)).toBe(true);
    expect(sandbox().token.inFlight).toBe(1); // the shared fetch is still held at the server

    hold.release();
    expect((await patient).status).toBe(200);
    expect(sandbox().token.count).toBe(1);
    expect(sandbox().api.count).toBe(1);
  });

  test('G9: getToken with an aborted signal rejects with the abort reason', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    const hold = sandbox().token.hold();
    const controller = new AbortController();
    const pending = client.auth.getToken({ signal: controller.signal });
    await hold.untilWaiting(1);
    controller.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
    hold.release();
    await expect(client.auth.getToken()).resolves.toEqual(expect.any(String));
    expect(sandbox().token.count).toBe(1);
  });
});

// A wait for another holder's token gives the token limiter back (whatever limiter the user
// passes): the limiter bounds requests at the endpoint.
describe('fleet waits and the token limiter', () => {
  const sandbox = useSandbox();

  test('handles that wait for the holder of the fleet lock do not stay in the limiter while its token request is out', async () => {
    const store = new MemoryTokenStore();
    let running = 0;
    const plain = async <T>(task: () => Promise<T>) => {
      running += 1;
      try {
        return await task();
      } finally {
        running -= 1;
      }
    };
    const hold = sandbox().token.hold();
    // Three handles of one client sharing the store and the limiter: one fetch for all; the two
    // that find the lock held wait for its token outside the limiter.
    const clients = [1, 2, 3].map(() =>
      createServiceTitanClient({
        ...authOptions(sandbox()),
        tenantId: sandbox().tenantId,
        store,
        tokenRequest: { limiter: plain as unknown as ReturnType<typeof pLimit> },
      }),
    );
    const tokens = Promise.all(clients.map((client) => client.auth.getToken()));
    await hold.untilWaiting(1);
    await flushIo();
    expect(running).toBe(1); // the token request alone (3 on the old code: the waits held it too)
    hold.release();
    const [a, b, c] = await tokens;
    expect(new Set([a, b, c]).size).toBe(1);
    expect(sandbox().token.count).toBe(1);
    expect(running).toBe(0);
  });
});
