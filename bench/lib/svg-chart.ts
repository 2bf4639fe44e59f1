/**
 * A small line chart as a standalone SVG document, written by hand (no dependency): time
 * on the x axis, one or more step series sharing the y axis, optional horizontal lines
 * (a cap), ticks, axis labels, a title and a legend. Pure: the same input gives the same
 * bytes, so the spike benchmark can write it and a test can check it.
 */

export interface ChartSeries {
  label: string;
  color: string;
  /** [x, y] pairs in x order; drawn as a step line (each value holds until the next). */
  points: ReadonlyArray<readonly [number, number]>;
  /** Which y axis it is read on; the right one has its own scale. Default left. */
  axis?: 'left' | 'right';
}

export interface ChartLine {
  label: string;
  color: string;
  y: number;
  axis?: 'left' | 'right';
}

export interface ChartInput {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Label of the right y axis, drawn when a series or line uses it. */
  yRightLabel?: string;
  series: readonly ChartSeries[];
  lines?: readonly ChartLine[];
  width?: number;
  height?: number;
}

const MARGIN = { left: 64, right: 64, top: 44, bottom: 72 };

/** XML text and attribute values with the five special characters escaped. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** A "nice" step (1, 2 or 5 × 10^n) giving about `count` ticks from 0 to `max`. */
export function niceStep(max: number, count = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  return step;
}

/** Tick values from 0 up to the first multiple of `step` at or above `max`. */
export function ticks(max: number, count = 5): number[] {
  const step = niceStep(max, count);
  const top = Math.max(step, Math.ceil(max / step - 1e-9) * step);
  const values: number[] = [];
  for (let v = 0; v <= top + step / 2; v += step) values.push(Number(v.toPrecision(12)));
  return values;
}

const num = (value: number) => Number(value.toFixed(1)).toString();

/** The path of a step line: horizontal to each next x, then vertical to its y. */
export function stepPath(
  points: ReadonlyArray<readonly [number, number]>,
  x: (v: number) => number,
  y: (v: number) => number,
): string {
  if (points.length === 0) return '';
  const [first, ...rest] = points;
  const parts = [`M${num(x(first[0]))},${num(y(first[1]))}`];
  let previousY = first[1];
  for (const [px, py] of rest) {
    parts.push(`H${num(x(px))}`);
    if (py !== previousY) parts.push(`V${num(y(py))}`);
    previousY = py;
  }
  return parts.join(' ');
}

export function lineChartSvg(input: ChartInput): string {
  const width = input.width ?? 800;
  const height = input.height ?? 400;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const on = (axis: 'left' | 'right') => ({
    series: input.series.filter((s) => (s.axis ?? 'left') === axis),
    lines: (input.lines ?? []).filter((l) => (l.axis ?? 'left') === axis),
  });
  const xMaxData = Math.max(0, ...input.series.flatMap((s) => s.points.map((p) => p[0])));
  const xTicks = ticks(xMaxData, 8);
  const xMax = xTicks[xTicks.length - 1];
  const x = (v: number) => MARGIN.left + (v / xMax) * plotW;
  const scale = (axis: 'left' | 'right') => {
    const { series, lines } = on(axis);
    const top = Math.max(
      0,
      ...series.flatMap((s) => s.points.map((p) => p[1])),
      ...lines.map((l) => l.y),
    );
    const values = ticks(top, 5);
    const max = values[values.length - 1];
    return { values, y: (v: number) => MARGIN.top + plotH - (v / max) * plotH };
  };
  const left = scale('left');
  const right = scale('right');
  const hasRight = on('right').series.length + on('right').lines.length > 0;
  const yOf = (axis: 'left' | 'right' | undefined) => (axis === 'right' ? right.y : left.y);
  const y = left.y;
  const yTicks = left.values;
  const bottom = MARGIN.top + plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(input.title)}</text>`,
  ];
  for (const t of yTicks) {
    out.push(
      `<line x1="${MARGIN.left}" y1="${num(y(t))}" x2="${MARGIN.left + plotW}" y2="${num(y(t))}" stroke="#e5e5e5"/>`,
      `<text x="${MARGIN.left - 6}" y="${num(y(t) + 4)}" text-anchor="end">${t}</text>`,
    );
  }
  if (hasRight) {
    for (const t of right.values)
      out.push(
        `<text x="${MARGIN.left + plotW + 6}" y="${num(right.y(t) + 4)}" text-anchor="start">${t}</text>`,
      );
    const cy = MARGIN.top + plotH / 2;
    out.push(
      `<line x1="${MARGIN.left + plotW}" y1="${MARGIN.top}" x2="${MARGIN.left + plotW}" y2="${MARGIN.top + plotH}" stroke="#333333"/>`,
      `<text x="${width - 14}" y="${cy}" text-anchor="middle" transform="rotate(90 ${width - 14} ${cy})">${escapeXml(input.yRightLabel ?? '')}</text>`,
    );
  }
  for (const t of xTicks) {
    out.push(
      `<line x1="${num(x(t))}" y1="${bottom}" x2="${num(x(t))}" y2="${bottom + 5}" stroke="#333333"/>`,
      `<text x="${num(x(t))}" y="${bottom + 18}" text-anchor="middle">${t}</text>`,
    );
  }
  out.push(
    `<line x1="${MARGIN.left}" y1="${bottom}" x2="${MARGIN.left + plotW}" y2="${bottom}" stroke="#333333"/>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${bottom}" stroke="#333333"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${bottom + 36}" text-anchor="middle">${escapeXml(input.xLabel)}</text>`,
    `<text x="16" y="${MARGIN.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${MARGIN.top + plotH / 2})">${escapeXml(input.yLabel)}</text>`,
  );
  for (const line of input.lines ?? []) {
    out.push(
      `<line x1="${MARGIN.left}" y1="${num(yOf(line.axis)(line.y))}" x2="${MARGIN.left + plotW}" y2="${num(yOf(line.axis)(line.y))}" stroke="${line.color}" stroke-dasharray="6 4" stroke-width="1.5"/>`,
    );
  }
  for (const series of input.series) {
    out.push(
      `<path d="${stepPath(series.points, x, yOf(series.axis))}" fill="none" stroke="${series.color}" stroke-width="1.5"/>`,
    );
  }
  // Legend along the bottom: series as solid swatches, lines dashed.
  const legend = [
    ...input.series.map((s) => ({ ...s, dashed: false })),
    ...(input.lines ?? []).map((l) => ({ ...l, dashed: true })),
  ];
  let lx = MARGIN.left;
  const ly = height - 14;
  for (const item of legend) {
    out.push(
      `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 22}" y2="${ly - 4}" stroke="${item.color}" stroke-width="2"${item.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${lx + 28}" y="${ly}">${escapeXml(item.label)}</text>`,
    );
    lx += 40 + item.label.length * 6.5;
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
