import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { unzipSync } from 'fflate';
import {
  FUNCTION_PACKAGE_FILE,
  type FunctionPackage,
  HEIC_WORKER_ENTRY,
  LINUX_LIBVIPS_DIR,
  LINUX_SHARP_DIR,
  UNUSED_LIBHEIF_FILES,
  buildFunctionPackage,
  bundleFunctions,
  describeFunctionPackage,
  stagingManifest,
  zipFolder,
} from '../../infra/function-package';
import { cornerHeic } from '../helpers/heic';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'directdrop-package-'));
}

function sampleFolder(): string {
  const folder = tempDir();
  mkdirSync(join(folder, 'dist'));
  mkdirSync(join(folder, 'node_modules'));
  writeFileSync(join(folder, 'host.json'), '{"version":"2.0"}');
  writeFileSync(join(folder, 'dist', 'index.js'), 'module.exports = 1;');
  writeFileSync(
    join(folder, 'node_modules', '.package-lock.json'),
    '{"resolved":"https://registry.example/"}',
  );
  return folder;
}

describe('infra function package', () => {
  describe('zipFolder', () => {
    it("stores every file under its forward-slash path, without npm's hidden lockfile", () => {
      const entries = unzipSync(zipFolder(sampleFolder()));
      expect(Object.keys(entries)).to.deep.equal(['dist/index.js', 'host.json']);
      expect(Buffer.from(entries['dist/index.js']).toString()).to.equal('module.exports = 1;');
    });

    it('is reproducible: the same content gives the same bytes, whatever the file times', () => {
      const folder = sampleFolder();
      const first = zipFolder(folder);
      utimesSync(join(folder, 'host.json'), new Date(2020, 5, 1), new Date(2020, 5, 1));
      expect(Buffer.compare(zipFolder(folder), first)).to.equal(0);
      expect(Buffer.compare(zipFolder(sampleFolder()), first)).to.equal(0);
      writeFileSync(join(folder, 'host.json'), '{"version":"2.0" }');
      expect(Buffer.compare(zipFolder(folder), first)).not.to.equal(0);
    });
  });

  it('describes a prebuilt package by its SHA-256', () => {
    const zip = join(tempDir(), 'functions.zip');
    writeFileSync(zip, 'package bytes');
    expect(describeFunctionPackage(zip)).to.deep.equal({
      zipPath: zip,
      sha256: createHash('sha256').update('package bytes').digest('hex'),
      bytes: 13,
    });
  });

  it('records the Node major the bundle targets in the package manifest', () => {
    expect(stagingManifest('.', '22')).to.deep.include({
      main: 'dist/index.js',
      engines: { node: '>=22' },
    });
  });

  it('bundles for the Node major the app runs: syntax an older target lacks is lowered', () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'entry.ts'),
      'export const pick = (xs: number[]) => xs.findLast((x) => x > 1) ?? 0;\n',
    );
    const bundle = (nodeVersion: string) => {
      const outdir = join(dir, `out-${nodeVersion}`);
      bundleFunctions({ repoRoot: dir, entryPoints: { index: 'entry.ts' }, outdir, nodeVersion });
      return readFileSync(join(outdir, 'index.js'), 'utf8');
    };
    expect(bundle('24')).to.contain('??');
    expect(bundle('10')).not.to.contain('??');
  });

  // Bundles the real functions and installs sharp for linux-x64 from the npm registry.
  describe('buildFunctionPackage (npm registry)', function () {
    this.timeout(180_000);
    const outDir = join(tempDir(), 'out');
    let built: FunctionPackage;
    let entries: Record<string, Uint8Array>;

    before(() => {
      built = buildFunctionPackage({ outDir });
      entries = unzipSync(readFileSync(built.zipPath));
    });

    it('writes the zip and reports its hash and size', () => {
      const bytes = readFileSync(built.zipPath);
      expect(built.zipPath).to.equal(join(outDir, FUNCTION_PACKAGE_FILE));
      expect(built.sha256).to.equal(createHash('sha256').update(bytes).digest('hex'));
      expect(built.bytes).to.equal(bytes.byteLength);
    });

    it('holds the bundle, host.json and a package.json pointing at the bundle', () => {
      const manifest = JSON.parse(Buffer.from(entries['package.json']).toString()) as Record<
        string,
        unknown
      >;
      expect(manifest.main).to.equal('dist/index.js');
      expect(manifest.engines).to.deep.equal({ node: '>=24' });
      expect(manifest.dependencies).to.have.keys(['sharp', 'libheif-js']);
      expect(Buffer.from(entries['host.json']).toString()).to.equal(
        readFileSync('host.json', 'utf8'),
      );
      const bundle = Buffer.from(entries['dist/index.js']).toString();
      expect(entries[`dist/${HEIC_WORKER_ENTRY}.js`], 'the HEIC decode worker').to.be.instanceOf(
        Uint8Array,
      );
      expect(entries['node_modules/libheif-js/libheif-wasm/libheif.wasm']).to.be.instanceOf(
        Uint8Array,
      );
      for (const unused of UNUSED_LIBHEIF_FILES) {
        const path = `node_modules/libheif-js/${unused}`;
        const left = Object.keys(entries).filter((n) => n === path || n.startsWith(`${path}/`));
        expect(left).to.deep.equal([]);
      }
      for (const functionName of [
        'createUpload',
        'getUploadStatus',
        'getLimits',
        'getOpenApiDocument',
        'processUploadEvent',
        'recordPoisonedEvent',
      ]) {
        expect(bundle).to.contain(functionName);
      }
      expect(Object.keys(entries).some((name) => name.startsWith('node_modules/@azure/'))).to.equal(
        false,
      );
    });

    it("holds sharp's linux-x64 (glibc) addon and libvips, and no other platform's", () => {
      const names = Object.keys(entries);
      expect(
        names.some((name) => name.startsWith(`${LINUX_SHARP_DIR}/`) && name.endsWith('.node')),
      ).to.equal(true);
      expect(
        names.some((name) => name.startsWith(`${LINUX_LIBVIPS_DIR}/`) && name.includes('.so')),
      ).to.equal(true);
      const platforms = new Set(
        names.map((name) => /^node_modules\/@img\/sharp-(?:libvips-)?([^/]+)\//.exec(name)?.[1]),
      );
      platforms.delete(undefined);
      expect([...platforms]).to.deep.equal(['linux-x64']);
    });

    it('rebuilds to the same hash when nothing changed', () => {
      expect(buildFunctionPackage({ outDir }).sha256).to.equal(built.sha256);
    });

    it('runs on Linux x64: the bundle registers its functions and sharp encodes an image', function () {
      if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
      const app = tempDir();
      for (const [name, bytes] of Object.entries(entries)) {
        mkdirSync(join(app, name, '..'), { recursive: true });
        writeFileSync(join(app, name), bytes);
      }
      const script = `
        require('./dist/index.js');
        require('sharp')({ create: { width: 4, height: 4, channels: 3, background: 'red' } })
          .webp().toBuffer().then((image) => console.log('encoded', image.length));`;
      const result = spawnSync(process.execPath, ['-e', script], {
        cwd: app,
        encoding: 'utf8',
        env: {
          ...process.env,
          DirectdropStorage__blobServiceUri: 'https://account.blob.core.windows.net',
          DirectdropStorage__tableServiceUri: 'https://account.table.core.windows.net',
          DirectdropStorage__queueServiceUri: 'https://account.queue.core.windows.net',
          DIRECTDROP_PUBLIC_BASE_URL: 'https://app.azurewebsites.net/api',
        },
      });
      expect(result.status, result.stderr).to.equal(0);
      expect(result.stderr).to.contain('"processUploadEvent"');
      expect(result.stdout).to.match(/^encoded \d+/m);
    });

    it('runs on Linux x64: the bundled worker decodes a HEIC with the packaged WebAssembly', async function () {
      if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
      const app = tempDir();
      for (const [name, bytes] of Object.entries(entries)) {
        mkdirSync(join(app, name, '..'), { recursive: true });
        writeFileSync(join(app, name), bytes);
      }
      const heic = join(app, 'photo.heic');
      writeFileSync(heic, await cornerHeic(96, 64));
      // As heic-decode.ts starts it: the worker file beside index.js, the bytes as workerData.
      const script = `
        const { Worker } = require('node:worker_threads');
        const input = require('node:fs').readFileSync(${JSON.stringify(heic)});
        new Worker('./dist/${HEIC_WORKER_ENTRY}.js', {
          workerData: { input, limits: { maxInputPixels: 1e6, maxDecodeBytes: 64e6 } },
        }).once('message', (r) =>
          console.log(r.ok ? \`decoded \${r.image.info.codec} \${r.image.info.width}x\${r.image.info.height} \${r.image.pixels.length}\` : r.message));`;
      const result = spawnSync(process.execPath, ['-e', script], { cwd: app, encoding: 'utf8' });
      expect(result.status, result.stderr).to.equal(0);
      expect(result.stdout.trim()).to.equal(`decoded hvc1 96x64 ${96 * 64 * 3}`);
    });
  });
});
