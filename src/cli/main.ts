import { version } from '../../package.json';
import { parseInvocation, type CommandName, type Flags } from './args';
import { runCheck } from './check';
import { CliError, ExitCode } from './exit-codes';
import { helpText } from './help';
import type { CliIo } from './io';
import { writeError, writeJsonError } from './output';
import { runSandbox } from './sandbox';
import { runToken } from './token';

export type { CliIo } from './io';
export { ExitCode } from './exit-codes';

const COMMANDS: Record<CommandName, (flags: Flags, io: CliIo) => Promise<number>> = {
  check: runCheck,
  token: runToken,
  sandbox: runSandbox,
};

/**
 * The CLI: runs `argv` (the arguments after the program name) and resolves to the exit code.
 * Never calls `process.exit` and writes only to `io`, so tests run it in-process.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const json = argv.includes('--json');
  try {
    const invocation = parseInvocation(argv);
    if (invocation.kind === 'help') {
      io.stdout.write(helpText(invocation.command));
      return ExitCode.ok;
    }
    if (invocation.kind === 'version') {
      io.stdout.write(`${version}\n`);
      return ExitCode.ok;
    }
    return await COMMANDS[invocation.command](invocation.flags, io);
  } catch (error) {
    const failure =
      error instanceof CliError
        ? error
        : new CliError(
            ExitCode.internal,
            'internal',
            `unexpected: ${error instanceof Error ? error.message : String(error)}`,
          );
    if (failure.code === 'no_command') {
      // Like `git` or `npm` without a command: the usage, on stderr, and a usage exit code for scripts.
      io.stderr.write(helpText());
    } else if (json) {
      writeJsonError(io, failure);
    } else {
      const hint = failure.exitCode === ExitCode.usage ? '\n(see axios-servicetitan-auth --help)' : '';
      writeError(io, `${failure.message}${hint}`);
    }
    return failure.exitCode;
  }
}
