/**
 * The upload page in real headless Chromium against real local mode: choose a photo,
 * watch progress reach 100 %, see the processed thumbnail and display image, see a
 * readable rejection for a non-image. `npm run screenshot` makes docs/screenshot.png.
 */
import { expect } from 'chai';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import sharp from 'sharp';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { STORAGE_NAMES, TOMBSTONE_CONTENT_TYPE } from '../../functions/core/definitions';
import { eventually } from '../integration/local-fixtures';
import { DEFAULT_SETTINGS, SETTING_KEYS } from '../../functions/core/settings';
import { DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME } from '../../local/azurite';
import { buildWebClient } from '../../client/web/build';
import { launchChromium, serveOtherOrigin } from '../helpers/browser';
import { sunsetPhoto } from '../helpers/images';
import { type LocalMode, startLocalMode } from '../integration/client-local-mode';

/** Every run leaves a picture of the page in test-results/ (ignored), for a look after a failure. */
const LATEST_SCREENSHOT = resolve(__dirname, '../../test-results/client-web.png');
/** Not the default, so the page's text can only come from the server. */
const MAX_UPLOAD_BYTES = 4 * 1024 * 1024;
/** Throttled so a ~1 MB photo takes long enough for progress events in between. */
const UPLOAD_BYTES_PER_SECOND = 1_000_000;

/** Names of the blobs in a container whose name ends in this file name. */
async function blobsNamed(local: LocalMode, containerName: string, fileName: string) {
  const service = new BlobServiceClient(
    local.blobEndpoint,
    new StorageSharedKeyCredential(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY),
  );
  const container = service.getContainerClient(containerName);
  const names: string[] = [];
  for await (const blob of container.listBlobsFlat()) {
    if (blob.name.endsWith(`/${fileName}`)) names.push(blob.name);
  }
  return { container, names };
}

/** The upload's manifest and the outputs in the folder it names. */
async function processedBlobs(local: LocalMode, uploadId: string): Promise<string[]> {
  const service = new BlobServiceClient(
    local.blobEndpoint,
    new StorageSharedKeyCredential(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY),
  );
  const container = service.getContainerClient(STORAGE_NAMES.processedContainer);
  const manifestName = `${uploadId}/manifest.json`;
  const manifest = JSON.parse(
    (await container.getBlobClient(manifestName).downloadToBuffer()).toString('utf8'),
  ) as { outputPrefix: string };
  const names = [manifestName];
  for await (const blob of container.listBlobsFlat({ prefix: `${manifest.outputPrefix}/` }))
    names.push(blob.name);
  return names.sort();
}

/** What landed for this file name: its kept original, since a tombstone replaces the landing blob once processed. */
async function landedBlob(local: LocalMode, fileName: string): Promise<Buffer> {
  const landing = await blobsNamed(local, STORAGE_NAMES.landingContainer, fileName);
  expect(landing.names).to.have.length(1);
  // The outcome is readable once recorded; its tombstone follows a moment later.
  const replaced = await eventually(async () => {
    const properties = await landing.container.getBlobClient(landing.names[0]).getProperties();
    return properties.contentType === TOMBSTONE_CONTENT_TYPE && properties.contentLength === 0;
  }, 10_000);
  expect(replaced, 'a tombstone replaces the landing blob once processed').to.equal(true);
  const { container, names } = await blobsNamed(local, STORAGE_NAMES.originalsContainer, fileName);
  expect(names).to.have.length(1);
  return container.getBlobClient(names[0]).downloadToBuffer();
}

/** Waits for the item to settle, then checks it settled as expected (the status text says why not). */
async function expectOutcome(item: Locator, state: 'processed' | 'rejected', timeout: number) {
  const settled = '[data-state=processed], [data-state=rejected], [data-state=error]';
  await item.and(item.page().locator(settled)).waitFor({ timeout });
  const why = (await item.getByRole('status').textContent()) ?? '';
  expect(await item.getAttribute('data-state'), why).to.equal(state);
}

