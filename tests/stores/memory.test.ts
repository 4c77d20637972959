import { MemoryTokenStore } from '../../src';
import { tokenStoreContract } from './contract';

// One Map, several "views": a MemoryTokenStore is shared by passing the same instance.
let shared = new MemoryTokenStore();
beforeEach(() => {
  shared = new MemoryTokenStore();
});

tokenStoreContract('MemoryTokenStore', () => shared);

describe('MemoryTokenStore: expired entries do not pile up', () => {
  const start = Date.parse('2025-01-01T00:00:00Z');
  beforeEach(() => {
    jest.useFakeTimers({ now: start, doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  const token = (accessToken: string, lifetimeMs: number) => ({
    accessToken,
    obtainedAt: Date.now(),
    expiresAt: Date.now() + lifetimeMs,
  });

  test('an expired entry is dropped when it is read', async () => {
    const store = new MemoryTokenStore();
    await store.set('tenant-a', token('tok-a', 900_000));
    jest.setSystemTime(start + 900_000);
    expect(store.size).toBe(1);
    await expect(store.get('tenant-a')).resolves.toBeUndefined();
    expect(store.size).toBe(0);
  });

  test('tenants that are never read again are swept by later writes, and live entries are kept', async () => {
    const store = new MemoryTokenStore();
    for (let i = 0; i < 200; i += 1) await store.set(`forgotten-${i}`, token(`tok-${i}`, 900_000));
    jest.setSystemTime(start + 900_001);
    // Another tenant keeps working: its renewals (writes) sweep the forgotten ones.
    for (let i = 0; i < 200; i += 1) await store.set('busy', token(`busy-${i}`, 900_000));
    expect(store.size).toBe(1);
    await expect(store.get('busy')).resolves.toMatchObject({ accessToken: 'busy-199' });
  });

  test('a write does bounded work: one write over thousands of expired entries removes only a few', async () => {
    const store = new MemoryTokenStore();
    for (let i = 0; i < 5000; i += 1) await store.set(`t-${i}`, token(`tok-${i}`, 1000));
    jest.setSystemTime(start + 1001);
    await store.set('new', token('tok-new', 1000));
    expect(store.size).toBeGreaterThan(5000 - 16);
    expect(store.size).toBeLessThan(5001);
  });
});
