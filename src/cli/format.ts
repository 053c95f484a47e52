/** How the commands print numbers, sizes, durations, paths and JSON. */
import { isAbsolute, relative } from 'node:path';

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
