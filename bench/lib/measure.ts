/** Small measuring and formatting helpers shared by the benchmarks. */

/** CPU (user + system) this process has used since `start`, in milliseconds. */
export function cpuMsSince(start: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(start);
  return (user + system) / 1000;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile: always a value that was really observed. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** A number with a sensible count of significant digits for a table cell. */
export function fmt(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (Math.abs(value) >= 10 ** digits) return Math.round(value).toLocaleString('en-US');
  return Number(value.toPrecision(digits)).toLocaleString('en-US', {
    maximumFractionDigits: 6,
  });
}

/** "12.3×" style ratio of a to b. */
export function times(a: number, b: number): string {
  return `${fmt(a / b)}×`;
}

export function percent(a: number, b: number): string {
  return `${fmt((100 * a) / b)} %`;
}

export const MIB = 1024 * 1024;
