/**
 * `DELETE /api/uploads/{id}` and the erasure behind it, against Azurite and a stand-in
 * topic: everything of the upload goes but a tombstone, the slot comes back, one
 * `deleted` event; a pending upload is refused by the worker instead of processed; an
 * interrupted erasure is finished by its work item with the same event.
 */
import { expect } from 'chai';
import { HttpRequest } from '@azure/functions';
import type { QueueClient, QueueSendMessageResponse } from '@azure/storage-queue';
import type { Runtime } from '../../functions/adapters/runtime';
import { outcomeEventId } from '../../functions/core/outcome-events';
import { OWNER_KEY_SETTING, SETTING_KEYS } from '../../functions/core/settings';
import { createUploadHandler } from '../../functions/handlers/create-upload';
import { deleteUploadHandler } from '../../functions/handlers/delete-upload';
import { getUploadStatusHandler } from '../../functions/handlers/get-upload-status';
import { processUploadEventHandler } from '../../functions/handlers/process-upload';
import { eraseUpload } from '../../functions/handlers/upload-deletion';
import { type AzuriteSandbox, startAzuriteSandbox } from '../../local/azurite-sandbox';
import { blobCreatedEvent } from '../helpers/events';
import {
  type LoggedLine,
  bodyOf,
  getStatus,
  invocationContext,
  postJson,
  runtimeFor,
} from '../helpers/functions';
import { sidewaysPhotoWithGps } from '../helpers/images';
import { type TopicStandIn, startTopicStandIn } from '../helpers/topic';
import { blobsNamed, issueAndPut } from '../helpers/uploads';

const REFUSED_OVERWRITE = [403, 409];

