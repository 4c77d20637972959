/**
 * Every string reachable from `root` through own properties (enumerable or not, symbol-keyed,
 * getters included), Map/Set entries and byte buffers: what any logger or serializer that walks
 * an error could print. Fails the test when more than `limit` objects are reachable (a walk cut
 * short proves nothing).
 */
export function reachableText(root: unknown, limit = 200_000): string {
  const seen = new Set<unknown>();
  const pending: unknown[] = [root];
  const out: string[] = [];
  while (pending.length > 0 && seen.size < limit) {
    const value = pending.pop();
    if (typeof value === 'string') {
      out.push(value);
      continue;
    }
    if (value === null || (typeof value !== 'object' && typeof value !== 'function') || seen.has(value)) continue;
    seen.add(value);
    if (value instanceof Uint8Array) {
      out.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1'));
      continue;
    }
    if (value instanceof Map) for (const entry of value) pending.push(...entry);
    if (value instanceof Set) for (const entry of value) pending.push(entry);
    for (const key of Reflect.ownKeys(value)) {
      if (typeof key === 'string') out.push(key);
      try {
        pending.push((value as Record<PropertyKey, unknown>)[key]);
      } catch {
        // A getter that throws prints nothing.
      }
    }
  }
  expect(seen.size).toBeLessThan(limit);
  return out.join('\n');
}
