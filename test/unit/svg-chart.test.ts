import { expect } from 'chai';
import { escapeXml, lineChartSvg, niceStep, stepPath, ticks } from '../../bench/lib/svg-chart';

describe('svg-chart (the spike benchmark’s chart)', () => {
  it('picks 1, 2 or 5 × 10^n steps and ticks that cover the maximum', () => {
    expect(niceStep(0)).to.equal(1);
    expect(niceStep(10, 5)).to.equal(2);
    expect(niceStep(1000, 5)).to.equal(200);
    expect(niceStep(7, 5)).to.equal(2);
    expect(ticks(930, 5)).to.deep.equal([0, 200, 400, 600, 800, 1000]);
    expect(ticks(6, 5)).to.deep.equal([0, 2, 4, 6]);
    expect(ticks(0)).to.deep.equal([0, 1]);
  });

  it('draws a step line: each value holds until the next point', () => {
    const path = stepPath(
      [
        [0, 0],
        [1, 5],
        [2, 5],
        [3, 0],
      ],
      (v) => v * 10,
      (v) => 100 - v * 10,
    );
    expect(path).to.equal('M0,100 H10 V50 H20 H30 V100');
    expect(stepPath([], String as never, String as never)).to.equal('');
  });

  it('escapes text for XML', () => {
    expect(escapeXml(`a<b & "c" 'd'>`)).to.equal('a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;');
  });

  it('writes a standalone SVG with axes, both series, the cap line on the right axis and a legend', () => {
    const svg = lineChartSvg({
      title: '1,000 uploads <burst>',
      xLabel: 'seconds',
      yLabel: 'queue depth',
      yRightLabel: 'in flight',
      series: [
        {
          label: 'depth',
          color: '#1f77b4',
          points: [
            [0, 0],
            [10, 900],
            [60, 0],
          ],
        },
        {
          label: 'in flight',
          color: '#d62728',
          axis: 'right',
          points: [
            [0, 0],
            [10, 6],
            [60, 0],
          ],
        },
      ],
      lines: [{ label: 'cap 6', color: '#ff7f0e', y: 6, axis: 'right' }],
      width: 800,
      height: 400,
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).to.equal(true);
    expect(svg.trimEnd().endsWith('</svg>')).to.equal(true);
    expect(svg).to.include('1,000 uploads &lt;burst&gt;');
    expect(svg.match(/<path /g)).to.have.length(2);
    // Plot 800 − 64 − 64 wide, 400 − 44 − 72 tall: the right axis tops out at 6, so the cap
    // line is drawn at the top of the plot, and the depth's 900 sits below its 1,000 tick.
    expect(svg).to.include('y1="44" x2="736" y2="44" stroke="#ff7f0e" stroke-dasharray="6 4"');
    expect(svg).to.include('M64,328 H176 V72.4 H736 V328');
    for (const label of ['queue depth', 'in flight', 'seconds', 'cap 6', 'depth'])
      expect(svg).to.include(`>${label}</text>`);
    // Deterministic: the same input gives the same bytes.
    expect(lineChartSvg({ title: 't', xLabel: 'x', yLabel: 'y', series: [] })).to.equal(
      lineChartSvg({ title: 't', xLabel: 'x', yLabel: 'y', series: [] }),
    );
  });
});