describe('delete-upload (against Azurite and a stand-in topic)', function () {
  this.timeout(60_000);
  let fixture: AzuriteSandbox;
  let topic: TopicStandIn;
  let runtime: Runtime;

  before(async () => {
    fixture = await startAzuriteSandbox();
    topic = await startTopicStandIn();
    runtime = runtimeFor({ ...fixture.env, ...topic.env });
    await runtime.eventsQueue.createIfNotExists();
  });
  after(async () => {
    await topic?.close();
    await fixture?.stop();
  });

  const remove = (uploadId: string, rt = runtime, log: LoggedLine[] = []) =>
    deleteUploadHandler(() => rt)(
      new HttpRequest({
        method: 'DELETE',
        url: `http://localhost:7071/api/uploads/${uploadId}`,
        params: { uploadId },
      }),
      invocationContext('deleteUpload', log),
    );
  const status = async (uploadId: string) =>
    getUploadStatusHandler(() => runtime)(getStatus(uploadId), invocationContext('status'));
  const deliver = (message: unknown, rt = runtime) =>
    processUploadEventHandler(() => rt)(message, invocationContext('processUploadEvent'));
  const issue = (rt = runtime) =>
    createUploadHandler(() => rt)(
      postJson(JSON.stringify({ fileName: 'a.jpg', contentType: 'image/jpeg', size: 1000 })),
      invocationContext('createUpload'),
    );

  /** Every blob of the upload anywhere: only its tombstone may be left. */
  async function traces(uploadId: string, outputFolders: string[] = []) {
    const found: string[] = [];
    for (const container of [runtime.processed, runtime.originals])
      for (const prefix of [`${uploadId}/`, ...outputFolders.map((f) => `${f}/`)])
        for await (const blob of container.listBlobsFlat({ prefix }))
          found.push(`${container.containerName}/${blob.name}`);
    return found;
  }

  it('erases a processed upload: 204, then 404, its outputs unreadable, one deleted event', async () => {
    const keeping = runtimeFor({
      ...fixture.env,
      ...topic.env,
      [SETTING_KEYS.keepOriginals]: 'true',
    });
    const { uploadId, blobName } = await issueAndPut(
      createUploadHandler(() => keeping),
      await sidewaysPhotoWithGps(400, 300),
    );
    await deliver(await blobCreatedEvent(runtime.landing, blobName), keeping);
    const processed = bodyOf(await status(uploadId));
    const outputs = processed.outputs as Array<{ url: string }>;
    expect((await fetch(outputs[0].url)).status).to.equal(200);

    const response = await remove(uploadId);
    expect(response.status).to.equal(204);
    expect((await status(uploadId)).status).to.equal(404);
    expect((await remove(uploadId)).status).to.equal(404);
    for (const { url } of outputs) expect((await fetch(url)).status).to.equal(404);
    const folder = new URL(outputs[0].url).pathname.split('/').at(-2) ?? '';
    expect(await traces(uploadId, [folder])).to.deep.equal([]);
    expect(await blobsNamed(runtime.landing, blobName)).to.deep.equal(['tombstone']);

    const events = topic.eventsOf(uploadId);
    expect(events.map((e) => e.type)).to.deep.equal([
      'directdrop.upload.processed',
      'directdrop.upload.deleted',
    ]);
    const deleted = events[1];
    if (deleted.type !== 'directdrop.upload.deleted') throw new Error(deleted.type);
    expect(deleted.id).to.equal(outcomeEventId('directdrop.upload.deleted', uploadId, 'deleted'));
    expect(deleted.time).to.equal(deleted.data.deletedAt);
    expect(deleted.data).to.include({ uploadId, status: 'deleted' });
    expect(deleted.data).to.include.keys('issuedAt', 'completedAt', 'metadata', 'caller');
  });

  it('answers 404 for an unknown id and for another owner, changing nothing', async () => {
    const { uploadId, blobName } = await issueAndPut(
      createUploadHandler(() => runtime),
      await sidewaysPhotoWithGps(200, 150),
    );
    expect((await remove(crypto.randomUUID())).status).to.equal(404);
    expect((await remove('not-a-uuid')).status).to.equal(400);
    expect(
      await eraseUpload(runtime, 'f'.repeat(32), uploadId, true, invocationContext('erase')),
    ).to.equal('not-found');
    expect(await blobsNamed(runtime.landing, blobName)).to.deep.equal(['blob']);
    expect(bodyOf(await status(uploadId)).status).to.equal('pending');
    expect(topic.eventsOf(uploadId)).to.deep.equal([]);
  });

  it('tombstones an upload that was never PUT, so its URL can no longer create it, and frees its slot', async () => {
    // An owner of its own (another owner key), whose one slot no other test holds.
    const limited = runtimeFor({
      ...fixture.env,
      ...topic.env,
      [SETTING_KEYS.quotaOutstandingUploads]: '1',
      [OWNER_KEY_SETTING]: 'another-owner-key-for-this-test-only-0123',
    });
    const first = bodyOf(await issue(limited));
    expect((await issue(limited)).status, 'the one slot is taken').to.equal(429);
    const uploadId = first.uploadId as string;
    expect((await remove(uploadId, limited)).status).to.equal(204);
    const put = await fetch(first.uploadUrl as string, {
      method: 'PUT',
      headers: first.headers as Record<string, string>,
      body: new Uint8Array(1000),
    });
    expect(put.status).to.be.oneOf(REFUSED_OVERWRITE);
    const blobName = decodeURIComponent(
      new URL(first.uploadUrl as string).pathname.split('/').slice(3).join('/'),
    );
    expect(await blobsNamed(runtime.landing, blobName)).to.deep.equal(['tombstone']);
    expect((await issue(limited)).status, 'the slot is back').to.equal(201);
    expect(topic.eventsOf(uploadId).map((e) => e.type)).to.deep.equal([
      'directdrop.upload.deleted',
    ]);
  });

  it('has the worker refuse a pending upload deleted before its event arrives', async () => {
    const { uploadId, blobName } = await issueAndPut(
      createUploadHandler(() => runtime),
      await sidewaysPhotoWithGps(200, 150),
    );
    const event = await blobCreatedEvent(runtime.landing, blobName);
    expect((await remove(uploadId)).status).to.equal(204);
    await deliver(event);
    expect(await traces(uploadId)).to.deep.equal([]);
    expect(await blobsNamed(runtime.landing, blobName)).to.deep.equal(['tombstone']);
    expect(topic.eventsOf(uploadId).map((e) => e.type)).to.deep.equal([
      'directdrop.upload.deleted',
    ]);
  });

  it('undoes an outcome the worker reached while the upload was being deleted', async () => {
    const { uploadId, blobName } = await issueAndPut(
      createUploadHandler(() => runtime),
      await sidewaysPhotoWithGps(200, 150),
    );
    const owner = blobName.split('/')[0];
    // The owner's DELETE lands between the worker's admission and its mirroring of the outcome.
    let reads = 0;
    const racing: Runtime = {
      ...runtime,
      uploads: new Proxy(runtime.uploads, {
        get: (target, property) =>
          property === 'get'
            ? async (o: string, id: string) => {
                const found = await target.get(o, id);
                if (++reads === 1 && found) await target.markDeleted(o, id, found.etag);
                return found;
              }
            : Reflect.get(target, property, target),
      }),
    };
    await deliver(await blobCreatedEvent(runtime.landing, blobName), racing);
    expect(await traces(uploadId)).to.deep.equal([]);
    expect(await blobsNamed(runtime.landing, blobName)).to.deep.equal(['tombstone']);
    expect(topic.eventsOf(uploadId)).to.deep.equal([]);
    expect((await runtime.uploads.get(owner, uploadId))?.record.status).to.equal('deleted');
  });

  it('finishes an interrupted erasure from its work item, republishing the same event', async () => {
    const { uploadId, blobName } = await issueAndPut(
      createUploadHandler(() => runtime),
      await sidewaysPhotoWithGps(200, 150),
    );
    const owner = blobName.split('/')[0];
    const sent: string[] = [];
    const capturing: Runtime = {
      ...runtime,
      eventsQueue: new Proxy(runtime.eventsQueue, {
        get: (target, property) =>
          property === 'sendMessage'
            ? (text: string, options: object): Promise<QueueSendMessageResponse> => {
                sent.push(text);
                return target.sendMessage(text, options);
              }
            : Reflect.get(target, property, target),
      }) as QueueClient,
    };
    topic.refuse(1);
    const log: LoggedLine[] = [];
    expect((await remove(uploadId, capturing, log)).status).to.equal(204);
    expect(log.some((l) => l.text.includes('erasure interrupted'))).to.equal(true);
    expect((await runtime.uploads.get(owner, uploadId))?.record.status).to.equal('deleted');
    expect(topic.eventsOf(uploadId)).to.deep.equal([]);

    expect(sent).to.have.length(1);
    const item = Buffer.from(sent[0], 'base64').toString('utf8');
    await deliver(item);
    await deliver(item);
    expect(await runtime.uploads.get(owner, uploadId)).to.equal(undefined);
    const events = topic.eventsOf(uploadId);
    expect(events.map((e) => e.type)).to.deep.equal(['directdrop.upload.deleted']);
    const [deleted] = events;
    if (deleted.type !== 'directdrop.upload.deleted') throw new Error(deleted.type);
    expect(deleted.data.deletedAt).to.equal(JSON.parse(item).deletedAt);
    expect(await blobsNamed(runtime.landing, blobName)).to.deep.equal(['tombstone']);
  });

  it("in anonymous mode, erases with the upload's status capability and only with it", async () => {
    const anonymous = runtimeFor({
      ...fixture.env,
      ...topic.env,
      [SETTING_KEYS.authMode]: 'anonymous',
      [SETTING_KEYS.publicBaseUrl]: 'http://localhost:7071/api',
      [OWNER_KEY_SETTING]: 'an-owner-key-of-at-least-thirty-two-characters',
    });
    const issued = bodyOf(await issue(anonymous));
    const uploadId = issued.uploadId as string;
    const token = new URL(issued.statusUrl as string).searchParams.get('statusToken') ?? '';
    const erase = (query: string) =>
      deleteUploadHandler(() => anonymous)(
        new HttpRequest({
          method: 'DELETE',
          url: `http://localhost:7071/api/uploads/${uploadId}${query}`,
          params: { uploadId },
        }),
        invocationContext('deleteUpload'),
      );
    const forged = `${token.slice(0, 30)}${token[30] === 'A' ? 'B' : 'A'}${token.slice(31)}`;
    expect((await erase('')).status).to.equal(404);
    expect((await erase(`?statusToken=${forged}`)).status).to.equal(404);
    expect(topic.eventsOf(uploadId)).to.deep.equal([]);
    expect((await erase(`?statusToken=${token}`)).status).to.equal(204);
    expect((await erase(`?statusToken=${token}`)).status).to.equal(404);
    expect(topic.eventsOf(uploadId).map((e) => e.type)).to.deep.equal([
      'directdrop.upload.deleted',
    ]);
  });
});
