/**
 * The terminal face of the library's Progress: one cli-progress bar per step on stderr with count,
 * rate and ETA. Silent when stderr is not a TTY, with `--json`, or with NITAMONO_NO_PROGRESS set,
 * so piped output and tests stay clean.
 */
import cliProgress from 'cli-progress';
import { type Progress, type ProgressStep, silentProgress } from '../collection/index.js';

function formatRate(perSecond: number, unit: string): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return `- ${unit}/s`;
  if (perSecond >= 100) return `${Math.round(perSecond)} ${unit}/s`;
  return `${perSecond.toFixed(1)} ${unit}/s`;
}

/**
 * Progress on `stream` (default stderr). `enabled` defaults to "stream is a TTY and
 * NITAMONO_NO_PROGRESS is not set".
 */
export function createProgress(opts: { enabled?: boolean; stream?: NodeJS.WriteStream } = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const enabled = opts.enabled ?? (Boolean(stream.isTTY) && !process.env.NITAMONO_NO_PROGRESS);
  if (!enabled) return silentProgress;
  return {
    enabled: true,
    step(label: string, total: number, unit = 'items'): ProgressStep {
      const known = total > 0;
      const bar = new cliProgress.SingleBar(
        {
          stream,
          format: known
            ? `${label.padEnd(10)} [{bar}] {percentage}% | {value}/{total}${unit ? ' | {rate}' : ''} | ETA {eta_formatted}`
            : `${label.padEnd(10)} {value}${unit ? ' | {rate}' : ''}`,
          hideCursor: false,
          clearOnComplete: false,
          etaBuffer: 50,
          fps: 5,
          barsize: 30,
        },
        cliProgress.Presets.shades_classic,
      );
      const started = Date.now();
      let value = 0;
      const payload = () => ({ rate: formatRate(value / Math.max(1e-3, (Date.now() - started) / 1000), unit) });
      bar.start(Math.max(total, known ? 1 : 0), 0, payload());
      let stopped = false;
      return {
        increment(n = 1) {
          value += n;
          if (!stopped) bar.update(value, payload());
        },
        update(v: number) {
          value = v;
          if (!stopped) bar.update(value, payload());
        },
        setTotal(t: number) {
          if (!stopped) bar.setTotal(Math.max(1, t));
        },
        stop() {
          if (stopped) return;
          stopped = true;
          bar.update(value, payload());
          bar.stop();
        },
      };
    },
  };
}

/** Bars for a human at a terminal; none when the command prints JSON for a program. */
export function progressFor(json: boolean | undefined): Progress {
  return json ? silentProgress : createProgress();
}
