import type { AxiosError } from 'axios';
import { createServiceTitanClient, type ServiceTitanClient } from '../src';
import { startSandbox, type Sandbox } from '../src/testing';
import { recordingLogger } from './helpers/logger';
import { authOptions, customersPath, startForeignServer, useFakeClock, useSandbox } from './helpers/sandbox';

/** The status of a GET to the customers list, whether it succeeds or fails. */
async function statusOf(client: ServiceTitanClient, sandbox: Sandbox): Promise<number | undefined> {
  try {
    return (await client.get(customersPath(sandbox))).status;
  } catch (error) {
    return (error as AxiosError).response?.status;
  }
}

describe('G3: a token the API has accepted is renewed on a later 401, however soon', () => {
  const sandbox = useSandbox();
  const clock = useFakeClock();

  test('revocations 300 ms apart, each after the new token served requests: every one is renewed and replayed', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    await client.get(customersPath(sandbox()));
    for (let revocation = 1; revocation <= 5; revocation += 1) {
      sandbox().revokeAllTokens();
      for (let i = 0; i < 3; i += 1) expect(await statusOf(client, sandbox())).toBe(200);
      clock.advance(300);
    }
    expect(sandbox().token.count).toBe(6);
    // Each revocation: one 401, one replay with the next token, then plain 200s.
    const statuses = sandbox().api.requests.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(sandbox().tokensSeen).toEqual(['tok-1', 'tok-2', 'tok-3', 'tok-4', 'tok-5', 'tok-6']);
  });

  test('a 403 or 404 counts as accepted (authentication passed): a later 401 is renewed at once', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    await client.get(customersPath(sandbox()));
    // tok-1 is refused (renewed for a 401: tok-2), and tok-2's first answer is a 404.
    sandbox().api.enqueue({ status: 401 }, { status: 404 });
    expect(await statusOf(client, sandbox())).toBe(404);
    sandbox().api.enqueue({ status: 403 });
    expect(await statusOf(client, sandbox())).toBe(403);
    sandbox().revokeAllTokens();
    expect(await statusOf(client, sandbox())).toBe(200);
    expect(sandbox().token.count).toBe(3);
  });

  test('a redirect from the API to another host counts as accepted (the API answered 3xx, not 401)', async () => {
    // Found by tests/property.test.ts (FC_SEED=1145305242): the renewed token's first answer was
    // the API's redirect to a foreign host; the answer the client saw came from that host, so it
    // was not counted, and the next 401 for that token went to the caller without a renewal.
    const foreign = await startForeignServer();
    try {
      const client = createServiceTitanClient({ ...authOptions(sandbox()), retry: false });
      await client.get(customersPath(sandbox()));
      sandbox().api.enqueue({ status: 401 }, { redirectTo: `${foreign.url}/elsewhere` });
      expect(await statusOf(client, sandbox())).toBe(200); // tok-1 refused; tok-2 redirected away
      expect(foreign.received.map((headers) => headers.authorization)).toEqual([undefined]);
      sandbox().revokeAllTokens();
      expect(await statusOf(client, sandbox())).toBe(200); // tok-2 renewed at once: tok-3
      expect(sandbox().token.count).toBe(3);
    } finally {
      await foreign.close();
    }
  });

  test('a 5xx is no acceptance: the renewed token stays held back', async () => {
    const client = createServiceTitanClient({ ...authOptions(sandbox()), retry: false });
    await client.get(customersPath(sandbox()));
    sandbox().api.enqueue({ status: 401 }, { status: 503 });
    expect(await statusOf(client, sandbox())).toBe(503);
    sandbox().api.enqueue({ status: 401 });
    expect(await statusOf(client, sandbox())).toBe(401);
    expect(sandbox().token.count).toBe(2);
  });
});

