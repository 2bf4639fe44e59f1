/**
 * examples/backend over real HTTP: outcome events delivered as Event Grid delivers them to a
 * webhook (handshake, then one structured event per POST with the secret header), users
 * signed in with real OIDC tokens from a local identity provider, and the backend's own
 * SQLite store read back through GET /my-uploads and directly.
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { EVENTS_PATH, createBackend } from '../../examples/backend/app';
import { BackendStore, type MyUpload } from '../../examples/backend/store';
import { oidcUsers } from '../../examples/backend/users';
import {
  type LocalProviders,
  signToken,
  startLocalProviders,
  testKey,
} from '../helpers/identity-providers';
import {
  SOURCE,
  batchDelivery,
  deletedEvent,
  failedEvent,
  processedEvent,
  rejectedEvent,
  webhookDelivery,
} from '../helpers/outcome-events';

const SECRET = 'example-backend-secret-0123456789';
const AUDIENCE = 'example-app';

describe('examples/backend: outcome events into its own store', function () {
  let providers: LocalProviders;
  let issuer: string;
  let folder: string;
  let databasePath: string;
  let store: BackendStore;
  let server: Server;
  let base: string;
  const tokens: Record<'alice' | 'bob', string> = { alice: '', bob: '' };
  const caller = (subject: string) => ({ kind: 'oidc' as const, issuer, subject });

  async function start() {
    store = new BackendStore(databasePath);
    server = createServer(
      createBackend({
        store,
        receiver: { secret: SECRET, sources: [SOURCE] },
        users: oidcUsers({ issuer, audience: AUDIENCE }),
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  async function stop() {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    store.close();
  }

  before(async function () {
    providers = await startLocalProviders();
    const key = await testKey('app-key', 'ES256');
    providers.keys.push(key);
    issuer = `${providers.origin}/app`;
    for (const subject of ['alice', 'bob'] as const) {
      tokens[subject] = await signToken({ key, issuer, claims: { sub: subject, aud: AUDIENCE } });
    }
  });
  after(() => providers.close());
  beforeEach(async function () {
    folder = await mkdtemp(join(tmpdir(), 'directdrop-backend-'));
    databasePath = join(folder, 'backend.sqlite');
    await start();
  });
  afterEach(async function () {
    await stop();
    await rm(folder, { recursive: true, force: true });
  });

  const deliver = (event: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${EVENTS_PATH}`, webhookDelivery(event, SECRET, headers));

  async function post(as: keyof typeof tokens, title: string): Promise<string> {
    const response = await fetch(`${base}/posts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens[as]}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title }),
    });
    expect(response.status).to.equal(201);
    return ((await response.json()) as { postId: string }).postId;
  }

  async function myUploads(as: keyof typeof tokens): Promise<MyUpload[]> {
    const response = await fetch(`${base}/my-uploads`, {
      headers: { authorization: `Bearer ${tokens[as]}` },
    });
    expect(response.status).to.equal(200);
    return ((await response.json()) as { uploads: MyUpload[] }).uploads;
  }

  function rows(sql: string): unknown[] {
    const db = new DatabaseSync(databasePath, { readOnly: true });
    try {
      return db.prepare(sql).all();
    } finally {
      db.close();
    }
  }

  it("answers Event Grid's handshake on its events path", async function () {
    const response = await fetch(`${base}${EVENTS_PATH}`, {
      method: 'OPTIONS',
      headers: { 'webhook-request-origin': 'eventgrid.azure.net' },
    });
    expect([response.status, response.headers.get('webhook-allowed-origin')]).to.deep.equal([
      200,
      'eventgrid.azure.net',
    ]);
  });

  it("records a processed upload on the uploader's post and lists it for them only", async function () {
    const postId = await post('alice', 'Holiday');
    const event = processedEvent({
      uploadId: 'u-alice-1',
      caller: caller('alice'),
      metadata: { postId },
    });
    expect((await deliver(event)).status).to.equal(204);

    expect(await myUploads('alice')).to.deep.equal([
      {
        uploadId: 'u-alice-1',
        status: 'processed',
        postId,
        outputs: event.data.outputs.map(({ name, width, height, size, blobPath }) => ({
          name,
          width,
          height,
          size,
          blobPath,
        })),
        issuedAt: event.data.issuedAt,
      },
    ]);
    expect(await myUploads('bob')).to.deep.equal([]);
  });

  it('records a redelivered event once: the same id changes nothing', async function () {
    const postId = await post('alice', 'Once');
    const event = rejectedEvent({
      uploadId: 'u-twice',
      caller: caller('alice'),
      metadata: { postId },
    });
    for (const count of ['0', '1', '2']) {
      expect((await deliver(event, { 'aeg-delivery-count': count })).status).to.equal(204);
    }
    expect(rows('SELECT event_id FROM received_events')).to.deep.equal([{ event_id: event.id }]);
    expect((await myUploads('alice')).map((u) => [u.uploadId, u.status, u.reason])).to.deep.equal([
      ['u-twice', 'rejected', 'malware'],
    ]);
  });

  it("honours a postId only when the post is the uploader's own", async function () {
    const alicePost = await post('alice', 'Mine');
    const bobPost = await post('bob', 'Not hers');
    const claims: Array<[string, Record<string, string>]> = [
      ['u-own', { postId: alicePost }],
      ['u-other', { postId: bobPost }],
      ['u-unknown', { postId: 'no-such-post' }],
      ['u-none', {}],
    ];
    for (const [uploadId, metadata] of claims) {
      const event = processedEvent({ uploadId, caller: caller('alice'), metadata });
      expect((await deliver(event)).status).to.equal(204);
    }
    const listed = Object.fromEntries(
      (await myUploads('alice')).map((u) => [
        u.uploadId,
        [u.postId ?? null, u.claimProblem ?? null],
      ]),
    );
    expect(listed).to.deep.equal({
      'u-own': [alicePost, null],
      'u-other': [null, 'not-your-post'],
      'u-unknown': [null, 'unknown-post'],
      'u-none': [null, null],
    });
    expect(await myUploads('bob')).to.deep.equal([]);
  });

  it('keeps uploads of callers that are not signed-in users out of everyone’s list', async function () {
    const bobPost = await post('bob', 'Claimed by a key');
    const event = failedEvent({ uploadId: 'u-key', metadata: { postId: bobPost } });
    expect(event.data.caller.kind).to.equal('functionKey');
    expect((await deliver(event)).status).to.equal(204);
    expect(await myUploads('bob')).to.deep.equal([]);
    expect(rows('SELECT upload_id, issuer, post_id, claim_problem FROM uploads')).to.deep.equal([
      { upload_id: 'u-key', issuer: null, post_id: null, claim_problem: 'not-a-signed-in-user' },
    ]);
  });

  it('takes events in any order: a deletion is final, otherwise the newest outcome wins', async function () {
    const alice = caller('alice');
    const deleted = deletedEvent({ uploadId: 'u-gone', caller: alice });
    const processedEarlier = processedEvent({ uploadId: 'u-gone', caller: alice });
    expect((await deliver(deleted)).status).to.equal(204);
    expect((await deliver(processedEarlier)).status).to.equal(204);

    const newer = processedEvent({
      uploadId: 'u-redone',
      caller: alice,
      time: '2026-12-03T10:00:00.000Z',
    });
    const older = rejectedEvent({
      uploadId: 'u-redone',
      caller: alice,
      time: '2026-12-01T10:00:00.000Z',
    });
    expect(
      (await fetch(`${base}${EVENTS_PATH}`, batchDelivery([newer, older], SECRET))).status,
    ).to.equal(204);

    expect((await myUploads('alice')).map((u) => [u.uploadId, u.status])).to.deep.equal([
      ['u-redone', 'processed'],
    ]);
    expect(rows("SELECT status FROM uploads WHERE upload_id = 'u-gone'")).to.deep.equal([
      { status: 'deleted' },
    ]);
  });

  it('stores nothing from a delivery without the secret or from another stack', async function () {
    const event = processedEvent({ uploadId: 'u-forged', caller: caller('alice') });
    const forged = await fetch(`${base}${EVENTS_PATH}`, webhookDelivery(event, undefined));
    expect(forged.status).to.equal(401);
    const otherStack = await deliver({ ...event, source: 'urn:directdrop:someone-else' });
    expect(otherStack.status).to.equal(400);
    expect(rows('SELECT * FROM received_events')).to.deep.equal([]);
    expect(await myUploads('alice')).to.deep.equal([]);
  });

  it('serves its own API only to signed-in users', async function () {
    expect((await fetch(`${base}/my-uploads`)).status).to.equal(401);
    const forged = await fetch(`${base}/my-uploads`, {
      headers: { authorization: `Bearer ${tokens.alice}x` },
    });
    expect(forged.status).to.equal(401);
    expect(await forged.json()).to.deep.equal({
      error: { code: 'unauthorized', message: 'Send Authorization: Bearer <token>.' },
    });
  });

  it('keeps what it recorded across a restart', async function () {
    const event = processedEvent({ uploadId: 'u-kept', caller: caller('alice') });
    expect((await deliver(event)).status).to.equal(204);
    await stop();
    await start();
    expect((await deliver(event)).status).to.equal(204);
    expect((await myUploads('alice')).map((u) => u.uploadId)).to.deep.equal(['u-kept']);
    expect(rows('SELECT COUNT(*) AS n FROM received_events')).to.deep.equal([{ n: 1 }]);
  });
});
