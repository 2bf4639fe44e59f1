/**
 * What every benchmark hands back, and the one table `npm run bench` prints: ours and
 * the baseline side by side from the same run, then each target as met or not met.
 */

export interface Row {
  benchmark: string;
  case: string;
  ours: string;
  baseline: string;
  /** Ours relative to the baseline, spelled so the reader knows which way is better. */
  ratio: string;
}

export interface TargetCheck {
  target: string;
  measured: string;
  /** undefined when the benchmark could not run here (say why in `measured`). */
  met: boolean | undefined;
}

export interface SectionResult {
  rows: Row[];
  targets: TargetCheck[];
  /** Facts a reader needs to interpret the rows: skipped parts, sources, caveats. */
  notes: string[];
  /** Raw numbers, written to bench/results/latest.json for later comparison. */
  data: Record<string, unknown>;
  /** Checks of its own results that failed: printed, and the run exits non-zero. */
  failures?: string[];
}

const HEADERS = ['benchmark', 'case', 'ours', 'baseline', 'ratio'] as const;

function cells(row: Row): string[] {
  return [row.benchmark, row.case, row.ours, row.baseline, row.ratio];
}

export function textTable(rows: readonly Row[]): string {
  const all = [[...HEADERS], ...rows.map(cells)];
  const widths = HEADERS.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join(' │ ');
  const rule = widths.map((w) => '─'.repeat(w)).join('─┼─');
  return [line(all[0]), rule, ...all.slice(1).map(line)].join('\n');
}

export function markdownTable(rows: readonly Row[]): string {
  const escape = (c: string) => c.replace(/\|/g, '\\|');
  return [
    `| ${HEADERS.join(' | ')} |`,
    `|${HEADERS.map(() => ' --- ').join('|')}|`,
    ...rows.map((r) => `| ${cells(r).map(escape).join(' | ')} |`),
  ].join('\n');
}

function verdict(met: boolean | undefined): string {
  if (met === undefined) return 'NOT RUN';
  return met ? 'MET' : 'NOT MET';
}

export function targetLines(targets: readonly TargetCheck[]): string[] {
  return targets.map((t) => `${verdict(t.met).padEnd(8)} ${t.target} — ${t.measured}`);
}

export function markdownTargets(targets: readonly TargetCheck[]): string {
  return [
    '| target | measured | verdict |',
    '| --- | --- | --- |',
    ...targets.map((t) => `| ${t.target} | ${t.measured} | ${verdict(t.met)} |`),
  ].join('\n');
}