describe('G3: 401s that a new token does not cure cost a bounded, growing number of token requests', () => {
  const sandbox = useSandbox();
  const clock = useFakeClock();

  test('a wrong app key: renewals 1 s, 2 s, 4 s, 8 s, then every 10 s (renewalCooldownMs) apart; one warning', async () => {
    const { logger, lines } = recordingLogger();
    const client = createServiceTitanClient(authOptions(sandbox(), { appKey: 'ak1.wrong', logger }));
    for (let i = 0; i < 20; i += 1) expect(await statusOf(client, sandbox())).toBe(401);
    // tok-1, renewed once to tok-2 (the first request's replay), then held back.
    expect(sandbox().token.count).toBe(2);
    expect(sandbox().api.count).toBe(21);

    let expectedTokens = 2;
    for (const holdBackMs of [1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000]) {
      clock.advance(holdBackMs - 5);
      for (let i = 0; i < 3; i += 1) expect(await statusOf(client, sandbox())).toBe(401);
      expect(sandbox().token.count).toBe(expectedTokens);
      clock.advance(10);
      expect(await statusOf(client, sandbox())).toBe(401);
      expectedTokens += 1;
      expect(sandbox().token.count).toBe(expectedTokens);
    }
    const warnings = lines.filter((l) => l.level === 'warn' && l.message.startsWith('a token obtained for a 401'));
    expect(warnings).toHaveLength(1);
  });

  // The minute is the fake clock's; the test's real cost is its 250 round trips, one after the
  // other (each a 401 with its error, ~6-9 ms of CPU in Jest): 4.8 s on a quiet machine, 10-15.8 s
  // with both cores busy (load 10-15), past Jest's 15 s, and 18-56 s at load 11-14 with other
  // suites running. No wait in it races anything: the bound is that work's.
  const MINUTE_OF_REQUESTS_TIMEOUT_MS = 120_000;

  test(
    'a minute of requests every 250 ms with a wrong app key costs 10 token requests, not 240',
    async () => {
      const client = createServiceTitanClient(authOptions(sandbox(), { appKey: 'ak1.wrong' }));
      const statuses: Array<number | undefined> = [];
      for (let i = 0; i < 240; i += 1) {
        statuses.push(await statusOf(client, sandbox()));
        clock.advance(250);
      }
      expect(statuses).toEqual(Array(240).fill(401));
      // tok-1, then renewals at ~0, 1, 3, 7, 15, 25, 35, 45, 55 s.
      expect(sandbox().token.count).toBe(10);
    },
    MINUTE_OF_REQUESTS_TIMEOUT_MS,
  );

  test('an accepted response resets the hold-back to 1 s', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    sandbox().api.enqueue({ status: 401, times: 2 });
    expect(await statusOf(client, sandbox())).toBe(401); // tok-1 → tok-2, held back 1 s
    clock.advance(1_001);
    sandbox().api.enqueue({ status: 401, times: 2 });
    expect(await statusOf(client, sandbox())).toBe(401); // tok-2 → tok-3, held back 2 s
    expect(await statusOf(client, sandbox())).toBe(200); // tok-3 accepted: the streak is over
    sandbox().api.enqueue({ status: 401, times: 2 });
    expect(await statusOf(client, sandbox())).toBe(401); // tok-3 was accepted: renewed at once → tok-4
    expect(sandbox().token.count).toBe(4);
    clock.advance(1_001); // 1 s again, not the 4 s the streak would have reached
    sandbox().api.enqueue({ status: 401, times: 2 });
    expect(await statusOf(client, sandbox())).toBe(401);
    expect(sandbox().token.count).toBe(5);
  });

  test('renewalCooldownMs: 0 renews for every 401', async () => {
    const client = createServiceTitanClient(authOptions(sandbox(), { appKey: 'ak1.wrong', renewalCooldownMs: 0 }));
    for (let i = 0; i < 3; i += 1) await client.get(customersPath(sandbox())).catch(() => undefined);
    expect(sandbox().token.count).toBe(4);
  });

  test('near its expiry, a held-back token is renewed for a 401 (it may just have expired)', async () => {
    const short = await startSandbox({ tokenLifetimeMs: 6_000 });
    try {
      // Hold-backs of 1, 2, 4 s; renewAt is half the 6 s lifetime, so tok-4's ends before its hold-back.
      const client = createServiceTitanClient(authOptions(short, { renewalCooldownMs: 60_000 }));
      for (const wait of [0, 1_001, 2_001]) {
        clock.advance(wait);
        short.api.enqueue({ status: 401, times: 2 });
        expect(await statusOf(client, short)).toBe(401);
      }
      expect(short.token.count).toBe(4);
      short.api.enqueue({ status: 401 });
      expect(await statusOf(client, short)).toBe(401); // tok-4 held back (4 s)
      expect(short.token.count).toBe(4);
      clock.advance(3_100); // inside tok-4's renewal window, inside its hold-back
      const hold = short.token.hold(); // keeps the background renewal from replacing tok-4 first
      short.api.enqueue({ status: 401 });
      const request = statusOf(client, short);
      await hold.untilWaiting(1);
      hold.release();
      expect(await request).toBe(200);
      expect(short.token.count).toBe(5);
    } finally {
      await short.close();
    }
  });
});
