/**
 * `@directdrop/react` as users get it: `npm pack` of client/ and react/, installed from the
 * tarballs with React from the npm registry into a scratch project; examples/react bundled
 * there with esbuild and driven in headless Chromium against real local mode (served from
 * another origin); the package rendered on the server in Node; its declarations checked by
 * a TypeScript consumer; and the bundle size of the hook alone and of the dropzone.
 */
import { expect } from 'chai';
import { type SpawnOptions, spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { STORAGE_NAMES } from '../../functions/core/definitions';
import { SETTING_KEYS } from '../../functions/core/settings';
import { DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME } from '../../local/azurite';
import { launchChromium, serveOtherOrigin } from '../helpers/browser';
import { sunsetPhoto } from '../helpers/images';
import { type LocalMode, startLocalMode } from '../integration/client-local-mode';

const REPO_ROOT = resolve(__dirname, '../..');
/** Not the default, so the limits on the page can only come from the server. */
const MAX_UPLOAD_BYTES = 4 * 1024 * 1024;
/** Slow enough that a ~1 MB PUT is still in flight when Cancel is pressed. */
const THROTTLED_BYTES_PER_SECOND = 150_000;
/**
 * Budgets, gzipped, React itself not counted (the app has it anyway). The client's upload
 * is about 5 KB of this; measured 5.5 KiB for the hook and 8.1 KiB for the dropzone.
 */
const HOOK_MAX_GZIP_BYTES = 8 * 1024;
const DROPZONE_MAX_GZIP_BYTES = 10 * 1024;
const REACT_EXTERNALS = ['react', 'react-dom', 'react/jsx-runtime'];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: SpawnOptions = {}): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk) => (stdout += chunk));
    child.stderr?.on('data', (chunk) => (stderr += chunk));
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

const npm = (args: string[], cwd: string) =>
  run('npm', [...args, '--no-audit', '--no-fund'], { cwd, env: { ...process.env } });

/** The version the repository is tested with, so the scratch install comes from npm's cache. */
async function versionOf(name: string): Promise<string> {
  const manifest = join(REPO_ROOT, 'node_modules', name, 'package.json');
  return (JSON.parse(await readFile(manifest, 'utf8')) as { version: string }).version;
}

/** Landing blobs whose name ends in this file name: an aborted PUT must leave none. */
async function landedNamed(local: LocalMode, fileName: string): Promise<string[]> {
  const container = new BlobServiceClient(
    local.blobEndpoint,
    new StorageSharedKeyCredential(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY),
  ).getContainerClient(STORAGE_NAMES.landingContainer);
  const names: string[] = [];
  for await (const blob of container.listBlobsFlat()) {
    if (blob.name.endsWith(`/${fileName}`)) names.push(blob.name);
  }
  return names;
}

/** Waits for a condition on what the test has recorded (requests seen by the page). */
async function until(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`not true after ${timeoutMs} ms: ${String(condition)}`);
    await new Promise((settle) => setTimeout(settle, 50));
  }
}

async function throttleUploads(page: Page, bytesPerSecond: number) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond,
  });
}

