/**
 * `directdrop upload` as a child process against real local mode: real processing,
 * real rejections, printed URLs that serve the variants, exit codes.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { freePort } from '../../local/azurite-sandbox';
import { pngImage, sidewaysPhotoWithGps, textPretendingToBeJpeg } from '../helpers/images';
import { type LocalMode, startLocalMode } from './client-local-mode';

const BIN = resolve(__dirname, '../../client/src/bin.ts');

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', BIN, 'upload', ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('directdrop CLI against local mode', function () {
  this.timeout(90_000);
  let local: LocalMode;
  let dir: string;
  const file = (name: string) => join(dir, name);

  before(async function () {
    [local, dir] = await Promise.all([
      startLocalMode(),
      mkdtemp(join(tmpdir(), 'directdrop-cli-')),
    ]);
    await writeFile(file('photo.jpg'), await sidewaysPhotoWithGps(2400, 1600));
    await writeFile(file('logo.png'), await pngImage(500, 300));
    await writeFile(file('letter.jpg'), textPretendingToBeJpeg);
  });
  after(async function () {
    await local?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed' && local) console.log(local.output());
  });

  it('uploads photos, prints working variant URLs and exits 0', async function () {
    const started = Date.now();
    const { code, stdout, stderr } = await runCli([
      file('photo.jpg'),
      file('logo.png'),
      '--api',
      local.apiBaseUrl,
    ]);
    console.log(`      2 files end to end in ${Date.now() - started} ms (process start included)`);
    expect(code, stderr).to.equal(0);
    expect(stdout)
      .to.match(/✔ .*photo\.jpg: processed/)
      .and.match(/✔ .*logo\.png: processed/);
    const urls = stdout.match(/http:\/\/127\.0\.0\.1:\d+\/\S+/g) ?? [];
    expect(urls).to.have.length(4);
    const display = await fetch(urls[1]);
    expect(display.status).to.equal(200);
    expect(await sharp(Buffer.from(await display.arrayBuffer())).metadata()).to.include({
      format: 'webp',
      // Stored sideways with EXIF orientation 6, so upright it is portrait.
      width: 1600,
      height: 2400,
    });
  });

  it('exits 1 and names the reason when the server rejects a file; --json stays parseable', async function () {
    const { code, stdout } = await runCli([
      file('letter.jpg'),
      file('logo.png'),
      '--api',
      local.apiBaseUrl,
      '--json',
    ]);
    expect(code).to.equal(1);
    const report = JSON.parse(stdout);
    expect(report).to.include({ processed: 1, failed: 1 });
    expect(report.results[0]).to.include({ file: file('letter.jpg'), ok: false });
    expect(report.results[0].error).to.include({
      code: 'rejected',
      reason: 'not-an-image',
      message: 'The file is not a supported image.',
    });
    expect(report.results[1].outputs.map((o: { name: string }) => o.name)).to.deep.equal([
      'thumb',
      'display',
    ]);
  });

  it('exits 3 when local mode is not where --api points', async function () {
    const port = await freePort();
    const { code, stdout } = await runCli([
      file('photo.jpg'),
      '--api',
      `http://localhost:${port}/api`,
    ]);
    expect(code).to.equal(3);
    expect(stdout).to.contain('Could not reach the directdrop API');
  });
});
