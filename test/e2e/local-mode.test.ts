/**
 * The whole pipeline in local mode, started as docs/local-mode.md says (`npm start`, with
 * ports and data folder moved out of the way): upload URL, direct PUT with plain fetch,
 * the emulated Event Grid event, queue processing, status, outputs. Also a rejection,
 * a poisoned event, a second start, and a Ctrl-C restart in the middle of uploads.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { QueueServiceClient } from '@azure/storage-queue';
import { expect } from 'chai';
import sharp from 'sharp';
import { STORAGE_NAMES } from '../../functions/core/definitions';
import { SWEEP_SCHEDULE } from '../../functions/core/sweep';
import { DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME } from '../../local/azurite';
import { buildBlobCreatedEvent, encodeQueueMessage } from '../../local/event-grid-event';
import { type LocalModePorts, freeLocalModePorts } from '../../local/local-mode-process';
import { cornerHeic, withTransforms } from '../helpers/heic';
import { sidewaysPhotoWithGps, textPretendingToBeJpeg } from '../helpers/images';

const REPO_ROOT = resolve(__dirname, '../..');
const READY = /directdrop local mode is ready/;

interface LocalModeProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** `npm start -- <flags>` in its own process group, so SIGINT reaches it like a terminal's Ctrl-C. */
function npmStart(ports: LocalModePorts, dataDir: string): LocalModeProcess {
  const child = spawn(
    'npm',
    [
      'start',
      '--',
      ...['--port', String(ports.port), '--blob-port', String(ports.blobPort)],
      ...['--queue-port', String(ports.queuePort), '--table-port', String(ports.tablePort)],
      ...['--events-port', String(ports.eventsPort), '--data', dataDir],
    ],
    {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        // Poisoning takes two quick failures instead of five spaced 10 s apart.
        AzureFunctionsJobHost__extensions__queues__maxDequeueCount: '2',
        AzureFunctionsJobHost__extensions__queues__visibilityTimeout: '00:00:00',
        AzureFunctionsJobHost__extensions__queues__maxPollingInterval: '00:00:00.5',
      },
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, output: () => output, exited };
}

async function ready(local: LocalModeProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!READY.test(local.output())) {
    if (local.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`local mode did not become ready:\n${local.output()}`);
    }
    await sleep(50);
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Ctrl-C: SIGINT to the whole process group, as a terminal sends it. npm itself dies of the
 * signal at once, so wait until every process of the group has gone.
 */
async function interrupt(local: LocalModeProcess, timeoutMs = 20_000): Promise<void> {
  const pgid = local.child.pid as number;
  process.kill(-pgid, 'SIGINT');
  const deadline = Date.now() + timeoutMs;
  while (groupAlive(pgid)) {
    if (Date.now() > deadline) throw new Error(`local mode did not stop:\n${local.output()}`);
    await sleep(50);
  }
}

interface CreatedUpload {
  uploadId: string;
  uploadUrl: string;
  method: string;
  headers: Record<string, string>;
  statusUrl: string;
}

interface Status {
  status: string;
  original?: { width: number; height: number };
  outputs?: Array<{
    name: string;
    url: string;
    width: number;
    height: number;
    contentType: string;
  }>;
}

