/**
 * Progress of long steps (scanning, hashing, features, training, adding) as plain callbacks, so
 * the library never writes to a terminal itself: the CLI draws bars (src/cli/progress-bar.ts), a
 * server or a script can subscribe with `progressFromCallback`, and the default prints nothing.
 */

export interface ProgressStep {
  /** Adds `n` (default 1) to the done count. */
  increment(n?: number): void;
  /** Sets the done count. */
  update(value: number): void;
  /** Changes the total, e.g. when it becomes known. */
  setTotal(total: number): void;
  /** Ends the step; later calls are ignored. */
  stop(): void;
}

export interface Progress {
  readonly enabled: boolean;
  /** Starts a step; `total` 0 means unknown (only a count); `unit` '' means the count has no rate worth showing. */
  step(label: string, total: number, unit?: string): ProgressStep;
}

const noopStep: ProgressStep = { increment() {}, update() {}, setTotal() {}, stop() {} };

/** A progress reporter that reports nothing. */
export const silentProgress: Progress = { enabled: false, step: () => noopStep };

/** One change of one step, as `progressFromCallback` delivers it. */
export interface ProgressEvent {
  /** The step's label, e.g. 'features' or 'hashing'. */
  step: string;
  phase: 'start' | 'update' | 'end';
  done: number;
  /** 0 while unknown. */
  total: number;
  unit: string;
}

/**
 * A Progress that calls `fn` when a step starts, at every change and when it ends (exactly one
 * 'start' and at most one 'end' per step). Calls are synchronous and as frequent as the work
 * (e.g. once per image), so `fn` should be cheap; throttle in `fn` if it does I/O.
 */
export function progressFromCallback(fn: (event: ProgressEvent) => void): Progress {
  return {
    enabled: true,
    step(label: string, total: number, unit = 'items'): ProgressStep {
      let done = 0;
      let ended = false;
      const emit = (phase: ProgressEvent['phase']) => fn({ step: label, phase, done, total, unit });
      emit('start');
      return {
        increment(n = 1) {
          if (ended) return;
          done += n;
          emit('update');
        },
        update(value: number) {
          if (ended) return;
          done = value;
          emit('update');
        },
        setTotal(t: number) {
          if (ended) return;
          total = t;
          emit('update');
        },
        stop() {
          if (ended) return;
          ended = true;
          emit('end');
        },
      };
    },
  };
}
