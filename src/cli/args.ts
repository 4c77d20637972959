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
 * Splits `argv` (without `node` and the script) into a command and its flags. Anything
 * unexpected is a usage error that names the argument by position or by option name and never
 * shows its value: a mistyped command line (a missing flag name, a stray space) puts a secret
 * where a flag or a command was expected, and an error message must not print it.
 */
export function parseInvocation(argv: readonly string[]): Invocation {
  const [first, ...rest] = argv;
  if (first === undefined) throw usageError('no command given', 'no_command');
  if (first === '--help' || first === '-h' || first === 'help') {
    const topic = first === 'help' ? rest[0] : undefined;
    if (topic !== undefined && !isCommand(topic)) {
      throw usageError(`argument 2 is not a command: help takes one of ${COMMANDS.join(', ')}`, 'unknown_command');
    }
    return topic === undefined ? { kind: 'help' } : { kind: 'help', command: topic };
  }
  if (first === '--version' || first === '-V') return { kind: 'version' };
  if (!isCommand(first)) {
    throw usageError(
      first.startsWith('-')
        ? `expected a command before the first option: one of ${COMMANDS.join(', ')}`
        : `argument 1 is not a command: expected one of ${COMMANDS.join(', ')}`,
      'unknown_command',
    );
  }
  const flags = parseFlags(first, rest);
  if (flags['help'] === true) return { kind: 'help', command: first };
  return { kind: 'command', command: first, flags };
}

/**
 * parseArgs in its lenient mode, for its tokens, then checked here: its strict-mode messages
 * quote the offending argument (`Unexpected argument 'sk-…'`).
 */
function parseFlags(command: CommandName, args: readonly string[]): Flags {
  const options: OptionSpec = OPTIONS[command];
  const { values, tokens } = parseArgs({
    args: [...args],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  for (const token of tokens) {
    // Position on the whole command line, 1-based: the command is argument 1.
    const position = token.index + 2;
    if (token.kind === 'positional' || token.kind === 'option-terminator') {
      throw usageError(
        `${command}: unexpected argument ${position} (${command} takes no positional arguments; its value is not shown)`,
      );
    }
    const spec = options[token.name];
    if (spec === undefined) throw usageError(`${command}: ${unknownOption(command, token.rawName, position)}`);
    const flag = `--${token.name}`;
    if (spec.type === 'boolean' && token.value !== undefined) {
      throw usageError(`${command}: ${flag} takes no value (argument ${position})`);
    }
    if (spec.type === 'string' && (token.value === undefined || (!token.inlineValue && token.value.startsWith('-')))) {
      throw usageError(
        `${command}: ${flag} needs a value (argument ${position}); write ${flag}=<value> for one that starts with "-"`,
      );
    }
  }
  return values as Flags;
}

/**
 * The message for an option `command` does not take. Its text is shown only when it is the name
 * of an option of this CLI (`--probe-path` given to `token`): anything else may be a secret
 * typed after `--` (`--cs1.…` for `--client-secret cs1.…`), so not even its first characters
 * are shown; a close misspelling of one of `command`'s options gets that option suggested.
 */
function unknownOption(command: CommandName, rawName: string, position: number): string {
  if (KNOWN_OPTION_NAMES.has(rawName)) return `unknown option ${rawName} (argument ${position})`;
  const typed = rawName.replace(/^--?/, '');
  const near = Object.keys(OPTIONS[command]).find((name) => name.length > 2 && editDistanceAtMost(typed, name, 2));
  return `argument ${position} is an unknown option (its text is not shown)${near === undefined ? '' : `; did you mean --${near}?`}`;
}

const KNOWN_OPTION_NAMES = new Set(
  Object.values(OPTIONS).flatMap((options: OptionSpec) =>
    Object.entries(options).flatMap(([name, spec]) => [`--${name}`, ...(spec.short ? [`-${spec.short}`] : [])]),
  ),
);

/** True when at most `limit` single-character edits turn `a` into `b` (Levenshtein). */
function editDistanceAtMost(a: string, b: string, limit: number): boolean {
  if (Math.abs(a.length - b.length) > limit) return false;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length]! <= limit;
}

function isCommand(value: string): value is CommandName {
  return (COMMANDS as readonly string[]).includes(value);
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
    throw usageError(`--${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}
