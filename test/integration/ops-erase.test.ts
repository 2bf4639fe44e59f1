/**
 * `npx directdrop erase`: every upload of one user goes, whatever its state, with one
 * `deleted` event each; another user's stay; a dry run changes nothing.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import type { Runtime } from '../../functions/adapters/runtime';
import { OWNER_KEY_SETTING, SETTING_KEYS } from '../../functions/core/settings';
import { createUploadHandler } from '../../functions/handlers/create-upload';
import { processUploadEventHandler } from '../../functions/handlers/process-upload';
import { type AzuriteSandbox, startAzuriteSandbox } from '../../local/azurite-sandbox';
import { ownerOf, uploadsOf } from '../../ops/erase';
import { EXIT, runEraseCommand } from '../../ops/erase-command';
import { blobCreatedEvent } from '../helpers/events';
import { bodyOf, invocationContext, postJson, runtimeFor } from '../helpers/functions';
import {
  type LocalProviders,
  type TestKey,
  signToken,
  startLocalProviders,
  testKey,
} from '../helpers/identity-providers';
import { sidewaysPhotoWithGps } from '../helpers/images';
import { type TopicStandIn, startTopicStandIn } from '../helpers/topic';
import { blobsNamed } from '../helpers/uploads';

const REPO_ROOT = resolve(__dirname, '../..');
const AUDIENCE = 'api://directdrop-test';

describe('ops: erase (against Azurite)', function () {
  this.timeout(60_000);
  let fixture: AzuriteSandbox;
  let idp: LocalProviders;
  let key: TestKey;
  let topic: TopicStandIn;
  let env: Record<string, string>;
  let runtime: Runtime;
  let issuer: string;

  before(async () => {
    fixture = await startAzuriteSandbox();
    idp = await startLocalProviders();
    key = await testKey('k1');
    idp.keys = [key];
    topic = await startTopicStandIn();
    issuer = `${idp.origin}/tenant`;
    env = {
      ...fixture.env,
      ...topic.env,
      [SETTING_KEYS.authMode]: 'oidc',
      [SETTING_KEYS.authIssuer]: issuer,
      [SETTING_KEYS.authAudiences]: AUDIENCE,
      [OWNER_KEY_SETTING]: 'an-owner-key-of-at-least-thirty-two-characters',
    };
    runtime = runtimeFor(env);
    await runtime.eventsQueue.createIfNotExists();
  });
  after(async () => {
    await topic?.close();
    await idp?.close();
    await fixture?.stop();
  });

  async function issueFor(subject: string, bytes: Buffer, put = true) {
    const token = await signToken({ key, issuer, claims: { sub: subject, aud: AUDIENCE } });
    const response = await createUploadHandler(() => runtime)(
      postJson(
        JSON.stringify({ fileName: 'a.jpg', contentType: 'image/jpeg', size: bytes.length }),
        {
          authorization: `Bearer ${token}`,
        },
      ),
      invocationContext('createUpload'),
    );
    const issued = bodyOf(response);
    expect(response.status, JSON.stringify(issued)).to.equal(201);
    const blobName = decodeURIComponent(
      new URL(issued.uploadUrl as string).pathname.split('/').slice(3).join('/'),
    );
    if (put) {
      const stored = await fetch(issued.uploadUrl as string, {
        method: 'PUT',
        headers: issued.headers as Record<string, string>,
        body: new Uint8Array(bytes),
      });
      expect(stored.status).to.equal(201);
    }
    return { uploadId: issued.uploadId as string, blobName };
  }

  const io = () => {
    const lines: string[] = [];
    return { lines, io: { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) } };
  };

  it('erases every upload of one user, processed, pending or never sent, and no one else’s', async () => {
    const photo = await sidewaysPhotoWithGps(200, 150);
    const processed = await issueFor('alice', photo);
    await processUploadEventHandler(() => runtime)(
      await blobCreatedEvent(runtime.landing, processed.blobName),
      invocationContext('processUploadEvent'),
    );
    const pending = await issueFor('alice', photo);
    const unsent = await issueFor('alice', photo, false);
    const bobs = await issueFor('bob', photo);
    const alice = ownerOf(runtime, issuer, 'alice');
    expect(await uploadsOf(runtime, alice)).to.have.length(3);

    const dry = io();
    expect(await runEraseCommand(['--subject', 'alice', '--dry-run'], env, dry.io)).to.equal(
      EXIT.ok,
    );
    expect(dry.lines[0]).to.equal(`uploads of alice (${issuer}): 3`);
    expect(await uploadsOf(runtime, alice)).to.have.length(3);

    const run = io();
    expect(await runEraseCommand(['--subject', 'alice'], env, run.io)).to.equal(EXIT.ok);
    expect(run.lines.filter((l) => l.startsWith('erased ')).length).to.equal(3);
    expect(run.lines).to.include('erased: 3');
    expect(await uploadsOf(runtime, alice)).to.deep.equal([]);
    for (const { uploadId, blobName } of [processed, pending, unsent]) {
      expect(await blobsNamed(runtime.landing, blobName)).to.deep.equal(['tombstone']);
      expect(topic.eventsOf(uploadId).at(-1)?.type).to.equal('directdrop.upload.deleted');
    }
    expect(topic.eventsOf(processed.uploadId)[0].data.caller).to.deep.equal({
      kind: 'oidc',
      issuer,
      subject: 'alice',
    });
    const bob = ownerOf(runtime, issuer, 'bob');
    expect((await uploadsOf(runtime, bob)).map((r) => r.uploadId)).to.deep.equal([bobs.uploadId]);
    expect(await blobsNamed(runtime.landing, bobs.blobName)).to.deep.equal(['blob']);
  });

  it('runs as npx directdrop erase, and refuses to guess an issuer or an owner key', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['bin/directdrop.mjs', 'erase', '--subject', 'nobody', '--dry-run'],
      { cwd: REPO_ROOT, env: { ...process.env, ...env } },
    );
    expect(stdout).to.contain(`uploads of nobody (${issuer}): 0`);
    const noIssuer = io();
    expect(
      await runEraseCommand(
        ['--subject', 'x'],
        { ...env, [SETTING_KEYS.authMode]: 'functionKey', [SETTING_KEYS.authIssuer]: '' },
        noIssuer.io,
      ),
    ).to.equal(EXIT.usage);
    expect(noIssuer.lines.join('\n')).to.contain('--issuer is required');
    const noKey = io();
    expect(
      await runEraseCommand(['--subject', 'x'], { ...env, [OWNER_KEY_SETTING]: '' }, noKey.io),
    ).to.equal(EXIT.usage);
    expect(noKey.lines.join('\n')).to.contain(OWNER_KEY_SETTING);
  });
});
