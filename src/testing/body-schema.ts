/**
 * The subset of JSON Schema that ServiceTitan's request bodies use, and a validator that answers
 * in the shape of an `ApiErrorResponse`'s `errors`: messages by field path (`name`,
 * `address.street`, `locations[0].contacts[1].type`; `$` for the body itself). Objects take no
 * property they do not declare: every published request schema says `additionalProperties: false`.
 */
export type BodySchema =
  | { type: 'string'; minLength?: number; enum?: readonly string[]; format?: 'guid'; nullable?: boolean }
  | { type: 'boolean' | 'integer' | 'number'; nullable?: boolean }
  | { type: 'array'; items: BodySchema; nullable?: boolean }
  | {
      type: 'object';
      properties: Readonly<Record<string, BodySchema>>;
      required?: readonly string[];
      nullable?: boolean;
    }
  /** Any JSON value, `null` included (a report parameter's `value`). */
  | { type: 'any' };

export type FieldErrors = Record<string, string[]>;

const GUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

function join(path: string, key: string): string {
  return path === '$' ? key : `${path}.${key}`;
}

function add(errors: FieldErrors, path: string, message: string): void {
  (errors[path] ??= []).push(message);
}

function typeError(schema: BodySchema, value: unknown): string | undefined {
  switch (schema.type) {
    case 'any':
      return undefined;
    case 'string':
      if (typeof value !== 'string') return 'must be a string';
      if (schema.minLength !== undefined && value.length < schema.minLength) return 'must not be empty';
      if (schema.enum && !schema.enum.includes(value)) return `must be one of ${schema.enum.join(', ')}`;
      if (schema.format === 'guid' && !GUID.test(value)) return 'must be a GUID';
      return undefined;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be true or false';
    case 'integer':
      return Number.isSafeInteger(value) ? undefined : 'must be an integer';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : 'must be a number';
    case 'array':
      return Array.isArray(value) ? undefined : 'must be an array';
    case 'object':
      return value !== null && typeof value === 'object' && !Array.isArray(value) ? undefined : 'must be an object';
  }
}

function check(schema: BodySchema, value: unknown, path: string, errors: FieldErrors): void {
  if (value === null) {
    if (schema.type !== 'any' && schema.nullable !== true) add(errors, path, `The ${path} field must not be null.`);
    return;
  }
  const error = typeError(schema, value);
  if (error !== undefined) {
    add(errors, path, `The ${path} field ${error}.`);
    return;
  }
  if (schema.type === 'array') {
    (value as unknown[]).forEach((item, index) => check(schema.items, item, `${path}[${index}]`, errors));
  } else if (schema.type === 'object') {
    const object = value as Record<string, unknown>;
    for (const name of schema.required ?? []) {
      if (object[name] === undefined) add(errors, join(path, name), `The ${name} field is required.`);
    }
    for (const [name, item] of Object.entries(object)) {
      const property = Object.hasOwn(schema.properties, name) ? schema.properties[name] : undefined;
      if (property === undefined) add(errors, join(path, name), `Could not find member '${name}' on the request.`);
      else check(property, item, join(path, name), errors);
    }
  }
}

/** The errors of `value` against `schema`, by field path; empty when it conforms. */
export function validateBody(schema: BodySchema, value: unknown): FieldErrors {
  const errors: FieldErrors = {};
  if (value === undefined) add(errors, '$', 'A non-empty JSON request body is required.');
  else check(schema, value, '$', errors);
  return errors;
}
