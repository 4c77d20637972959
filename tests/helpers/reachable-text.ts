/** A string reachable from a root, and the way there (`.config.httpAgent.sockets…`). */
export interface ReachableString {
  path: string;
  text: string;
}

/**
 * Every string reachable from `root` through own properties (enumerable or not, symbol-keyed,
 * getters included), Map/Set entries and byte buffers, with its path: what any logger or
 * serializer that walks an error could print. Fails the test when more than `limit` objects are
 * reachable (a walk cut short proves nothing).
 */
export function reachableStrings(root: unknown, limit = 200_000): ReachableString[] {
  const seen = new Set<unknown>();
  const pending: Array<{ value: unknown; path: string }> = [{ value: root, path: '' }];
  const out: ReachableString[] = [];
  while (pending.length > 0 && seen.size < limit) {
    const { value, path } = pending.pop() as { value: unknown; path: string };
    if (typeof value === 'string') {
      out.push({ path, text: value });
      continue;
    }
    if (value === null || (typeof value !== 'object' && typeof value !== 'function') || seen.has(value)) continue;
    seen.add(value);
    if (value instanceof Uint8Array) {
      out.push({ path, text: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1') });
      continue;
    }
    if (value instanceof Map) {
      for (const [key, entry] of value)
        pending.push({ value: key, path: `${path}<key>` }, { value: entry, path: `${path}<entry>` });
    }
    if (value instanceof Set) for (const entry of value) pending.push({ value: entry, path: `${path}<entry>` });
    for (const key of Reflect.ownKeys(value)) {
      // Keys can be long (an agent's pool keys hold its CA certificate): a path stays readable.
      const name = String(key);
      const keyPath = `${path}.${name.length > 60 ? `${name.slice(0, 60)}…` : name}`;
      if (typeof key === 'string') out.push({ path: `${keyPath}<name>`, text: key });
      try {
        pending.push({ value: (value as Record<PropertyKey, unknown>)[key], path: keyPath });
      } catch {
        // A getter that throws prints nothing.
      }
    }
  }
  expect(seen.size).toBeLessThan(limit);
  return out;
}

/** The strings of {@link reachableStrings}, one per line. */
export function reachableText(root: unknown, limit = 200_000): string {
  return reachableStrings(root, limit)
    .map((found) => found.text)
    .join('\n');
}
