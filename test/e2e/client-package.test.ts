/**
 * `@directdrop/client` as users get it: `npm pack` of the workspace, installed from the
 * tarball into a scratch project, its compiled CLI and an import run against real local
 * mode, its types checked by a consumer, and its browser entry bundled by esbuild.
 */
import { expect } from 'chai';
import { type SpawnOptions, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { uploadLimits } from '../../functions/core/limits';
import { DEFAULT_SETTINGS } from '../../functions/core/settings';
import { buildWebClient } from '../../client/web/build';
import { sidewaysPhotoWithGps } from '../helpers/images';
import { type LocalMode, startLocalMode } from '../integration/client-local-mode';

const REPO_ROOT = resolve(__dirname, '../..');
/** The budget for `import { upload }` in a browser bundle, gzipped. */
const BROWSER_BUNDLE_MAX_GZIP_BYTES = 20 * 1024;
/** "A few MB" of dependencies, all of them. */
const INSTALLED_MAX_BYTES = 5 * 1024 * 1024;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function run(command: string, args: string[], options: SpawnOptions = {}): Promise<Run> {
  return new Promise((done, fail) => {
    const started = performance.now();
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk) => (stdout += chunk));
    child.stderr?.on('data', (chunk) => (stderr += chunk));
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr, ms: performance.now() - started }));
  });
}