describe('upload page in headless Chromium (local mode)', function () {
  this.timeout(120_000);
  let local: LocalMode;
  let browser: Browser;
  let page: Page;
  let photo: Buffer;

  before(async function () {
    const [, started, launched, generated] = await Promise.all([
      buildWebClient(),
      // Kept originals let the test compare what landed with the file after the worker deleted it.
      startLocalMode({
        settings: {
          [SETTING_KEYS.keepOriginals]: 'true',
          [SETTING_KEYS.maxUploadBytes]: String(MAX_UPLOAD_BYTES),
        },
      }),
      launchChromium(),
      sunsetPhoto(),
    ]);
    [local, browser, photo] = [started, launched, generated];
    page = await browser.newPage({ viewport: { width: 900, height: 820 } });
    await page.goto(`${local.baseUrl}/`);
  });
  after(async function () {
    await browser?.close();
    await local?.stop();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed' && local) console.log(local.output());
  });

  it('states the server’s limits, read from GET /api/limits', async function () {
    await page.locator('#limits', { hasText: 'each' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('#limits').textContent()).to.equal(
      'JPEG, PNG, WEBP, AVIF, GIF, TIFF, HEIC or HEIF, up to 4.0 MiB each.',
    );
    expect(await page.getByLabel('choose files').getAttribute('accept')).to.equal(
      DEFAULT_SETTINGS.allowedContentTypes.join(','),
    );
    // A file over the server's (non-default) limit is refused before any upload.
    await page.setInputFiles('#file-input', {
      name: 'huge.jpg',
      mimeType: 'image/jpeg',
      buffer: Buffer.alloc(5 * 1024 * 1024),
    });
    const item = page.locator('li.upload', { hasText: 'huge.jpg' });
    await expectOutcome(item, 'rejected', 10_000);
    expect(await item.getByRole('status').textContent()).to.equal(
      'Not uploaded: huge.jpg is 5.0 MiB; the limit is 4.0 MiB.',
    );
  });

  it('says up front that this API needs no sign-in', async function () {
    await page.locator('#sign-in[data-state]').waitFor({ timeout: 10_000 });
    expect(await page.locator('#sign-in-state').textContent()).to.equal(
      'This API needs no sign-in.',
    );
    expect(await page.locator('#sign-in-help').isVisible()).to.equal(false);
  });

  it('lets JavaScript on another origin read RateLimit-Remaining from POST /api/uploads', async function () {
    const { origin, server } = await serveOtherOrigin(resolve(__dirname, '../../client/web'));
    const other = await browser.newPage();
    try {
      await other.goto(`${origin}/`);
      const seen = await other.evaluate(async (api) => {
        const response = await fetch(`${api}/uploads`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ fileName: 'a.jpg', contentType: 'image/jpeg', size: 1000 }),
        });
        return {
          status: response.status,
          remaining: response.headers.get('RateLimit-Remaining'),
          limit: response.headers.get('RateLimit-Limit'),
        };
      }, local.apiBaseUrl);
      expect(seen.status).to.equal(201);
      expect(seen.remaining, 'exposed with Access-Control-Expose-Headers').to.match(/^\d+$/);
      expect(seen.limit).to.match(/^\d+$/);
    } finally {
      await other.close();
      server.close();
    }
  });

  it('offers a labelled, keyboard-reachable file input', async function () {
    const input = page.getByLabel('choose files');
    expect(await input.getAttribute('type')).to.equal('file');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).to.equal('file-input');
  });

  it('uploads a photo through the file input with progress to 100 %, then shows the thumbnail and display image', async function () {
    // Record every value the progress bar takes, from the page's side.
    await page.evaluate(() => {
      const seen: number[] = [];
      (window as unknown as { progressSeen: number[] }).progressSeen = seen;
      new MutationObserver((records) => {
        for (const r of records) {
          if (r.target instanceof HTMLProgressElement) seen.push(r.target.value);
        }
      }).observe(document.getElementById('uploads')!, {
        subtree: true,
        attributes: true,
        attributeFilter: ['value'],
      });
    });
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: UPLOAD_BYTES_PER_SECOND,
    });

    const started = Date.now();
    await page.setInputFiles('#file-input', {
      name: 'sunset.jpg',
      mimeType: 'image/jpeg',
      buffer: photo,
    });
    const item = page.locator('li.upload', { hasText: 'sunset.jpg' });
    await expectOutcome(item, 'processed', 60_000);
    console.log(
      `      photo ${(photo.length / 1024).toFixed(0)} KiB at ${UPLOAD_BYTES_PER_SECOND / 1e6} MB/s: processed in ${Date.now() - started} ms`,
    );
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: -1,
    });

    const seen = await page.evaluate(
      () => (window as unknown as { progressSeen: number[] }).progressSeen,
    );
    expect(seen.at(-1)).to.equal(100);
    expect(seen, 'never goes backwards').to.deep.equal([...seen].sort((a, b) => a - b));
    expect(
      seen.some((v) => v > 0 && v < 100),
      `byte-level progress, not a jump from 0 to 100: ${seen.join(',')}`,
    ).to.equal(true);
    expect(await item.getByRole('progressbar').getAttribute('value')).to.equal('100');
    expect(await item.getByRole('status').textContent()).to.equal('Ready.');

    // The bytes that landed are the file's bytes, whatever the transport did.
    const landed = await landedBlob(local, 'sunset.jpg');
    expect(landed.equals(photo), 'uploaded bytes equal the file').to.equal(true);

    const thumb = item.getByRole('img', { name: 'Thumbnail of sunset.jpg' });
    const thumbWidth = await thumb.evaluate(async (img: HTMLImageElement) => {
      await img.decode();
      return img.naturalWidth;
    });
    expect(thumbWidth).to.equal(320);

    await item.getByRole('button', { name: /Show sunset\.jpg at 1600 × 1067/ }).click();
    const display = page
      .getByRole('dialog')
      .getByRole('img', { name: 'sunset.jpg at display size' });
    const displayWidth = await display.evaluate(async (img: HTMLImageElement) => {
      await img.decode();
      return img.naturalWidth;
    });
    expect(displayWidth).to.equal(1600);
    await page.keyboard.press('Escape');
    expect(await page.getByRole('dialog').isVisible()).to.equal(false);
  });

  it('deletes a processed photo from the page, after which its output URLs answer 404', async function () {
    await page.setInputFiles('#file-input', {
      name: 'to-delete.jpg',
      mimeType: 'image/jpeg',
      buffer: photo,
    });
    const item = page.locator('li.upload', { hasText: 'to-delete.jpg' });
    await expectOutcome(item, 'processed', 60_000);
    const thumbUrl = await item
      .getByRole('img', { name: 'Thumbnail of to-delete.jpg' })
      .getAttribute('src');
    expect((await fetch(thumbUrl!)).status).to.equal(200);

    await item.getByRole('button', { name: 'Delete to-delete.jpg' }).click();
    await item.and(page.locator('[data-state=deleted]')).waitFor({ timeout: 10_000 });
    expect(await item.getByRole('status').textContent()).to.equal('Deleted.');
    expect(await item.getByRole('img').count()).to.equal(0);
    // The read URL the page held is signed for a blob that no longer exists.
    expect((await fetch(thumbUrl!)).status).to.equal(404);
  });

  it('shows a readable message for a file that is not an image', async function () {
    await page.setInputFiles('#file-input', {
      name: 'holiday-notes.jpg',
      mimeType: 'image/jpeg',
      buffer: Buffer.from('Packing list: sun cream, hat, camera.\n'.repeat(40)),
    });
    const item = page.locator('li.upload', { hasText: 'holiday-notes.jpg' });
    await expectOutcome(item, 'rejected', 60_000);
    expect(await item.getByRole('status').textContent()).to.equal(
      'Rejected: The file is not a supported image.',
    );
    expect(await item.locator('img').count()).to.equal(0);

    // Not a palette PNG: its quantiser turned the dark green hills grey.
    await page.evaluate(async () => {
      (document.activeElement as HTMLElement | null)?.blur();
      await Promise.all([...document.images].map((img) => img.decode()));
    });
    const shot = await page.screenshot({ fullPage: false });
    const png = await sharp(shot).png({ compressionLevel: 9 }).toBuffer();
    await mkdir(dirname(LATEST_SCREENSHOT), { recursive: true });
    await writeFile(LATEST_SCREENSHOT, png);
  });

  it('refuses a non-image type before uploading, and says why', async function () {
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    await page.setInputFiles('#file-input', {
      name: 'notes.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('not a photo'),
    });
    const item = page.locator('li.upload', { hasText: 'notes.txt' });
    await expectOutcome(item, 'rejected', 10_000);
    expect(await item.getByRole('status').textContent()).to.match(
      /^Not uploaded: notes\.txt is text\/plain; accepted types are image\/jpeg, /,
    );
    expect(requests.filter((url) => url.includes('/api/uploads'))).to.deep.equal([]);
  });

  it('uploads from a page on another origin than the API (CORS on the API and on blob storage)', async function () {
    const { origin, server } = await serveOtherOrigin(resolve(__dirname, '../../client/web'));
    const other = await browser.newPage();
    try {
      const apiCalls: { url: string; method: string }[] = [];
      other.on('request', (r) => apiCalls.push({ url: r.url(), method: r.method() }));
      await other.goto(`${origin}/?api=${encodeURIComponent(local.apiBaseUrl)}`);
      expect(new URL(local.apiBaseUrl).origin).to.not.equal(origin);
      await other.setInputFiles('#file-input', {
        name: 'elsewhere.png',
        mimeType: 'image/png',
        buffer: await sharp({
          create: { width: 500, height: 400, channels: 3, background: '#36c' },
        })
          .png()
          .toBuffer(),
      });
      const item = other.locator('li.upload', { hasText: 'elsewhere.png' });
      await expectOutcome(item, 'processed', 60_000);
      const post = apiCalls.find((c) => c.method === 'POST' && c.url.endsWith('/api/uploads'));
      expect(post, 'the page called the API on its origin').to.not.equal(undefined);
      const put = apiCalls.find((c) => c.method === 'PUT');
      // /<account>/<landing container>/<owner>/<uploadId>/<size>/<name>
      const uploadId = new URL(put!.url).pathname.split('/')[4];
      const outputs = await processedBlobs(local, uploadId);
      expect(outputs).to.include(`${uploadId}/manifest.json`);
      for (const variant of ['display.webp', 'thumb.webp']) {
        expect(outputs.filter((name) => name.endsWith(`/${variant}`))).to.have.length(1);
      }
    } finally {
      await other.close();
      server.close();
    }
  });

  it('waits out a storage 503 with Retry-After in the browser and still lands the photo', async function () {
    // The first PUT to storage is answered 503 ServerBusy by the browser's network layer;
    // the library must wait the Retry-After second and send it again.
    const pageOrigin = new URL(local.baseUrl).origin;
    const putTimes: number[] = [];
    await page.route(`${local.blobEndpoint}/**`, async (route) => {
      if (route.request().method() !== 'PUT') return route.continue();
      putTimes.push(Date.now());
      if (putTimes.length > 1) return route.continue();
      return route.fulfill({
        status: 503,
        headers: {
          'retry-after': '1',
          'x-ms-error-code': 'ServerBusy',
          'access-control-allow-origin': pageOrigin,
          'access-control-expose-headers': 'retry-after, x-ms-error-code',
        },
        body: '',
      });
    });
    try {
      await page.setInputFiles('#file-input', {
        name: 'busy.png',
        mimeType: 'image/png',
        buffer: await sharp({
          create: { width: 300, height: 200, channels: 3, background: '#963' },
        })
          .png()
          .toBuffer(),
      });
      const item = page.locator('li.upload', { hasText: 'busy.png' });
      await expectOutcome(item, 'processed', 60_000);
      expect(putTimes).to.have.length(2);
      expect(putTimes[1] - putTimes[0], 'waited Retry-After').to.be.at.least(1_000);
    } finally {
      await page.unroute(`${local.blobEndpoint}/**`);
    }
  });

  it('uploads a photo dropped on the drop zone', async function () {
    const png = (
      await sharp({ create: { width: 400, height: 300, channels: 3, background: '#2a6' } })
        .png()
        .toBuffer()
    ).toString('base64');
    const dataTransfer = await page.evaluateHandle((base64) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], 'dropped.png', { type: 'image/png' }));
      return transfer;
    }, png);
    await page.dispatchEvent('#drop-zone', 'dragover', { dataTransfer });
    expect(await page.locator('#drop-zone.dragging').count()).to.equal(1);
    await page.dispatchEvent('#drop-zone', 'drop', { dataTransfer });
    const item = page.locator('li.upload', { hasText: 'dropped.png' });
    await expectOutcome(item, 'processed', 60_000);
    expect(await page.locator('#drop-zone.dragging').count()).to.equal(0);
    expect(await item.getByRole('img', { name: 'Thumbnail of dropped.png' }).count()).to.equal(1);
  });
});

