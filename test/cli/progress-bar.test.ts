/** The terminal progress bar (src/cli/progress-bar.ts), and that only the CLI draws bars. */

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createProgress, progressFor } from '../../src/cli/progress-bar.js';

/** A writable that says it is a terminal and keeps what is written. */
function fakeTerminal(): NodeJS.WriteStream & { text(): string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  }) as unknown as NodeJS.WriteStream & { text(): string };
  Object.assign(w, { isTTY: true, columns: 120, text: () => chunks.join('') });
  return w;
}

test('on a terminal: a bar with the label, the count and the rate', () => {
  const term = fakeTerminal();
  const p = createProgress({ stream: term, enabled: true });
  assert.equal(p.enabled, true);
  const s = p.step('features', 4, 'images');
  s.increment(3);
  s.update(4);
  s.stop();
  const out = term.text();
  assert.match(out, /features/);
  assert.match(out, /4\/4/);
  assert.match(out, /images\/s/);
});

test('silent off a terminal, with NITAMONO_NO_PROGRESS and for --json', (t) => {
  const pipe = Object.assign(fakeTerminal(), { isTTY: false });
  assert.equal(createProgress({ stream: pipe }).enabled, false);
  const term = fakeTerminal();
  const saved = process.env.NITAMONO_NO_PROGRESS;
  t.after(() => {
    if (saved === undefined) delete process.env.NITAMONO_NO_PROGRESS;
    else process.env.NITAMONO_NO_PROGRESS = saved;
  });
  process.env.NITAMONO_NO_PROGRESS = '1';
  assert.equal(createProgress({ stream: term }).enabled, false);
  delete process.env.NITAMONO_NO_PROGRESS;
  assert.equal(createProgress({ stream: term }).enabled, true);
  assert.equal(progressFor(true).enabled, false);
  assert.equal(term.text(), '', 'nothing drawn before a step starts');
});

test('no module of the library outside src/cli imports cli-progress', () => {
  const src = fileURLToPath(new URL('../../src/', import.meta.url));
  const offenders: string[] = [];
  (function walk(dir: string) {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) {
        if (p !== join(src, 'cli')) walk(p);
      } else if (name.endsWith('.js') && /from ['"]cli-progress['"]|import\(['"]cli-progress['"]\)/.test(readFileSync(p, 'utf8'))) {
        offenders.push(p);
      }
    }
  })(src);
  assert.deepEqual(offenders, []);
});