async function folderBytes(path: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(path, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

describe('@directdrop/client package (npm pack, installed from the tarball)', function () {
  this.timeout(180_000);
  let scratch: string;
  let app: string;
  let local: LocalMode;
  let packed: { filename: string; size: number; unpackedSize: number; files: { path: string }[] };
  /** Sizes in bytes, as the tests measure them, for docs/clients.md's Measured section. */
  const measured: Record<string, number> = {};
  const npm = (args: string[], cwd: string) =>
    run('npm', [...args, '--no-audit', '--no-fund'], { cwd, env: { ...process.env } });

  before(async function () {
    scratch = await mkdtemp(join(tmpdir(), 'directdrop-package-'));
    app = join(scratch, 'app');
    const [pack, started] = await Promise.all([
      npm(
        ['pack', '--workspace', '@directdrop/client', '--pack-destination', scratch, '--json'],
        REPO_ROOT,
      ),
      startLocalMode(),
    ]);
    local = started;
    expect(pack.code, pack.stderr).to.equal(0);
    [packed] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[')));
    await mkdir(app);
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    const install = await npm(['install', '--prefer-offline', join(scratch, packed.filename)], app);
    expect(install.code, install.stderr).to.equal(0);
  });
  after(async function () {
    await local?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('ships compiled JavaScript, declarations and a README, nothing else', function () {
    const paths = packed.files.map((f) => f.path);
    expect(paths).to.include.members([
      'package.json',
      'README.md',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/node.js',
      'dist/sdk.js',
      'dist/bin.js',
    ]);
    const unexpected = paths.filter(
      (p) => !['package.json', 'README.md'].includes(p) && !/^dist\/[\w-]+\.(js|d\.ts)$/.test(p),
    );
    expect(unexpected).to.deep.equal([]);
  });

  it('installs with a few hundred KB of dependencies, none of them the storage SDK or tsx', async function () {
    const modules = join(app, 'node_modules');
    const bytes = await folderBytes(modules);
    console.log(`      installed: ${(bytes / 1024).toFixed(0)} KiB in node_modules`);
    measured.installed = bytes;
    expect(bytes).to.be.below(INSTALLED_MAX_BYTES);
    const names = await readdir(modules);
    expect(names).to.not.include.members(['@azure', 'tsx', 'typescript', 'sharp', '@pulumi']);
  });

  it('runs the compiled CLI: --help, limits and an upload against local mode', async function () {
    const bin = join(app, 'node_modules', '.bin', 'directdrop');
    const help = await run(bin, ['--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.contain('upload [options] <files...>').and.contain('limits');
    console.log(`      directdrop --help: ${help.ms.toFixed(0)} ms (node start-up included)`);

    const limits = await run(bin, ['limits', '--api', local.apiBaseUrl, '--json']);
    expect(limits.code, limits.stderr).to.equal(0);
    expect(JSON.parse(limits.stdout)).to.deep.equal(uploadLimits(DEFAULT_SETTINGS));

    const photo = join(scratch, 'photo.jpg');
    await writeFile(photo, await sidewaysPhotoWithGps(1200, 800));
    const upload = await run(bin, ['upload', photo, '--api', local.apiBaseUrl, '--json']);
    expect(upload.code, upload.stderr).to.equal(0);
    const report = JSON.parse(upload.stdout) as {
      processed: number;
      results: { outputs: unknown[] }[];
    };
    expect(report.processed).to.equal(1);
    expect(report.results[0].outputs).to.have.length(2);
  });

  it('imports in Node (the node entry) and uploads several files with per-file outcomes', async function () {
    const script = join(app, 'upload.mjs');
    await writeFile(join(scratch, 'a.jpg'), await sidewaysPhotoWithGps(600, 400));
    await writeFile(join(scratch, 'b.txt'), 'not an image');
    await writeFile(
      script,
      `import { uploadFiles, startUpload, getLimits } from '@directdrop/client';
const apiBaseUrl = process.argv[2];
const limits = await getLimits({ apiBaseUrl });
const outcomes = await uploadFiles(process.argv.slice(3), { apiBaseUrl, concurrency: 2 });
const bytes = new Uint8Array(await (await import('node:fs/promises')).readFile(process.argv[3]));
const task = startUpload(bytes, { apiBaseUrl, fileName: 'task.jpg' });
let events = 0;
task.onProgress(() => events++);
const result = await task;
console.log(JSON.stringify({
  maxBytes: limits.maxBytes,
  outcomes: outcomes.map((o) => (o.ok ? o.result.status : o.error.code)),
  task: { state: task.state, status: result.status, events: events > 0 },
}));`,
    );
    const out = await run(process.execPath, [
      script,
      local.apiBaseUrl,
      join(scratch, 'a.jpg'),
      join(scratch, 'b.txt'),
    ]);
    expect(out.code, out.stderr).to.equal(0);
    expect(JSON.parse(out.stdout)).to.deep.equal({
      maxBytes: DEFAULT_SETTINGS.maxUploadBytes,
      outcomes: ['processed', 'content-type-not-allowed'],
      task: { state: 'processed', status: 'processed', events: true },
    });
  });

  it('type-checks a TypeScript consumer against the shipped declarations', async function () {
    await writeFile(
      join(app, 'consumer.ts'),
      `import { type UploadTask, DirectdropError, startUpload, uploadFile } from '@directdrop/client';
declare const file: Blob;
const task: UploadTask = startUpload(file, { apiBaseUrl: '/api' });
task.onProgress((p) => console.log(p.percent.toFixed(0), p.stage));
task.result.catch((e: unknown) => e instanceof DirectdropError && e.retryable);
void uploadFile('a.jpg', { apiBaseUrl: 'http://localhost:7071/api', token: async () => 'jwt' });
export function when(e: DirectdropError): string | undefined {
  // A union, not string: a misspelt code does not compile.
  return e.code === 'quota-exceeded' ? e.resetsAt : undefined;
}
`,
    );
    // moduleResolution bundler applies no `node` condition: the Node entry is imported by name.
    await writeFile(
      join(app, 'bundler.ts'),
      `import { uploadFile, listUploads } from '@directdrop/client/node';
void uploadFile('a.jpg', { apiBaseUrl: '/api', metadata: { postId: '42' } });
void listUploads({ apiBaseUrl: '/api' }).byPage({ limit: 10 });
`,
    );
    const bundler = await run(
      process.execPath,
      [
        join(REPO_ROOT, 'node_modules/typescript/bin/tsc'),
        '--noEmit',
        '--strict',
        '--module',
        'esnext',
        '--moduleResolution',
        'bundler',
        '--lib',
        'es2023,dom',
        '--typeRoots',
        join(REPO_ROOT, 'node_modules/@types'),
        '--types',
        'node',
        'bundler.ts',
      ],
      { cwd: app },
    );
    expect(bundler.code, bundler.stdout + bundler.stderr).to.equal(0);
    const tsc = await run(
      process.execPath,
      [
        join(REPO_ROOT, 'node_modules/typescript/bin/tsc'),
        '--noEmit',
        '--strict',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--lib',
        'es2023,dom',
        '--typeRoots',
        join(REPO_ROOT, 'node_modules/@types'),
        '--types',
        'node',
        'consumer.ts',
      ],
      { cwd: app },
    );
    expect(tsc.code, tsc.stdout + tsc.stderr).to.equal(0);
  });

  it(`bundles \`import { upload }\` for browsers in at most ${BROWSER_BUNDLE_MAX_GZIP_BYTES / 1024} KB gzipped, without the storage SDK`, async function () {
    const result = await build({
      stdin: {
        contents:
          "import { upload } from '@directdrop/client'; globalThis.directdropUpload = upload;",
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
      logLevel: 'silent',
    });
    const code = result.outputFiles[0].contents;
    const gzipped = gzipSync(code).length;
    console.log(`      browser bundle: ${code.length} B minified, ${gzipped} B gzipped`);
    measured['upload-min'] = code.length;
    measured['upload-gzip'] = gzipped;
    expect(gzipped).to.be.at.most(BROWSER_BUNDLE_MAX_GZIP_BYTES);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((p) => /@azure|node-transport|sdk\.js/.test(p))).to.deep.equal([]);
  });

  it('states the sizes it has in docs/clients.md, each within 5 %', async function () {
    const { bytes, outfile } = await buildWebClient();
    Object.assign(measured, {
      packed: packed.size,
      unpacked: packed.unpackedSize,
      'page-min': bytes,
      'page-gzip': gzipSync(await readFile(outfile)).length,
    });
    const doc = await readFile(join(REPO_ROOT, 'docs/clients.md'), 'utf8');
    const stated = Object.fromEntries(
      [...doc.matchAll(/<!-- size:([\w-]+) -->([\d.]+) KB<!-- \/size -->/g)].map((m) => [
        m[1],
        Number(m[2]) * 1000,
      ]),
    );
    const actual = Object.fromEntries(
      Object.entries(measured).map(([name, b]) => [name, `${(b / 1000).toFixed(1)} KB`]),
    );
    console.log(`      measured: ${JSON.stringify(actual)}`);
    expect(Object.keys(stated).sort()).to.deep.equal(Object.keys(measured).sort());
    for (const [name, value] of Object.entries(stated)) {
      expect(
        Math.abs(value - measured[name]) / measured[name],
        `${name}: the doc says ${value / 1000} KB, measured ${actual[name]}`,
      ).to.be.at.most(0.05);
    }
  });
});
