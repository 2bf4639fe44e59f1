/**
 * `npm run screenshot` end to end: local mode with sign-in, the real page in Chromium, a
 * processed photo and a rejected text file, written as a PNG (here to a scratch folder).
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { takeScreenshot } from '../../scripts/screenshot';

describe('npm run screenshot (local mode, headless Chromium)', function () {
  this.timeout(150_000);
  let scratch: string;

  before(async function () {
    scratch = await mkdtemp(join(tmpdir(), 'directdrop-screenshot-test-'));
  });
  after(async function () {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('writes the page with both outcomes as a full-colour PNG of the README’s width', async function () {
    const out = join(scratch, 'screenshot.png');
    const written = await takeScreenshot(out);
    const { width, height, format, channels } = await sharp(out).metadata();
    expect({ format, width }).to.deep.equal({ format: 'png', width: 900 });
    expect(height).to.be.at.least(820).and.equal(written.height);
    expect(channels, 'RGB, not a palette').to.be.at.least(3);
    // The thumbnail (320 × 213) is the page's only sky and hills: count their pixels.
    const { data } = await sharp(out).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    let sky = 0;
    let hills = 0;
    for (let i = 0; i < data.length; i += 3) {
      const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
      if (r > 200 && g > 100 && b < 150) sky++;
      if (g > r + 15 && g > b + 15 && g < 140) hills++;
    }
    expect(sky, 'orange sky pixels').to.be.greaterThan(10_000);
    expect(hills, 'dark green hill pixels').to.be.greaterThan(10_000);
  });
});
