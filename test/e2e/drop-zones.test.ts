/**
 * Drop zones in local mode: the operator mints a create-only container SAS with
 * `npx directdrop dropzone-url`, a device PUTs blobs under names of its choosing, the
 * emulator raises their events and scans them, the worker processes them like any upload
 * once clean, and `npx directdrop dropzone status` lists each outcome by blob name.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import {
  type LocalModePorts,
  type LocalModeProcess,
  freeLocalModePorts,
  startLocalModeProcess,
} from '../../local/local-mode-process';
import { EICAR_TEST_STRING } from '../../local/malware-scanner';
import { localOperatorStorage } from '../../local/drop-zone-admin';
import { sidewaysPhotoWithGps } from '../helpers/images';
import { blobsNamed } from '../helpers/uploads';

const REPO_ROOT = resolve(__dirname, '../..');
const ZONES = JSON.stringify([{ name: 'cameras', retentionDays: 2, maxSasHours: 48 }]);

function directdrop(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn(process.execPath, ['bin/directdrop.mjs', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('exit', (code) => done({ code, stdout, stderr }));
  });
}

describe('drop zones in local mode', function () {
  this.timeout(120_000);
  let ports: LocalModePorts;
  let dataDir: string;
  let local: LocalModeProcess;
  let zoneUrl: URL;
  const cli = (args: string[]) =>
    directdrop([...args, '--blob-port', String(ports.blobPort)], {
      DIRECTDROP_DROP_ZONES: ZONES,
    });
  const inZone = (name: string) => {
    const url = new URL(zoneUrl);
    url.pathname += `/${name}`;
    return url;
  };
  const drop = (name: string, body: BodyInit) =>
    fetch(inZone(name), {
      method: 'PUT',
      headers: { 'x-ms-blob-type': 'BlockBlob', 'content-type': 'image/jpeg' },
      body,
    });

  before(async () => {
    ports = await freeLocalModePorts();
    dataDir = await mkdtemp(join(tmpdir(), 'directdrop-zones-'));
    local = startLocalModeProcess({
      role: 'all',
      ports,
      dataDir,
      // Local mode's default: the malware scan gate on, zone blobs included.
      env: { DIRECTDROP_DROP_ZONES: ZONES },
    });
    await local.ready();
    const minted = await cli(['dropzone-url', 'cameras', '--hours', '24']);
    expect(minted.code, minted.stderr).to.equal(0);
    zoneUrl = new URL(minted.stdout.trim());
  });
  after(async () => {
    await local?.signal('SIGINT');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('mints a create-only SAS for the zone container, within its maximum lifetime', async () => {
    expect(zoneUrl.pathname).to.match(/\/dropzone-cameras$/);
    expect(zoneUrl.searchParams.get('sp')).to.equal('c');
    expect(zoneUrl.searchParams.get('sr')).to.equal('c');
    const ttl = Date.parse(zoneUrl.searchParams.get('se') as string) - Date.now();
    expect(ttl).to.be.within(23.9 * 3600_000, 24 * 3600_000);
    const tooLong = await cli(['dropzone-url', 'cameras', '--hours', '49']);
    expect(tooLong.code).to.equal(2);
    expect(tooLong.stderr).to.contain('limit of 48 hours');
    const unknown = await cli(['dropzone-url', 'doorbells']);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.contain('No drop zone "doorbells"');
  });

  const status = (extra: string[] = []) =>
    cli([
      'dropzone',
      'status',
      'cameras',
      '--table-port',
      String(ports.tablePort),
      '--data',
      dataDir,
      ...extra,
    ]);

  /** `dropzone status` until every named blob has an outcome, sorted by blob name. */
  async function outcomes(names: string[]) {
    const deadline = Date.now() + 60_000;
    let statuses: Array<{ blobName: string; status: string; reason?: string }> = [];
    while (Date.now() < deadline) {
      const listed = await status(['--json']);
      expect(listed.code, listed.stderr).to.equal(0);
      statuses = JSON.parse(listed.stdout);
      if (names.every((name) => statuses.some((s) => s.blobName === name))) break;
      await sleep(500);
    }
    return statuses
      .filter((s) => names.includes(s.blobName))
      .map(({ blobName, status, reason }) => ({ blobName, status, reason }))
      .sort((a, b) => a.blobName.localeCompare(b.blobName));
  }

  it('scans, then processes dropped photos, rejects junk and malware, listing each by blob name', async () => {
    const photo = await sidewaysPhotoWithGps(640, 480);
    const eicar = Buffer.concat([
      Buffer.from([0xff, 0xd8]),
      Buffer.from(EICAR_TEST_STRING, 'latin1'),
    ]);
    expect((await drop('cam-1/2026-12-01T10-00.jpg', new Uint8Array(photo))).status).to.equal(201);
    expect((await drop('cam-1/notes.jpg', 'not an image')).status).to.equal(201);
    expect((await drop('cam-1/eicar.jpg', new Uint8Array(eicar))).status).to.equal(201);

    expect(
      await outcomes(['cam-1/2026-12-01T10-00.jpg', 'cam-1/notes.jpg', 'cam-1/eicar.jpg']),
    ).to.deep.equal([
      { blobName: 'cam-1/2026-12-01T10-00.jpg', status: 'processed', reason: undefined },
      { blobName: 'cam-1/eicar.jpg', status: 'rejected', reason: 'malware' },
      { blobName: 'cam-1/notes.jpg', status: 'rejected', reason: 'not-an-image' },
    ]);
    const table = await status();
    expect(table.stdout).to.match(/^cam-1\/2026-12-01T10-00\.jpg\tprocessed\t\t\S+$/m);
    // Each name is used up: the zone URL cannot write it again.
    expect((await drop('cam-1/2026-12-01T10-00.jpg', new Uint8Array(photo))).status).to.be.oneOf([
      403, 409,
    ]);
  });

  it('processes a pending blob another device snapshotted, and leaves no snapshot', async () => {
    const photo = await sidewaysPhotoWithGps(320, 240);
    expect((await drop('cam-2/a.jpg', new Uint8Array(photo))).status).to.equal(201);
    const snapshot = inZone('cam-2/a.jpg');
    snapshot.searchParams.set('comp', 'snapshot');
    expect((await fetch(snapshot, { method: 'PUT' })).status).to.equal(201);
    expect(await outcomes(['cam-2/a.jpg'])).to.deep.equal([
      { blobName: 'cam-2/a.jpg', status: 'processed', reason: undefined },
    ]);
    const zone = localOperatorStorage(ports.blobPort).service.getContainerClient(
      'dropzone-cameras',
    );
    expect(await blobsNamed(zone, 'cam-2/a.jpg')).to.deep.equal(['tombstone']);
  });

  it('the zone SAS may not read, list or overwrite', async () => {
    expect((await fetch(inZone('cam-1/notes.jpg'))).status).to.equal(403);
    const list = new URL(zoneUrl);
    list.searchParams.set('restype', 'container');
    list.searchParams.set('comp', 'list');
    expect((await fetch(list)).status).to.equal(403);
    expect((await drop('cam-1/notes.jpg', 'overwrite')).status).to.be.oneOf([403, 409]);
  });
});
