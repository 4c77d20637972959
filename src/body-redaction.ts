/**
 * Shorter values are not searched for in bodies: replacing every `key` or `abc` in a body would
 * mangle it, and real tokens, app keys and client secrets are far longer.
 */
const MIN_SECRET_CHARS = 8;
/** Deeper bodies are cut off here (a JSON body from a server is never this deep). */
const MAX_DEPTH = 64;

/**
 * Replaces every occurrence of a secret in an error body by `replacement`: strings (in JSON
 * values and keys, however deep), and the bytes of a `Buffer`, typed array or `ArrayBuffer`.
 * A server that echoes the request's `Authorization` or `ST-App-Key` in its error would
 * otherwise put the token or app key in `error.response.data`, in `problemDetails()` and in the
 * error's message (DESIGN guarantees 7 and 18). Returns the body to keep: the same object,
 * changed in place, or a new string or buffer.
 */
export function redactSecretsInBody(data: unknown, secrets: readonly string[], replacement: string): unknown {
  const searched = [...new Set(secrets)].filter((secret) => secret.length >= MIN_SECRET_CHARS);
  if (searched.length === 0 || data === null || data === undefined) return data;
  // Longest first: a token that contains the app key is replaced whole.
  searched.sort((a, b) => b.length - a.length);
  return redactValue(data, searched, replacement, 0, new Set());
}

function redactValue(
  value: unknown,
  secrets: string[],
  replacement: string,
  depth: number,
  seen: Set<object>,
): unknown {
  if (typeof value === 'string') return redactText(value, secrets, replacement);
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof ArrayBuffer) {
    const redacted = redactBytes(new Uint8Array(value), secrets, replacement);
    return redacted === undefined
      ? value
      : redacted.buffer.slice(redacted.byteOffset, redacted.byteOffset + redacted.byteLength);
  }
  if (ArrayBuffer.isView(value)) {
    const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    return redactBytes(bytes, secrets, replacement) ?? value;
  }
  if (typeof (value as { pipe?: unknown }).pipe === 'function' || seen.has(value) || depth >= MAX_DEPTH) return value;
  if (
    !Array.isArray(value) &&
    Object.getPrototypeOf(value) !== Object.prototype &&
    Object.getPrototypeOf(value) !== null
  ) {
    return value; // not a JSON value (a Date, a Map…): nothing a server sent
  }
  seen.add(value);
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const redacted = redactValue(record[key], secrets, replacement, depth + 1, seen);
    const cleanKey = redactText(key, secrets, replacement);
    if (cleanKey !== key) {
      delete record[key];
      record[cleanKey] = redacted;
    } else if (redacted !== record[key]) {
      record[key] = redacted;
    }
  }
  return value;
}

function redactText(text: string, secrets: string[], replacement: string): string {
  let result = text;
  for (const secret of secrets) if (result.includes(secret)) result = result.split(secret).join(replacement);
  return result;
}

/** A copy of `bytes` with the secrets replaced, or `undefined` when none occurs (UTF-8). */
function redactBytes(bytes: Uint8Array, secrets: string[], replacement: string): Buffer | undefined {
  let current = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let changed = false;
  for (const secret of secrets) {
    const needle = Buffer.from(secret, 'utf8');
    if (current.indexOf(needle) === -1) continue;
    const parts: Buffer[] = [];
    let start = 0;
    for (let at = current.indexOf(needle); at !== -1; at = current.indexOf(needle, start)) {
      parts.push(current.subarray(start, at), Buffer.from(replacement, 'utf8'));
      start = at + needle.length;
    }
    parts.push(current.subarray(start));
    current = Buffer.concat(parts);
    changed = true;
  }
  return changed ? current : undefined;
}
