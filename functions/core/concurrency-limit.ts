/**
 * At most `max` tasks at once within this process; the rest wait their turn in order.
 * The queue extension's batch settings are app-wide, so a trigger that must take a smaller
 * share of an instance than the others caps its own work with one of these.
 */
export function concurrencyLimit(max: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async function run<T>(task: () => Promise<T>): Promise<T> {
    if (running >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    else running += 1;
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next in line, or give it back.
      const next = waiting.shift();
      if (next) next();
      else running -= 1;
    }
  };
}
