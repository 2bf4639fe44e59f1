/**
 * `@directdrop/receiver` as users get it: `npm pack` of the workspace, installed from the
 * tarball into a scratch ESM project with nothing else, then both entries imported by plain
 * Node: a node:http server behind the Express adapter, answering a handshake and a delivery.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { processedEvent } from '../helpers/outcome-events';

const REPO_ROOT = resolve(__dirname, '../..');
const exec = promisify(execFile);

describe('@directdrop/receiver package (npm pack, installed from the tarball)', function () {
  this.timeout(120_000);
  let scratch: string;
  let app: string;
  let packed: { filename: string; files: { path: string }[] };

  before(async function () {
    scratch = await mkdtemp(join(tmpdir(), 'directdrop-receiver-package-'));
    app = join(scratch, 'app');
    const pack = await exec(
      'npm',
      ['pack', '--workspace', '@directdrop/receiver', '--pack-destination', scratch, '--json'],
      { cwd: REPO_ROOT },
    );
    [packed] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[')));
    await mkdir(app);
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    await exec(
      'npm',
      ['install', '--offline', '--no-audit', '--no-fund', join(scratch, packed.filename)],
      {
        cwd: app,
      },
    );
  });
  after(async function () {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('ships compiled JavaScript, declarations and a README, and depends on nothing', async function () {
    const paths = packed.files.map((f) => f.path);
    expect(paths).to.include.members([
      'package.json',
      'README.md',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/express.js',
    ]);
    const unexpected = paths.filter(
      (p) => !['package.json', 'README.md'].includes(p) && !/^dist\/[\w-]+\.(js|d\.ts)$/.test(p),
    );
    expect(unexpected).to.deep.equal([]);
    expect(await readdir(join(app, 'node_modules'))).to.deep.equal([
      '.package-lock.json',
      '@directdrop',
    ]);
  });

  it('runs from plain Node: the handshake, a refusal and a delivery through the Express adapter', async function () {
    const event = processedEvent();
    await writeFile(
      join(app, 'check.mjs'),
      `import { createServer } from 'node:http';
import { createReceiver } from '@directdrop/receiver';
import { receiverMiddleware } from '@directdrop/receiver/express';

const secret = 'package-check-secret-0123456789';
const received = [];
const server = createServer(receiverMiddleware(createReceiver({ secret }), (events) => { received.push(...events); }));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = 'http://127.0.0.1:' + server.address().port + '/events';
const handshake = await fetch(url, { method: 'OPTIONS', headers: { 'webhook-request-origin': 'eventgrid.azure.net' } });
const body = ${JSON.stringify(JSON.stringify(event))};
const headers = { 'content-type': 'application/cloudevents+json; charset=utf-8' };
const refused = await fetch(url, { method: 'POST', headers, body });
const delivered = await fetch(url, { method: 'POST', headers: { ...headers, 'x-directdrop-webhook-secret': secret }, body });
server.close();
console.log(JSON.stringify({
  handshake: [handshake.status, handshake.headers.get('webhook-allowed-origin')],
  refused: [refused.status, (await refused.json()).error.code],
  delivered: delivered.status,
  received: received.map((e) => e.id),
}));
`,
    );
    const { stdout } = await exec(process.execPath, ['check.mjs'], { cwd: app });
    expect(JSON.parse(stdout)).to.deep.equal({
      handshake: [200, 'eventgrid.azure.net'],
      refused: [401, 'unauthorized'],
      delivered: 204,
      received: [event.id],
    });
  });
});
