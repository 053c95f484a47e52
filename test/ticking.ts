// An event-loop probe for tests of work that must not block the loop.

/** Runs fn while a 5 ms interval counts ticks; the longest gap between ticks (or to the ends). */
export async function whileTicking<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number; maxGap: number; ticks: number }> {
  let last = performance.now(),
    maxGap = 0,
    ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    ticks++;
  }, 5);
  const t0 = performance.now();
  try {
    const result = await fn();
    const end = performance.now();
    return { result, ms: end - t0, maxGap: Math.max(maxGap, end - last), ticks };
  } finally {
    clearInterval(timer);
  }
}
