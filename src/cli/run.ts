/**
 * Exit codes scripts can rely on: 0 success, 1 unexpected failure, 2 bad usage or input
 * (a NitamonoError the user can fix), 3 partial success (e.g. some files skipped) where a command
 * says so, 4 the machine refused (disk full, read-only collection, missing model files; what was
 * stored before is unchanged), 130 interrupted by Ctrl-C (143 by SIGTERM).
 */
import type { Command } from 'commander';
import { ENVIRONMENT_CODES, NitamonoError } from '../errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_SKIPPED = 3;
export const EXIT_ENVIRONMENT = 4;
export const EXIT_INTERRUPTED = 130;
export const EXIT_TERMINATED = 143;

export async function runCli(program: Command): Promise<void> {
  program.exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
  });
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof NitamonoError) {
      process.stderr.write(`nitamono: ${err.message}\n`);
      process.exit(ENVIRONMENT_CODES.includes(err.code) ? EXIT_ENVIRONMENT : EXIT_USAGE);
    }
    process.stderr.write(`nitamono: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(EXIT_FAILURE);
  }
}

/** `nitamono … | head` closes stdout early: stop quietly instead of crashing on EPIPE. */
function quietOnClosedStdout(): void {
  if (process.stdout.listenerCount('error') > 0) return;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

/** An action whose output may be piped into `head`: see quietOnClosedStdout. */
export function printing<A extends unknown[]>(action: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return (...args: A) => {
    quietOnClosedStdout();
    return action(...args);
  };
}
