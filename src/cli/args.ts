import { parseArgs, type ParseArgsConfig } from 'node:util';
import { usageError } from './exit-codes';

export type CommandName = 'check' | 'sandbox' | 'token';
export const COMMANDS: readonly CommandName[] = ['check', 'sandbox', 'token'];

type OptionSpec = NonNullable<ParseArgsConfig['options']>;

const common = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
} satisfies OptionSpec;

/** Where to get a token: shared by `check` and `token`. */
const connection = {
  environment: { type: 'string', short: 'e' },
  'auth-url': { type: 'string' },
  'api-url': { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret': { type: 'string' },
  'app-key': { type: 'string' },
  tenant: { type: 'string' },
  timeout: { type: 'string' },
} satisfies OptionSpec;

const OPTIONS = {
  check: { ...common, ...connection, 'probe-path': { type: 'string' }, 'print-token': { type: 'boolean' } },
  token: { ...common, ...connection },
  sandbox: {
    ...common,
    port: { type: 'string' },
    'auth-port': { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'app-key': { type: 'string' },
    tenant: { type: 'string' },
  },
} satisfies Record<CommandName, OptionSpec>;

/** The parsed flags of a command: strings and booleans by long name, absent when not given. */
export type Flags = Record<string, string | boolean | undefined>;

/** What the command line asks for. */
export type Invocation =
  | { kind: 'help'; command?: CommandName }
  | { kind: 'version' }
  | { kind: 'command'; command: CommandName; flags: Flags };

/**
 * Splits `argv` (without `node` and the script) into a command and its flags with
 * `node:util` parseArgs in strict mode: unknown flags and stray arguments are usage errors.
 */
export function parseInvocation(argv: readonly string[]): Invocation {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    const topic = first === 'help' ? rest[0] : undefined;
    if (topic !== undefined && !isCommand(topic)) throw usageError(`unknown command "${topic}"`, 'unknown_command');
    return topic === undefined ? { kind: 'help' } : { kind: 'help', command: topic };
  }
  if (first === '--version' || first === '-V') return { kind: 'version' };
  if (!isCommand(first)) {
    throw usageError(
      first.startsWith('-') ? `expected a command before ${first}` : `unknown command "${first}"`,
      'unknown_command',
    );
  }
  let values: Flags;
  try {
    const options: OptionSpec = OPTIONS[first];
    values = parseArgs({ args: [...rest], options, strict: true, allowPositionals: false }).values as Flags;
  } catch (error) {
    throw usageError(`${first}: ${parseErrorMessage(error)}`);
  }
  if (values['help'] === true) return { kind: 'help', command: first };
  return { kind: 'command', command: first, flags: values };
}

function isCommand(value: string): value is CommandName {
  return (COMMANDS as readonly string[]).includes(value);
}

/** parseArgs messages are good but mention internals ("To specify a positional argument…"). */
function parseErrorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('. To specify')[0]!.replace(/\.$/, '');
}

/** A flag as a string, or undefined when absent or empty. */
export function stringFlag(flags: Flags, name: string): string | undefined {
  const value = flags[name];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** A flag that must be an integer in [min, max] when given. */
export function integerFlag(flags: Flags, name: string, min: number, max: number): number | undefined {
  const raw = stringFlag(flags, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw usageError(`--${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}