describe('upload page in headless Chromium (local mode with sign-in)', function () {
  this.timeout(120_000);
  let local: LocalMode;
  let browser: Browser;

  before(async function () {
    [, local, browser] = await Promise.all([
      buildWebClient(),
      startLocalMode({ signIn: true }),
      launchChromium(),
    ]);
  });
  after(async function () {
    await browser?.close();
    await local?.stop();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed' && local) console.log(local.output());
  });

  it('shows how to sign in before any file is chosen, and signs in as a development user', async function () {
    const page = await browser.newPage();
    try {
      await page.goto(`${local.baseUrl}/`);
      await page.locator('#sign-in[data-state=signed-out]').waitFor({ timeout: 10_000 });
      expect(await page.locator('#sign-in-state').textContent()).to.equal(
        'Not signed in: this API needs a token before it accepts uploads.',
      );
      expect(await page.locator('#sign-in-help').textContent())
        .to.contain('#token=…')
        .and.contain(`npx directdrop dev-token --api ${local.apiBaseUrl}`);
      expect(await page.locator('li.upload').count(), 'no file chosen yet').to.equal(0);

      await page.getByRole('button', { name: 'Sign in as a development user' }).click();
      await page.locator('#sign-in[data-state=signed-in]').waitFor({ timeout: 10_000 });
      await page.setInputFiles('#file-input', {
        name: 'signed-in.png',
        mimeType: 'image/png',
        buffer: await sharp({
          create: { width: 300, height: 200, channels: 3, background: '#693' },
        })
          .png()
          .toBuffer(),
      });
      await expectOutcome(
        page.locator('li.upload', { hasText: 'signed-in.png' }),
        'processed',
        60_000,
      );
    } finally {
      await page.close();
    }
  });

  it('opens signed in from the banner’s first link', async function () {
    const banner = local.output().slice(local.output().indexOf('Web page'));
    expect(banner.indexOf('Web page'), 'the page comes before the routes').to.be.below(
      banner.indexOf('Functions '),
    );
    const first = /https?:\/\/\S+/.exec(banner)?.[0];
    expect(first).to.equal(`${local.baseUrl}/#token=${local.token}`);
    const page = await browser.newPage();
    try {
      await page.goto(first!);
      await page.locator('#sign-in[data-state=signed-in]').waitFor({ timeout: 10_000 });
      expect(new URL(page.url()).hash, 'the token leaves the address bar').to.equal('');
    } finally {
      await page.close();
    }
  });
});
