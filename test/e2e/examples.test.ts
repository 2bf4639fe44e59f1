/**
 * The pages in examples/ in headless Chromium against real local mode, each served
 * from another origin than the API: plain fetch, the package's browser entry, and
 * Uppy 6 with @uppy/aws-s3. Each must bring a photo back processed with its thumbnail.
 */
import { expect } from 'chai';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import sharp from 'sharp';
import { launchChromium, serveOtherOrigin } from '../helpers/browser';
import { type LocalMode, startLocalMode } from '../integration/client-local-mode';

const EXAMPLES = resolve(__dirname, '../../examples');

/** Copies examples/ and bundles each main.js as a user's bundler would. */
async function buildExamples(into: string): Promise<void> {
  await cp(EXAMPLES, into, { recursive: true });
  await build({
    entryPoints: ['browser-package/main.js', 'uppy/main.js'].map((p) => join(EXAMPLES, p)),
    outdir: into,
    outbase: EXAMPLES,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    logLevel: 'warning',
  });
}

describe('examples/ in headless Chromium (local mode, another origin)', function () {
  this.timeout(120_000);
  let local: LocalMode;
  let browser: Browser;
  let site: { origin: string; server: Server };
  let root: string;
  let photo: Buffer;

  before(async function () {
    root = await mkdtemp(join(tmpdir(), 'directdrop-examples-'));
    [local, browser, photo] = await Promise.all([
      startLocalMode(),
      launchChromium(),
      sharp({ create: { width: 900, height: 600, channels: 3, background: '#c63' } })
        .jpeg()
        .toBuffer(),
      buildExamples(root),
    ]).then(([l, b, p]) => [l, b, p] as const);
    site = await serveOtherOrigin(root);
  });
  after(async function () {
    site?.server.close();
    await browser?.close();
    await local?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed' && local) console.log(local.output());
  });

  for (const example of ['plain-fetch', 'browser-package', 'uppy']) {
    it(`${example}: uploads a photo and shows its processed thumbnail`, async function () {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(error.message));
      try {
        await page.goto(`${site.origin}/${example}/?api=${encodeURIComponent(local.apiBaseUrl)}`);
        await page.setInputFiles('#file', {
          name: `${example}.jpg`,
          mimeType: 'image/jpeg',
          buffer: photo,
        });
        const item = page.locator('#results li', { hasText: `${example}.jpg` });
        await item.and(page.locator('[data-state]')).waitFor({ timeout: 60_000 });
        expect(await item.getAttribute('data-state'), (await item.textContent()) ?? '').to.equal(
          'processed',
        );
        const width = await item.getByRole('img').evaluate(async (img: HTMLImageElement) => {
          await img.decode();
          return img.naturalWidth;
        });
        expect(width).to.equal(320);
        expect(problems).to.deep.equal([]);
      } finally {
        await page.close();
      }
    });
  }

  it('browser-package: states the server’s limits', async function () {
    const page = await browser.newPage();
    try {
      await page.goto(
        `${site.origin}/browser-package/?api=${encodeURIComponent(local.apiBaseUrl)}`,
      );
      await page.locator('#limits', { hasText: 'Up to' }).waitFor({ timeout: 10_000 });
      expect(await page.locator('#limits').textContent()).to.match(
        /^Up to 25\.0 MiB: image\/jpeg, /,
      );
    } finally {
      await page.close();
    }
  });
});
