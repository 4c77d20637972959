import type { Flags } from './args';
import { resolveConnection } from './config';
import { CliError } from './exit-codes';
import type { CliIo } from './io';
import { writeError, writeJson, writeJsonError } from './output';
import { openSession } from './session';

/**
 * `token`: prints a fresh access token and nothing else, for
 * `curl -H "Authorization: Bearer $(npx axios-servicetitan-auth token)"`.
 * `--json` prints `{ access_token, expires_at }` (ISO 8601). Errors go to stderr.
 */
export async function runToken(flags: Flags, io: CliIo): Promise<number> {
  const json = flags['json'] === true;
  try {
    const session = openSession(resolveConnection(flags, io.env));
    const token = await session.fetchToken().finally(() => session.deadline.clear());
    if (json) {
      const expiresAt = Number.isFinite(token.expiresAt) ? new Date(token.expiresAt).toISOString() : null;
      writeJson(io, { access_token: token.accessToken, expires_at: expiresAt });
    } else {
      io.stdout.write(`${token.accessToken}\n`);
    }
    return 0;
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    if (json) writeJsonError(io, error);
    else writeError(io, error.message);
    return error.exitCode;
  }
}
