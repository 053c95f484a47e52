/** How the commands print numbers, sizes, durations, paths and JSON. */
import { basename, isAbsolute, relative } from 'node:path';

/** A path as the user can use it from the current folder. */
export function displayPath(abs: string, base = process.cwd()): string {
  const rel = relative(base, abs);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : abs;
}

export const fmtInt = (n: number): string => n.toLocaleString('en-US');

export const fmtMs = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`);

export function fmtBytes(b: number): string {
  if (b < 1024) return `${b} B`;
  if (b < 1024 * 1024) return `${(b / 1024).toFixed(1)} KiB`;
  if (b < 1024 ** 3) return `${(b / 1024 / 1024).toFixed(1)} MiB`;
  return `${(b / 1024 ** 3).toFixed(2)} GiB`;
}

export function writeJson(x: unknown): void {
  process.stdout.write(`${JSON.stringify(x, null, 2)}\n`);
}

/** A shell word: quoted when it holds anything but plain path characters. */
export function shellWord(s: string): string {
  return /^[\w./~:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * How to run this CLI again from that shell, so the printed commands run as printed: `nitamono`
 * when it was started by that name (npm link, a global install), else node and the script's
 * path — after `npm ci` alone there is no `nitamono` on PATH, and `npx nitamono` does not find a
 * package's own command without installing it.
 */
export function cliCommand(dir: string = process.cwd()): string {
  const script = process.argv[1] ?? '';
  if (basename(script) === 'nitamono') return 'nitamono';
  return `node ${shellWord(displayPath(script, dir))}`;
}
