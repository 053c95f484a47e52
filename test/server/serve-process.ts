/** `nitamono serve` as a child process, for tests that need the real command (several servers, signals). */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Starts `nitamono serve` on the collection at `collectionPath` and resolves once it prints its URL. */
export function serve(
  collectionPath: string,
  args: string[],
): Promise<{ child: ChildProcess; url: string; out: () => string; err: () => string; exit: Promise<number | null> }> {
  const child = spawn(process.execPath, [MAIN, 'serve', '--collection', collectionPath, '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NITAMONO_NO_PROGRESS: '1' },
  });
  let stdout = '';
  let stderr = '';
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stdout} ${stderr}`)), 20_000);
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.on('data', (d) => {
      stdout += d;
      const m = /at (http:\/\/\S+)\n/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        // give the remaining lines (token) a moment to arrive
        setTimeout(() => resolve({ child, url: m[1]!.replace(/\/$/, ''), out: () => stdout, err: () => stderr, exit }), 100);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${stdout} ${stderr}`));
    });
  });
}