describe('local mode end to end (npm start)', function () {
  this.timeout(120_000);
  let ports: LocalModePorts;
  let dataDir: string;
  let local: LocalModeProcess;
  let api: string;
  /** The token the first start printed; the data folder's keys keep it valid across restarts. */
  let token: string;
  const signedIn = (as = token) => ({ authorization: `Bearer ${as}` });

  async function createUpload(fileName: string, contentType: string, size: number) {
    const response = await fetch(`${api}/uploads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signedIn() },
      body: JSON.stringify({ fileName, contentType, size }),
    });
    expect(response.status, await response.clone().text()).to.equal(201);
    return (await response.json()) as CreatedUpload;
  }

  async function put(upload: CreatedUpload, body: Buffer): Promise<void> {
    const response = await fetch(upload.uploadUrl, {
      method: upload.method,
      headers: upload.headers,
      body: new Uint8Array(body),
    });
    expect(response.status, await response.text()).to.equal(201);
  }

  async function upload(fileName: string, contentType: string, body: Buffer) {
    const created = await createUpload(fileName, contentType, body.length);
    await put(created, body);
    return created;
  }

  async function settled(statusUrl: string, timeoutMs = 30_000): Promise<Status> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const response = await fetch(statusUrl, { headers: signedIn() });
      const status = (await response.json()) as Status;
      if (response.status === 200 && status.status !== 'pending') return status;
      if (Date.now() > deadline) {
        throw new Error(`still ${JSON.stringify(status)} at ${statusUrl}\n${local.output()}`);
      }
      await sleep(200);
    }
  }

  before(async () => {
    ports = await freeLocalModePorts();
    dataDir = await mkdtemp(join(tmpdir(), 'directdrop-e2e-'));
    api = `http://localhost:${ports.port}/api`;
    local = npmStart(ports, dataDir);
    await ready(local);
    token = /TOKEN=(\S+)/.exec(local.output())?.[1] ?? '';
  });

  after(async () => {
    if (groupAlive(local.child.pid as number)) await interrupt(local);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('prints where everything runs and a curl walkthrough, without secrets', () => {
    const output = local.output();
    expect(output).to.contain(`POST   http://localhost:${ports.port}/api/uploads`);
    // Every trigger the host runs: routes, queues and timers (the sweep).
    expect(output).to.contain(`  queue  ${STORAGE_NAMES.eventsQueue}  → processUploadEvent`);
    expect(output).to.contain(`  timer  ${SWEEP_SCHEDULE} (NCRONTAB, UTC)  → sweep`);
    expect(output).to.contain(`http://127.0.0.1:${ports.blobPort}/${DEV_ACCOUNT_NAME}`);
    expect(output).to.match(/curl -sS -X POST .*\/api\/uploads/);
    expect(output).to.not.contain(DEV_ACCOUNT_KEY);
    expect(output).to.contain(`http://localhost:${ports.port}/dev-identity`);
    expect(token).to.match(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(output).to.contain(`http://localhost:${ports.port}/#token=${token}`);
  });

  it('asks for sign-in: no token is 401, the printed token is accepted', async () => {
    const body = JSON.stringify({ fileName: 'a.jpg', contentType: 'image/jpeg', size: 10 });
    const post = (headers: Record<string, string>) =>
      fetch(`${api}/uploads`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
    const anonymous = await post({});
    expect(anonymous.status).to.equal(401);
    expect(anonymous.headers.get('www-authenticate')).to.equal('Bearer realm="directdrop"');
    expect((await post(signedIn('e30.e30.AAAA'))).status).to.equal(401);
    expect((await post(signedIn())).status).to.equal(201);
  });

  it('dev-token signs other users, who cannot see each other’s uploads', async () => {
    const devToken = (sub: string) =>
      new Promise<string>((done, fail) => {
        const child = spawn(
          process.execPath,
          ['bin/directdrop.mjs', 'dev-token', '--sub', sub, '--data', dataDir],
          { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
        );
        let out = '';
        child.stdout.on('data', (chunk) => (out += chunk));
        child.once('exit', (code) =>
          code === 0 ? done(out.trim()) : fail(new Error(`exit ${code}`)),
        );
      });
    const [alice, bob] = await Promise.all([devToken('alice'), devToken('bob')]);
    const issued = await fetch(`${api}/uploads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signedIn(alice) },
      body: JSON.stringify({ fileName: 'a.jpg', contentType: 'image/jpeg', size: 10 }),
    });
    expect(issued.status).to.equal(201);
    const { statusUrl, uploadUrl, headers } = (await issued.json()) as CreatedUpload;
    await fetch(uploadUrl, { method: 'PUT', headers, body: 'not a jpg!' });
    const asAlice = await fetch(statusUrl, { headers: signedIn(alice) });
    expect(asAlice.status).to.equal(200);
    expect((await fetch(statusUrl, { headers: signedIn() })).status, 'dev-user').to.equal(404);
    const asBob = await fetch(statusUrl, { headers: signedIn(bob) });
    expect(asBob.status).to.equal(404);
    expect(await asBob.json()).to.deep.equal({
      error: { code: 'upload-not-found', message: 'No upload with this id was issued to you.' },
    });
  });

  it('processes a photo uploaded straight to storage, and serves every output', async () => {
    const photo = await sidewaysPhotoWithGps(1200, 800);
    const created = await upload('holiday photo.jpg', 'image/jpeg', photo);
    expect(created.statusUrl).to.equal(`${api}/uploads/${created.uploadId}`);

    const status = await settled(created.statusUrl);
    expect(status.status, JSON.stringify(status)).to.equal('processed');
    // EXIF orientation 6 turns the stored landscape into an upright portrait.
    expect(status.original).to.include({ width: 800, height: 1200 });
    expect(status.outputs).to.have.length.greaterThan(0);
    for (const output of status.outputs ?? []) {
      const response = await fetch(output.url);
      expect(response.status, output.name).to.equal(200);
      const bytes = Buffer.from(await response.arrayBuffer());
      const metadata = await sharp(bytes).metadata();
      expect(`image/${metadata.format}`).to.equal(output.contentType);
      expect({ width: metadata.width, height: metadata.height }).to.deep.equal({
        width: output.width,
        height: output.height,
      });
      expect(output.height).to.be.greaterThan(output.width);
      expect(metadata.exif, 'location and camera data are stripped').to.equal(undefined);
    }
  });

  it('processes an iPhone-style HEIC into upright sRGB variants', async () => {
    // The HEIC decode runs in a worker thread of the local host, as in Azure.
    const photo = withTransforms(await cornerHeic(320, 240), { anticlockwiseTurns: 1 });
    const created = await upload('IMG_0001.HEIC', 'image/heic', photo);
    const status = await settled(created.statusUrl);
    expect(status.status, JSON.stringify(status)).to.equal('processed');
    expect(status.original).to.include({ width: 240, height: 320 });
    for (const output of status.outputs ?? []) {
      const bytes = Buffer.from(await (await fetch(output.url)).arrayBuffer());
      const metadata = await sharp(bytes).metadata();
      expect([metadata.width, metadata.height, metadata.space]).to.deep.equal([240, 320, 'srgb']);
    }
  });

  it('rejects a text file dressed up as a JPEG', async () => {
    const created = await upload('not-a-photo.jpg', 'image/jpeg', textPretendingToBeJpeg);
    const status = await settled(created.statusUrl);
    expect(status.status, JSON.stringify(status)).to.equal('rejected');
  });

  it('records nothing for an event claiming a blob that never arrived, and does not poison it', async () => {
    // An upload URL is issued, but the blob never arrives: the event is a claim the worker
    // checks, finds false, and completes without an outcome (it used to retry, then `failed`).
    const created = await createUpload('ghost.jpg', 'image/jpeg', 1234);
    const blobUrl = created.uploadUrl.split('?')[0];
    const blobName = decodeURIComponent(new URL(blobUrl).pathname).split(
      `/${STORAGE_NAMES.landingContainer}/`,
    )[1];
    const event = buildBlobCreatedEvent({
      accountName: DEV_ACCOUNT_NAME,
      containerName: STORAGE_NAMES.landingContainer,
      blobName,
      url: blobUrl,
      api: 'PutBlob',
      eTag: '0x8DE00000000DEAD',
      contentType: 'image/jpeg',
      contentLength: 1234,
      blobType: 'BlockBlob',
      sequence: 1n,
      eventTime: new Date(),
    });
    const queues = QueueServiceClient.fromConnectionString(
      `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT_NAME};AccountKey=${DEV_ACCOUNT_KEY};` +
        `QueueEndpoint=http://127.0.0.1:${ports.queuePort}/${DEV_ACCOUNT_NAME};`,
    );
    await queues.getQueueClient(STORAGE_NAMES.eventsQueue).sendMessage(encodeQueueMessage(event));

    const checked = new RegExp(
      `${created.uploadId}: the blob version of event \\S+ is gone; nothing recorded`,
    );
    for (const deadline = Date.now() + 30_000; !checked.test(local.output()); await sleep(200))
      if (Date.now() > deadline) throw new Error(`the event was not checked\n${local.output()}`);
    const status = await fetch(created.statusUrl, { headers: signedIn() });
    // Issued, with nothing received: still waiting for its upload.
    expect(await status.json()).to.include({ status: 'pending', stage: 'awaiting-upload' });
    expect(local.output()).not.to.contain('Moving message');
  });

  it('refuses a second start on the same data folder with a clear message', async () => {
    const second = npmStart(ports, dataDir);
    const code = await second.exited;
    expect(code).to.not.equal(0);
    expect(second.output()).to.match(/already running \(pid \d+\)/);
    expect(second.output()).to.not.match(/EADDRINUSE/);
    // The first one is unaffected.
    const probe = await fetch(`${api}/uploads/00000000-0000-4000-8000-000000000000`, {
      headers: signedIn(),
    });
    expect(probe.status).to.equal(404);
  });

  it('loses no upload when stopped with Ctrl-C mid-stream and started again', async () => {
    const photos = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((i) => sidewaysPhotoWithGps(900 + i * 10, 600)),
    );
    const created = await Promise.all(
      photos.map((photo, i) => createUpload(`burst-${i}.jpg`, 'image/jpeg', photo.length)),
    );
    // Half land before the stop, in flight to the emulator and the queue when Ctrl-C comes.
    await Promise.all(created.slice(0, 3).map((c, i) => put(c, photos[i])));
    await interrupt(local);
    expect(local.output()).to.contain('Local mode stopped.');
    expect(existsSync(join(dataDir, 'local-mode.lock')), 'lock released').to.equal(false);

    local = npmStart(ports, dataDir);
    await ready(local);
    // The rest arrive after the restart, through the URLs issued before it.
    await Promise.all(created.slice(3).map((c, i) => put(c, photos[3 + i])));
    const statuses = await Promise.all(created.map((c) => settled(c.statusUrl)));
    expect(statuses.map((s) => s.status)).to.deep.equal(Array(6).fill('processed'));
  });
});

describe('local mode with --func on a machine without Core Tools', () => {
  it('says func is missing and how to install it, before starting anything', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'directdrop-e2e-func-'));
    try {
      // No PATH at all: whatever is installed here, `func` cannot be found.
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'local/start.ts', '--func', '--data', dataDir],
        { cwd: REPO_ROOT, env: { ...process.env, PATH: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
      const code = await new Promise((done) => child.once('exit', done));
      expect(code).to.equal(1);
      expect(output).to.contain('Azure Functions Core Tools (`func`) was not found');
      expect(output).to.contain('npm install -g azure-functions-core-tools@4');
      expect(existsSync(join(dataDir, 'azurite')), 'Azurite was not started').to.equal(false);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