describe('@directdrop/react package (packed, in a React app in headless Chromium)', function () {
  this.timeout(240_000);
  let scratch: string;
  let app: string;
  let local: LocalMode;
  let browser: Browser;
  let site: { origin: string; server: Server };
  let photo: Buffer;
  let packed: { name: string; filename: string; files: { path: string }[] }[];

  before(async function () {
    scratch = await mkdtemp(join(tmpdir(), 'directdrop-react-'));
    app = join(scratch, 'app');
    const [pack, started, launched, generated] = await Promise.all([
      npm(
        [
          'pack',
          ...['--workspace', '@directdrop/client', '--workspace', '@directdrop/react'],
          ...['--pack-destination', scratch, '--json'],
        ],
        REPO_ROOT,
      ),
      startLocalMode({ settings: { [SETTING_KEYS.maxUploadBytes]: String(MAX_UPLOAD_BYTES) } }),
      launchChromium(),
      sunsetPhoto(),
    ]);
    [local, browser, photo] = [started, launched, generated];
    expect(pack.code, pack.stderr).to.equal(0);
    packed = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[')));

    await cp(join(REPO_ROOT, 'examples/react'), app, { recursive: true });
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({ name: 'react-consumer', private: true, type: 'module' }),
    );
    const fromRegistry = await Promise.all(
      ['react', 'react-dom', '@types/react'].map(
        async (name) => `${name}@${await versionOf(name)}`,
      ),
    );
    const install = await npm(
      [
        'install',
        '--prefer-offline',
        ...packed.map((p) => join(scratch, p.filename)),
        ...fromRegistry,
      ],
      app,
    );
    expect(install.code, install.stderr).to.equal(0);
    // What the example's README line does: bundle main.jsx with esbuild.
    await build({
      entryPoints: [join(app, 'main.jsx')],
      outdir: join(app, 'dist'),
      absWorkingDir: app,
      bundle: true,
      jsx: 'automatic',
      platform: 'browser',
      format: 'esm',
      minify: true,
      logLevel: 'warning',
    });
    site = await serveOtherOrigin(app);
  });
  after(async function () {
    site?.server.close();
    await browser?.close();
    await local?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed' && local) console.log(local.output());
  });

  /** The example page, with every request it makes and every page error recorded. */
  async function openExample() {
    const page = await browser.newPage();
    // Chromium intercepts the file picker only once asked, and asking does not wait for an
    // answer: asked here, it is in place long before a test presses the button.
    page.on('filechooser', () => undefined);
    const requests: { method: string; url: string }[] = [];
    const failedPuts: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => requests.push({ method: r.method(), url: r.url() }));
    page.on('requestfailed', (r) => r.method() === 'PUT' && failedPuts.push(r.url()));
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${site.origin}/?api=${encodeURIComponent(local.apiBaseUrl)}`);
    const dropzone = page.locator('.directdrop-dropzone');
    await dropzone.locator('.directdrop-dropzone__limits', { hasText: 'each' }).waitFor();
    return { page, dropzone, requests, failedPuts, errors };
  }

  it('ships compiled ESM, declarations and a README, with react and the client as peers', async function () {
    const react = packed.find((p) => p.name === '@directdrop/react')!;
    const paths = react.files.map((f) => f.path);
    expect(paths).to.include.members([
      'package.json',
      'README.md',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/use-upload.js',
      'dist/use-upload-many.js',
      'dist/upload-dropzone.js',
      'dist/limits.js',
    ]);
    const unexpected = paths.filter(
      (p) => !['package.json', 'README.md'].includes(p) && !/^dist\/[\w-]+\.(js|d\.ts)$/.test(p),
    );
    expect(unexpected).to.deep.equal([]);
    const manifest = JSON.parse(
      await readFile(join(app, 'node_modules/@directdrop/react/package.json'), 'utf8'),
    );
    expect(manifest.type).to.equal('module');
    expect(manifest.peerDependencies).to.include({ react: '>=18', '@directdrop/client': '^0.1.0' });
    expect(manifest.dependencies ?? {}).to.deep.equal({});
  });

  it('renders the dropzone on the server from the installed package (Node, no DOM)', async function () {
    const script = join(app, 'ssr.mjs');
    await writeFile(
      script,
      `import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { UploadDropzone, useUpload } from '@directdrop/react';
if (typeof window !== 'undefined' || typeof document !== 'undefined') throw new Error('a DOM');
function Avatar() {
  return createElement('p', null, useUpload({ apiBaseUrl: '/api' }).state);
}
console.log(renderToString(createElement('main', null,
  createElement(UploadDropzone, { apiBaseUrl: 'https://app.example.com/api' }),
  createElement(Avatar))));`,
    );
    const out = await run(process.execPath, [script], { cwd: app });
    expect(out.code, out.stderr).to.equal(0);
    expect(out.stderr).to.equal('');
    expect(out.stdout).to.match(/<button type="button" class="directdrop-dropzone__button"/);
    expect(out.stdout).to.contain('Reading the upload rules…').and.contain('<p>idle</p>');
  });

  it('type-checks a TypeScript consumer against the shipped declarations', async function () {
    await writeFile(
      join(app, 'consumer.tsx'),
      `import { type UploadEntry, UploadDropzone, describeUploadError, useUpload, useUploadMany } from '@directdrop/react';
import { DirectdropError } from '@directdrop/client';
export function Avatar() {
  const upload = useUpload({ apiBaseUrl: '/api' });
  const many = useUploadMany({ apiBaseUrl: '/api', concurrency: 2 });
  const percent: number | undefined = upload.progress?.percent;
  const first: UploadEntry | undefined = many.uploads[0];
  const words = upload.error instanceof DirectdropError ? describeUploadError(upload.error, { fileName: 'a.jpg' }) : '';
  return (
    <div data-percent={percent} data-first={first?.state}>
      <input type="file" onChange={(e) => e.currentTarget.files && upload.start(e.currentTarget.files[0])} />
      <UploadDropzone apiBaseUrl="/api" label="Add photos" onOutcome={(entry) => entry.result?.outputs} />
      {words}
    </div>
  );
}
`,
    );
    const tsc = await run(
      process.execPath,
      [
        join(REPO_ROOT, 'node_modules/typescript/bin/tsc'),
        '--noEmit',
        '--strict',
        ...['--module', 'esnext', '--moduleResolution', 'bundler', '--jsx', 'react-jsx'],
        ...['--lib', 'es2023,dom', 'consumer.tsx'],
      ],
      { cwd: app },
    );
    expect(tsc.code, tsc.stdout + tsc.stderr).to.equal(0);
  });

  it(`bundles the hook alone in at most ${HOOK_MAX_GZIP_BYTES / 1024} KB and the dropzone in ${DROPZONE_MAX_GZIP_BYTES / 1024} KB gzipped (React not counted)`, async function () {
    const measure = async (name: string) => {
      const result = await build({
        stdin: {
          contents: `import { ${name} } from '@directdrop/react'; globalThis.picked = ${name};`,
          resolveDir: app,
          loader: 'js',
        },
        absWorkingDir: app,
        bundle: true,
        platform: 'browser',
        format: 'esm',
        minify: true,
        write: false,
        metafile: true,
        external: REACT_EXTERNALS,
        logLevel: 'silent',
      });
      const code = result.outputFiles[0].contents;
      const [output] = Object.values(result.metafile.outputs);
      return {
        minified: code.length,
        gzipped: gzipSync(code).length,
        // Modules that put code in the bundle; tree-shaken ones are listed with 0 bytes.
        inputs: Object.entries(output.inputs)
          .filter(([, input]) => input.bytesInOutput > 0)
          .map(([path]) => path),
      };
    };
    const hook = await measure('useUpload');
    const dropzone = await measure('UploadDropzone');
    console.log(
      `      useUpload: ${hook.minified} B minified, ${hook.gzipped} B gzipped; ` +
        `UploadDropzone: ${dropzone.minified} B minified, ${dropzone.gzipped} B gzipped`,
    );
    expect(hook.gzipped).to.be.at.most(HOOK_MAX_GZIP_BYTES);
    expect(dropzone.gzipped).to.be.at.most(DROPZONE_MAX_GZIP_BYTES);
    // Tree-shaking keeps the dropzone, the list hook and the words out of the hook alone.
    expect(
      hook.inputs.filter((p) => /upload-dropzone|use-upload-many|messages/.test(p)),
    ).to.deep.equal([]);
    expect(dropzone.inputs.filter((p) => /@azure|node-transport|sdk\.js/.test(p))).to.deep.equal(
      [],
    );
  });

  it('states the server’s limits and reaches the picker by keyboard through a real button', async function () {
    const { page, dropzone, errors } = await openExample();
    try {
      expect(await dropzone.locator('.directdrop-dropzone__limits').textContent()).to.equal(
        'JPEG, PNG, WebP, AVIF, GIF, TIFF, HEIC or HEIF, up to 4.0 MiB each.',
      );
      const button = page.getByRole('button', { name: 'Choose photos' });
      expect(await button.getAttribute('aria-describedby')).to.equal(
        await dropzone.locator('.directdrop-dropzone__limits').getAttribute('id'),
      );
      expect(await page.getByLabel('Choose photos').getAttribute('type')).to.equal('file');
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.textContent)).to.equal(
        'Choose photos',
      );
      const chooser = page.waitForEvent('filechooser');
      await page.keyboard.press('Enter');
      expect((await chooser).isMultiple()).to.equal(true);
      expect(errors).to.deep.equal([]);
    } finally {
      await page.close();
    }
  });

  it('uploads a photo chosen through the button to processed, with its thumbnail and the outcome announced', async function () {
    const { page, dropzone, errors } = await openExample();
    try {
      const chooser = page.waitForEvent('filechooser');
      await page.getByRole('button', { name: 'Choose photos' }).click();
      await (await chooser).setFiles({ name: 'sunset.jpg', mimeType: 'image/jpeg', buffer: photo });
      const item = dropzone.locator('.directdrop-dropzone__item', { hasText: 'sunset.jpg' });
      await item.and(page.locator('[data-state=processed]')).waitFor({ timeout: 60_000 });
      expect(await item.locator('.directdrop-dropzone__status').textContent()).to.equal('Ready.');
      expect(await item.getByRole('progressbar').getAttribute('value')).to.equal('100');
      const width = await item
        .getByRole('img', { name: 'Thumbnail of sunset.jpg' })
        .evaluate(async (img: HTMLImageElement) => {
          await img.decode();
          return img.naturalWidth;
        });
      expect(width).to.equal(320);
      expect(await dropzone.locator('[aria-live=polite]').textContent()).to.equal(
        'sunset.jpg: Ready.',
      );
      expect(await page.locator('#gallery-count').textContent(), 'onOutcome').to.equal(
        '1 processed',
      );
      expect(errors).to.deep.equal([]);
    } finally {
      await page.close();
    }
  });

  it('refuses a text file and a file over the server’s limit before any upload, and says why', async function () {
    const { page, dropzone, requests } = await openExample();
    try {
      await page.getByLabel('Choose photos').setInputFiles([
        { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a photo') },
        { name: 'huge.jpg', mimeType: 'image/jpeg', buffer: Buffer.alloc(5 * 1024 * 1024) },
      ]);
      const refused = dropzone.locator('.directdrop-dropzone__item[data-state=refused]');
      await refused.nth(1).waitFor({ timeout: 10_000 });
      expect(await refused.locator('.directdrop-dropzone__status').allTextContents()).to.deep.equal(
        [
          'Not uploaded: notes.txt is not a JPEG, PNG, WebP, AVIF, GIF, TIFF, HEIC or HEIF file.',
          'Not uploaded: huge.jpg is 5.0 MiB; the limit is 4.0 MiB.',
        ],
      );
      expect(await dropzone.getByRole('alert').locator('p').allTextContents()).to.deep.equal([
        'notes.txt: Not uploaded: notes.txt is not a JPEG, PNG, WebP, AVIF, GIF, TIFF, HEIC or HEIF file.',
        'huge.jpg: Not uploaded: huge.jpg is 5.0 MiB; the limit is 4.0 MiB.',
      ]);
      expect(await refused.getByRole('button', { name: /Cancel/ }).count()).to.equal(0);
      // Checked against the limits the page already read: no upload URL, no PUT.
      expect(
        requests.filter((r) => r.url.includes('/api/uploads') || r.method === 'PUT'),
      ).to.deep.equal([]);
    } finally {
      await page.close();
    }
  });

  it('cancels an upload mid-PUT: the request is aborted and nothing lands', async function () {
    const { page, dropzone, requests, failedPuts } = await openExample();
    try {
      await throttleUploads(page, THROTTLED_BYTES_PER_SECOND);
      await page.getByLabel('Choose photos').setInputFiles({
        name: 'cancelled.jpg',
        mimeType: 'image/jpeg',
        buffer: photo,
      });
      const item = dropzone.locator('.directdrop-dropzone__item', { hasText: 'cancelled.jpg' });
      const progress = item.getByRole('progressbar');
      await page.waitForFunction(
        (bar) => bar !== null && (bar as HTMLProgressElement).value > 0,
        await progress.elementHandle(),
        { timeout: 30_000 },
      );
      const sentBeforeCancel = Number(await progress.getAttribute('value'));
      expect(sentBeforeCancel, 'the PUT is under way, not done').to.be.below(100);
      await item.getByRole('button', { name: 'Cancel upload of cancelled.jpg' }).click();
      await item.and(page.locator('[data-state=cancelled]')).waitFor({ timeout: 10_000 });
      expect(await item.locator('.directdrop-dropzone__status').textContent()).to.equal(
        'Cancelled.',
      );
      const puts = requests.filter((r) => r.method === 'PUT');
      expect(puts).to.have.length(1);
      expect(failedPuts, 'the browser aborted the PUT').to.deep.equal([puts[0].url]);
      await new Promise((settle) => setTimeout(settle, 1_000));
      expect(await landedNamed(local, 'cancelled.jpg')).to.deep.equal([]);
    } finally {
      await page.close();
    }
  });

  it('sends at most `concurrency` (3) at once: the others wait, a queued one cancels without a request', async function () {
    const { page, dropzone, requests } = await openExample();
    try {
      await throttleUploads(page, THROTTLED_BYTES_PER_SECOND);
      const names = ['one.jpg', 'two.jpg', 'three.jpg', 'four.jpg', 'five.jpg'];
      await page
        .getByLabel('Choose photos')
        .setInputFiles(names.map((name) => ({ name, mimeType: 'image/jpeg', buffer: photo })));
      const item = (name: string) =>
        dropzone.locator('.directdrop-dropzone__item', { hasText: name });
      const puts = () => requests.filter((r) => r.method === 'PUT');
      await until(() => puts().length === 3);
      expect(await item('four.jpg').getAttribute('data-state')).to.equal('queued');
      expect(await item('five.jpg').locator('.directdrop-dropzone__status').textContent()).to.equal(
        'Waiting…',
      );
      expect(puts()).to.have.length(3);

      await item('five.jpg').getByRole('button', { name: 'Cancel upload of five.jpg' }).click();
      await item('five.jpg').and(page.locator('[data-state=cancelled]')).waitFor();
      // A running one cancelled frees its slot for the next in line.
      await item('one.jpg').getByRole('button', { name: 'Cancel upload of one.jpg' }).click();
      await until(() => puts().length === 4);
      expect(await item('four.jpg').getAttribute('data-state')).to.equal('uploading');
      for (const name of ['two.jpg', 'three.jpg', 'four.jpg']) {
        await item(name)
          .getByRole('button', { name: `Cancel upload of ${name}` })
          .click();
      }
      await dropzone.locator('[data-state=cancelled]').nth(4).waitFor({ timeout: 10_000 });
      const posts = requests.filter((r) => r.method === 'POST' && r.url.endsWith('/api/uploads'));
      expect(posts, 'five.jpg never asked for an upload URL').to.have.length(4);
      expect(puts()).to.have.length(4);
    } finally {
      await page.close();
    }
  });

  it('uploads a photo dropped on the zone', async function () {
    const { page, dropzone } = await openExample();
    try {
      const dataTransfer = await page.evaluateHandle(async (base64) => {
        const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], 'dropped.jpg', { type: 'image/jpeg' }));
        return transfer;
      }, photo.toString('base64'));
      await dropzone.dispatchEvent('dragover', { dataTransfer });
      expect(await page.locator('.directdrop-dropzone--dragging').count()).to.equal(1);
      await dropzone.dispatchEvent('drop', { dataTransfer });
      expect(await page.locator('.directdrop-dropzone--dragging').count()).to.equal(0);
      const item = dropzone.locator('.directdrop-dropzone__item', { hasText: 'dropped.jpg' });
      await item.and(page.locator('[data-state=processed]')).waitFor({ timeout: 60_000 });
      expect(await item.getByRole('img', { name: 'Thumbnail of dropped.jpg' }).count()).to.equal(1);
    } finally {
      await page.close();
    }
  });

  it('useUpload: walks the stages to processed, and cancels mid-PUT', async function () {
    const { page } = await openExample();
    try {
      const profile = page.locator('#profile');
      // Every stage the hook reports, as the page renders it.
      await page.evaluate(() => {
        const seen: string[] = [];
        (window as unknown as { stages: string[] }).stages = seen;
        const status = document.querySelector('#profile [role=status]')!;
        new MutationObserver(() => {
          const stage = status.getAttribute('data-stage') ?? '';
          if (stage && seen.at(-1) !== stage) seen.push(stage);
        }).observe(status, { attributes: true, attributeFilter: ['data-stage'] });
      });
      const input = page.getByLabel('Choose a profile photo');
      await input.setInputFiles({ name: 'me.jpg', mimeType: 'image/jpeg', buffer: photo });
      await profile.and(page.locator('[data-state=processed]')).waitFor({ timeout: 60_000 });
      expect(await profile.getByRole('status').textContent()).to.equal('Ready.');
      expect(await profile.getByRole('img', { name: 'Your profile photo' }).count()).to.equal(1);
      const stages = await page.evaluate(() => (window as unknown as { stages: string[] }).stages);
      // In order, never back. React may fold quick ones into one render, and which of the
      // server's stages a poll happens to see depends on how fast the scan and processing
      // are; the PUT always shows, and so does at least one stage after it.
      const order = ['validating', 'requesting', 'uploading', 'uploaded', 'scanning', 'processing'];
      const positions = stages.map((stage) => order.indexOf(stage));
      expect(positions, stages.join(' → ')).to.deep.equal([...positions].sort((a, b) => a - b));
      expect(positions, stages.join(' → ')).to.not.include(-1);
      expect(stages, stages.join(' → ')).to.include('uploading');
      expect(positions.at(-1), stages.join(' → ')).to.be.above(order.indexOf('uploading'));

      await throttleUploads(page, THROTTLED_BYTES_PER_SECOND);
      await input.setInputFiles({ name: 'me-too.jpg', mimeType: 'image/jpeg', buffer: photo });
      const bar = profile.getByRole('progressbar', { name: 'Profile photo upload progress' });
      await page.waitForFunction(
        (element) => element !== null && (element as HTMLProgressElement).value > 0,
        await bar.elementHandle(),
        { timeout: 30_000 },
      );
      await profile.getByRole('button', { name: 'Cancel' }).click();
      await profile.and(page.locator('[data-state=cancelled]')).waitFor({ timeout: 10_000 });
      expect(await profile.getByRole('status').textContent()).to.equal('Cancelled.');
      await new Promise((settle) => setTimeout(settle, 1_000));
      expect(await landedNamed(local, 'me-too.jpg')).to.deep.equal([]);
    } finally {
      await page.close();
    }
  });
});
