/**
 * Places that refuse writes, for the tests of a full disk and a read-only collection: a small
 * tmpfs and a read-only bind mount, which need root (CI runs as root). Without root a read-only
 * place is made with chmod instead, and a full disk cannot be made.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const isRoot = process.getuid?.() === 0;

function run(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Mounts a tmpfs of `kib` KiB at `dir` (made if missing). Root only. */
export function mountTmpfs(dir: string, kib: number): { unmount(): void } {
  mkdirSync(dir, { recursive: true });
  run('mount', ['-t', 'tmpfs', '-o', `size=${kib}k`, 'tmpfs', dir]);
  return { unmount: () => run('umount', [dir]) };
}

/**
 * `dir` seen read-only at `at`: a read-only bind mount as root, else the same folder with the
 * write bits taken off (given back by `release`).
 */
export function readOnlyView(dir: string, at: string): { path: string; release(): void } {
  if (isRoot) {
    mkdirSync(at, { recursive: true });
    run('mount', ['--bind', dir, at]);
    run('mount', ['-o', 'remount,bind,ro', at]);
    return { path: at, release: () => run('umount', [at]) };
  }
  const modes = new Map<string, number>();
  for (const p of [dir, ...readdirSync(dir).map((n) => join(dir, n))]) {
    const mode = statSync(p).mode & 0o7777;
    modes.set(p, mode);
    chmodSync(p, mode & ~0o222);
  }
  return {
    path: dir,
    release: () => {
      for (const [p, mode] of modes) chmodSync(p, mode);
    },
  };
}

/** Free KiB on the filesystem holding `dir`. */
export function freeKib(dir: string): number {
  const out = execFileSync('df', ['--output=avail', '-k', dir], { encoding: 'utf8' });
  return Number(out.trim().split('\n').pop());
}
