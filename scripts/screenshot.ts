/**
 * `npm run screenshot`: makes docs/screenshot.png from the real upload page. It starts
 * local mode as `npm start` does (sign-in on, the page opened from the banner's signed-in
 * link), uploads a photo and a text file named .jpg in headless Chromium, waits for the
 * thumbnail and the rejection, and writes the page as a PNG.
 *
 *   npm run screenshot                 # docs/screenshot.png
 *   npm run screenshot -- --out x.png  # elsewhere
 *
 * It finds the page's parts by role, label and text rather than by id, so small changes
 * to the page do not break it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { buildWebClient } from '../client/web/build';
import { freeLocalModePorts, startLocalModeProcess } from '../local/local-mode-process';
import { launchChromium } from '../test/helpers/browser';
import { sunsetPhoto } from '../test/helpers/images';

export const DEFAULT_OUT = resolve(__dirname, '../docs/screenshot.png');
/** The picture's width; its height is the page's, at least this. */
const VIEWPORT = { width: 900, height: 820 };
const OUTCOME_TIMEOUT_MS = 60_000;
const LOG_LINES_ON_FAILURE = 30;
const NOTES = Buffer.from('Packing list: sun cream, hat, camera.\n'.repeat(40));

/** The banner's first link that carries a token (the page signed in), else the page itself. */
export function signedInPageUrl(banner: string, port: number): string {
  const base = `http://localhost:${port}`;
  const link = banner.match(/https?:\/\/(?:localhost|127\.0\.0\.1):\d+\/\S*#token=\S+/)?.[0];
  if (link) return link;
  const token = /TOKEN=(\S+)/.exec(banner)?.[1];
  return token ? `${base}/#token=${token}` : `${base}/`;
}

export async function takeScreenshot(
  out = DEFAULT_OUT,
): Promise<{ width: number; height: number; bytes: number }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'directdrop-screenshot-'));
  const ports = await freeLocalModePorts();
  const [, photo] = await Promise.all([buildWebClient(), sunsetPhoto()]);
  const local = startLocalModeProcess({ role: 'all', ports, dataDir, signIn: true });
  const browser = await launchChromium();
  try {
    await local.ready();
    const page = await browser.newPage({ viewport: VIEWPORT });
    await page.goto(signedInPageUrl(local.output(), ports.port));
    // The limits line comes from GET /api/limits; the picture should show it.
    await page
      .getByText(/up to [\d.]+ [KMG]?i?B each/)
      .first()
      .waitFor({ timeout: 15_000 });

    const input = page.locator('input[type=file]').first();
    const item = (name: string) => page.getByRole('listitem').filter({ hasText: name }).first();
    await input.setInputFiles({ name: 'sunset.jpg', mimeType: 'image/jpeg', buffer: photo });
    await item('sunset.jpg').getByRole('img').first().waitFor({ timeout: OUTCOME_TIMEOUT_MS });
    await input.setInputFiles({ name: 'holiday-notes.jpg', mimeType: 'image/jpeg', buffer: NOTES });
    await item('holiday-notes.jpg')
      .getByText(/rejected/i)
      .first()
      .waitFor({ timeout: OUTCOME_TIMEOUT_MS });

    await page.evaluate(async () => {
      (document.activeElement as HTMLElement | null)?.blur();
      // Images without a source (a closed viewer) have nothing to decode.
      const shown = [...document.images].filter((img) => img.getAttribute('src'));
      await Promise.all(shown.map((img) => img.decode()));
    });
    const shot = await page.screenshot({ fullPage: true, animations: 'disabled' });
    // Not a palette PNG: its quantiser turns the dark green hills grey.
    const png = await sharp(shot).png({ compressionLevel: 9 }).toBuffer();
    await writeFile(out, png);
    const { width = 0, height = 0 } = await sharp(png).metadata();
    return { width, height, bytes: png.length };
  } catch (error) {
    const log = local.output().trimEnd().split('\n').slice(-LOG_LINES_ON_FAILURE).join('\n');
    throw new Error(`${(error as Error).message}\nlocal mode's last lines:\n${log}`, {
      cause: error,
    });
  } finally {
    await browser.close();
    await local.signal('SIGTERM');
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: DEFAULT_OUT } } });
  const out = resolve(values.out);
  takeScreenshot(out).then(
    ({ width, height, bytes }) =>
      console.log(`Wrote ${out}: ${width} × ${height}, ${(bytes / 1024).toFixed(0)} KiB`),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
