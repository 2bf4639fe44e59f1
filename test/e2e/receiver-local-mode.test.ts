/**
 * The whole loop in local mode (docs/events.md, "The whole loop locally"): local mode signs
 * users in and delivers outcome events to examples/backend as a webhook (`--webhook`, with
 * the secret set by `--webhook-secret`); a signed-in user creates a post in the backend,
 * uploads a photo to directdrop with `metadata.postId`, and the backend hears `processed`
 * with that metadata, after the CloudEvents handshake, and lists it under the user's
 * uploads; deleting the upload through the API removes it from the list.
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { EVENTS_PATH, createBackend } from '../../examples/backend/app';
import { DEFAULT_SETTINGS } from '../../functions/core/settings';
import { BackendStore, type MyUpload } from '../../examples/backend/store';
import { oidcUsers } from '../../examples/backend/users';
import { freePort } from '../../local/azurite-sandbox';
import { DEV_AUDIENCE, devIssuer } from '../../local/dev-identity';
import {
  type LocalModeProcess,
  freeLocalModePorts,
  startLocalModeProcess,
} from '../../local/local-mode-process';

const SECRET = 'e2e-webhook-secret-0123456789abcdef';

describe('local mode → examples/backend: outcome events end to end', function () {
  this.timeout(180_000);
  let dataDir: string;
  let local: LocalModeProcess;
  let backend: Server;
  let store: BackendStore;
  let api: string;
  let backendUrl: string;
  let token: string;
  /** Every request local mode made to the webhook, in order. */
  const webhookRequests: string[] = [];

  before(async function () {
    dataDir = await mkdtemp(join(tmpdir(), 'directdrop-receiver-e2e-'));
    const ports = await freeLocalModePorts();
    const eventsPort = await freePort();
    api = `http://localhost:${ports.port}/api`;

    store = new BackendStore(join(dataDir, 'backend.sqlite'));
    const listener = createBackend({
      store,
      receiver: { secret: SECRET, sources: ['urn:directdrop:local'] },
      users: oidcUsers({
        issuer: devIssuer(`http://localhost:${ports.port}`),
        audience: DEV_AUDIENCE,
      }),
    });
    backend = createServer((req: IncomingMessage, res) => {
      if (req.url === EVENTS_PATH) webhookRequests.push(req.method ?? '');
      listener(req, res);
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;

    local = startLocalModeProcess({
      role: 'all',
      ports,
      dataDir: join(dataDir, 'local'),
      signIn: true,
      args: [
        ...['--events-port', String(eventsPort)],
        ...['--webhook', `${backendUrl}${EVENTS_PATH}`],
        ...['--webhook-secret', SECRET],
      ],
    });
    await local.ready();
    token = /TOKEN=(\S+)/.exec(local.output())?.[1] ?? '';
    expect(token, local.output()).to.not.equal('');
  });
  after(async function () {
    await local?.signal('SIGTERM');
    await new Promise<void>((resolve) => (backend ? backend.close(() => resolve()) : resolve()));
    store?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(local.output());
  });

  const signedIn = () => ({ authorization: `Bearer ${token}` });

  async function myUploads(): Promise<MyUpload[]> {
    const response = await fetch(`${backendUrl}/my-uploads`, { headers: signedIn() });
    expect(response.status).to.equal(200);
    return ((await response.json()) as { uploads: MyUpload[] }).uploads;
  }

  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(250);
    }
  }

  it('the backend receives processed with its metadata, lists it for the user, and drops it once deleted', async function () {
    const post = await fetch(`${backendUrl}/posts`, {
      method: 'POST',
      headers: { ...signedIn(), 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Holiday' }),
    });
    expect(post.status).to.equal(201);
    const { postId } = (await post.json()) as { postId: string };

    const photo = await sharp({
      create: { width: 900, height: 600, channels: 3, background: '#3a6' },
    })
      .jpeg()
      .toBuffer();
    const created = await fetch(`${api}/uploads`, {
      method: 'POST',
      headers: { ...signedIn(), 'content-type': 'application/json' },
      body: JSON.stringify({
        fileName: 'holiday.jpg',
        contentType: 'image/jpeg',
        size: photo.length,
        metadata: { postId },
      }),
    });
    expect(created.status, await created.clone().text()).to.equal(201);
    const upload = (await created.json()) as {
      uploadId: string;
      uploadUrl: string;
      method: string;
      headers: Record<string, string>;
    };
    const put = await fetch(upload.uploadUrl, {
      method: upload.method,
      headers: upload.headers,
      body: new Uint8Array(photo),
    });
    expect(put.status).to.equal(201);

    const processed = await waitFor('processed at the backend', async () =>
      (await myUploads()).find((u) => u.uploadId === upload.uploadId && u.status === 'processed'),
    );
    expect(processed.postId).to.equal(postId);
    expect(processed.claimProblem).to.equal(undefined);
    expect(processed.outputs?.map((o) => o.name).sort()).to.deep.equal(
      DEFAULT_SETTINGS.variants.map((v) => v.name).sort(),
    );
    expect(webhookRequests[0], 'the handshake comes first').to.equal('OPTIONS');
    expect(webhookRequests.slice(1).every((m) => m === 'POST')).to.equal(true);

    const deleted = await fetch(`${api}/uploads/${upload.uploadId}`, {
      method: 'DELETE',
      headers: signedIn(),
    });
    expect(deleted.status).to.equal(204);
    await waitFor('the deletion at the backend', async () =>
      (await myUploads()).some((u) => u.uploadId === upload.uploadId) ? undefined : true,
    );
  });
});
