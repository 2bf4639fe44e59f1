/**
 * One CloudEvent per outcome, on every path that records one, through the real publisher
 * to a stand-in topic: processed, rejected, malware, a scan timeout, a poisoned event; the
 * same id for every redelivery; a failed publish retried through the message; and nothing
 * from the blob or its PUT's headers in the event.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { QueueServiceClient } from '@azure/storage-queue';
import { readManifest } from '../../functions/adapters/manifest-store';
import { OutcomePublishError } from '../../functions/adapters/outcome-publisher';
import type { Runtime } from '../../functions/adapters/runtime';
import { STORAGE_NAMES } from '../../functions/core/definitions';
import { outcomeEventId } from '../../functions/core/outcome-events';
import { SETTING_KEYS } from '../../functions/core/settings';
import { createUploadHandler } from '../../functions/handlers/create-upload';
import { processUploadEventHandler } from '../../functions/handlers/process-upload';
import { recordPoisonedEventHandler } from '../../functions/handlers/record-poisoned-event';
import { type AzuriteSandbox, startAzuriteSandbox } from '../../local/azurite-sandbox';
import { buildScanResultEvent, localScanResultsTopic } from '../../local/malware-scan-event';
import { EICAR_MALWARE_NAME, EICAR_TEST_STRING } from '../../local/malware-scanner';
import { blobCreatedEvent } from '../helpers/events';
import { invocationContext, runtimeFor } from '../helpers/functions';
import { sidewaysPhotoWithGps, textPretendingToBeJpeg } from '../helpers/images';
import { rejection } from '../helpers/rejection';
import { type TopicStandIn, startTopicStandIn } from '../helpers/topic';
import { blobsNamed, issueAndPut } from '../helpers/uploads';

const TIMEOUT_SECONDS = 2;

describe('outcome events (against Azurite and a stand-in topic)', function () {
  this.timeout(60_000);
  let fixture: AzuriteSandbox;
  let topic: TopicStandIn;
  let plain: Runtime;
  let gated: Runtime;
  let scanTopic: string;

  before(async () => {
    fixture = await startAzuriteSandbox();
    topic = await startTopicStandIn();
    plain = runtimeFor({ ...fixture.env, ...topic.env });
    scanTopic = localScanResultsTopic(fixture.service.accountName);
    gated = runtimeFor({
      ...fixture.env,
      ...topic.env,
      [SETTING_KEYS.malwareScanning]: 'true',
      [SETTING_KEYS.scanResultsTopic]: scanTopic,
      [SETTING_KEYS.scanVerdictTimeoutSeconds]: String(TIMEOUT_SECONDS),
    });
    await QueueServiceClient.fromConnectionString(fixture.env.DirectdropStorage)
      .getQueueClient(STORAGE_NAMES.eventsQueue)
      .create();
  });
  after(async () => {
    await topic?.close();
    await fixture?.stop();
  });

  const deliver = (runtime: Runtime, message: unknown) =>
    processUploadEventHandler(() => runtime)(message, invocationContext('processUploadEvent'));
  const upload = (
    runtime: Runtime,
    bytes: Buffer,
    headers: Record<string, string> = {},
    metadata?: Record<string, string>,
  ) =>
    issueAndPut(
      createUploadHandler(() => runtime),
      bytes,
      { extraHeaders: headers, metadata },
    );
  const manifestOf = async (uploadId: string) => {
    const stored = await readManifest(plain.processed, uploadId);
    if (!stored) throw new Error(`no manifest for ${uploadId}`);
    return stored.manifest;
  };
  async function verdict(
    runtime: Runtime,
    blobName: string,
    resultType: 'Malicious' | 'No threats found',
  ) {
    const blob = runtime.landing.getBlobClient(blobName);
    return buildScanResultEvent({
      accountName: runtime.landing.accountName,
      containerName: runtime.landing.containerName,
      blobName,
      url: blob.url,
      eTag: (await blob.getProperties()).etag ?? '',
      resultType,
      malwareNamesFound: resultType === 'Malicious' ? [EICAR_MALWARE_NAME] : [],
      sha256: Buffer.alloc(32),
      scanFinishedTime: new Date(),
      topic: scanTopic,
    });
  }

  /** The one event of the upload, checked against its manifest as the design documents it. */
  async function theEventOf(uploadId: string) {
    const events = topic.eventsOf(uploadId);
    expect(events, 'one event').to.have.length(1);
    const [event] = events;
    const manifest = await manifestOf(uploadId);
    expect(event).to.include({
      specversion: '1.0',
      type: `directdrop.upload.${manifest.status}`,
      source: 'urn:directdrop:test',
      id: outcomeEventId(event.type, uploadId, manifest.source.eTag),
      subject: `uploads/${uploadId}`,
      time: manifest.completedAt,
      datacontenttype: 'application/json',
    });
    expect(event.data).to.include({
      uploadId,
      status: manifest.status,
      issuedAt: manifest.issuedAt,
      uploadedAt: manifest.uploadedAt,
      completedAt: manifest.completedAt,
    });
    expect(event.data.caller).to.have.property('kind', 'functionKey');
    expect(JSON.stringify(event)).not.to.match(/sig=|sv=|https?:\/\//);
    return event;
  }

  it('publishes processed with its outputs by path and its original', async () => {
    const photo = await sidewaysPhotoWithGps(800, 600);
    const { uploadId, blobName } = await upload(plain, photo);
    await deliver(plain, await blobCreatedEvent(plain.landing, blobName));
    const event = await theEventOf(uploadId);
    const manifest = await manifestOf(uploadId);
    if (manifest.status !== 'processed') throw new Error(manifest.status);
    if (event.type !== 'directdrop.upload.processed') throw new Error(event.type);
    expect(event.data.original).to.deep.equal({
      format: 'image/jpeg',
      width: 600,
      height: 800,
      size: photo.length,
    });
    expect(event.data.outputs.map((o) => o.blobPath)).to.deep.equal(
      manifest.outputs.map((o) => `processed/${o.blobName}`),
    );
    expect(event.data).not.to.have.any.keys('reason', 'message', 'deletedAt', 'dropZone');
  });

  it('publishes rejected with its reason', async () => {
    const { uploadId, blobName } = await upload(plain, textPretendingToBeJpeg);
    await deliver(plain, await blobCreatedEvent(plain.landing, blobName));
    const event = await theEventOf(uploadId);
    expect(event.data).to.include({ status: 'rejected', reason: 'not-an-image' });
    expect(event.data).not.to.have.any.keys('outputs', 'original');
  });

  it('publishes rejected / malware from the scan gate', async () => {
    const eicar = Buffer.concat([
      Buffer.from([0xff, 0xd8]),
      Buffer.from(EICAR_TEST_STRING, 'latin1'),
    ]);
    const { uploadId, blobName } = await upload(gated, eicar);
    await deliver(gated, await blobCreatedEvent(gated.landing, blobName));
    expect(topic.eventsOf(uploadId)).to.deep.equal([]);
    await deliver(gated, await verdict(gated, blobName, 'Malicious'));
    expect((await theEventOf(uploadId)).data).to.include({ status: 'rejected', reason: 'malware' });
  });

  it('publishes failed / scan-timeout when no verdict comes', async () => {
    const { uploadId, blobName } = await upload(gated, await sidewaysPhotoWithGps(200, 150));
    await deliver(gated, await blobCreatedEvent(gated.landing, blobName));
    await sleep(TIMEOUT_SECONDS * 1000 + 300);
    const checks = (await gated.eventsQueue.receiveMessages({ numberOfMessages: 32 }))
      .receivedMessageItems;
    for (const check of checks)
      await deliver(gated, Buffer.from(check.messageText, 'base64').toString('utf8'));
    expect((await theEventOf(uploadId)).data).to.include({
      status: 'failed',
      reason: 'scan-timeout',
    });
  });

  it('publishes failed / processing-failed from the poison queue', async () => {
    const { uploadId, blobName } = await upload(plain, await sidewaysPhotoWithGps(200, 150));
    await recordPoisonedEventHandler(() => plain)(
      await blobCreatedEvent(plain.landing, blobName),
      invocationContext('recordPoisonedEvent'),
    );
    expect((await theEventOf(uploadId)).data).to.include({
      status: 'failed',
      reason: 'processing-failed',
    });
  });

  it('gives duplicate and concurrent deliveries one outcome and one event id', async () => {
    const { uploadId, blobName } = await upload(plain, await sidewaysPhotoWithGps(400, 300));
    const event = await blobCreatedEvent(plain.landing, blobName);
    await Promise.allSettled([
      deliver(plain, event),
      deliver(plain, event),
      deliver(plain, [event]),
    ]);
    await deliver(plain, event);
    const events = topic.eventsOf(uploadId);
    expect(events.length).to.be.at.least(1);
    expect(new Set(events.map((e) => e.id)).size).to.equal(1);
    expect(new Set(events.map((e) => JSON.stringify(e))).size, 'byte-for-byte').to.equal(1);
    expect(events[0].type).to.equal('directdrop.upload.processed');
  });

  it('retries a failed publish through the message and republishes the same event', async () => {
    const { uploadId, blobName } = await upload(plain, await sidewaysPhotoWithGps(400, 300));
    const event = await blobCreatedEvent(plain.landing, blobName);
    topic.refuse(1);
    await rejection(deliver(plain, event), OutcomePublishError);
    // The outcome is recorded; the landing blob still holds the upload, so the message is not done.
    expect((await manifestOf(uploadId)).status).to.equal('processed');
    expect(await blobsNamed(plain.landing, blobName)).to.deep.equal(['blob']);
    expect(topic.eventsOf(uploadId)).to.deep.equal([]);
    await deliver(plain, event);
    await theEventOf(uploadId);
    expect(await blobsNamed(plain.landing, blobName)).to.deep.equal(['tombstone']);
  });

  // The BlobCreated message of a gated upload is gone once it waits: when the delivery that
  // resumes it records the outcome and then fails, only that message's return can finish it.
  it('finishes an outcome its verdict recorded but could not publish when the verdict comes again', async () => {
    const { uploadId, blobName } = await upload(gated, await sidewaysPhotoWithGps(400, 300));
    await deliver(gated, await blobCreatedEvent(gated.landing, blobName));
    const clean = await verdict(gated, blobName, 'No threats found');
    topic.refuse(1);
    await rejection(deliver(gated, clean), OutcomePublishError);
    expect((await manifestOf(uploadId)).status).to.equal('processed');
    expect(await blobsNamed(gated.landing, blobName)).to.deep.equal(['blob']);
    await deliver(gated, clean);
    expect((await theEventOf(uploadId)).data).to.include({ status: 'processed' });
    expect(await blobsNamed(gated.landing, blobName)).to.deep.equal(['tombstone']);
  });

  it('finishes a scan timeout recorded but not published when its check comes again', async () => {
    const { uploadId, blobName } = await upload(gated, await sidewaysPhotoWithGps(200, 150));
    await deliver(gated, await blobCreatedEvent(gated.landing, blobName));
    await sleep(TIMEOUT_SECONDS * 1000 + 300);
    const checks = (
      await gated.eventsQueue.receiveMessages({ numberOfMessages: 32 })
    ).receivedMessageItems
      .map((m) => Buffer.from(m.messageText, 'base64').toString('utf8'))
      .filter((text) => text.includes(uploadId));
    expect(checks).to.have.length(1);
    topic.refuse(1);
    await rejection(deliver(gated, checks[0]), OutcomePublishError);
    expect((await manifestOf(uploadId)).status).to.equal('failed');
    await deliver(gated, checks[0]);
    expect((await theEventOf(uploadId)).data).to.include({
      status: 'failed',
      reason: 'scan-timeout',
    });
    expect(await blobsNamed(gated.landing, blobName)).to.deep.equal(['tombstone']);
  });

  it('finishes from the poison queue an outcome whose publish kept failing', async () => {
    const { uploadId, blobName } = await upload(plain, await sidewaysPhotoWithGps(200, 150));
    const event = await blobCreatedEvent(plain.landing, blobName);
    topic.refuse(1);
    await rejection(deliver(plain, event), OutcomePublishError);
    await recordPoisonedEventHandler(() => plain)(event, invocationContext('recordPoisonedEvent'));
    // The recorded outcome stands (not `failed`), and it is now published and tombstoned.
    expect((await theEventOf(uploadId)).data).to.include({ status: 'processed' });
    expect(await blobsNamed(plain.landing, blobName)).to.deep.equal(['tombstone']);
  });

  it("carries the app's metadata from issuance, never the blob's or its PUT headers'", async () => {
    const { uploadId, blobName } = await upload(
      plain,
      await sidewaysPhotoWithGps(200, 150),
      { 'x-ms-meta-postid': '999', 'x-ms-meta-caller': 'admin' },
      { postId: '42' },
    );
    expect((await plain.landing.getBlobClient(blobName).getProperties()).metadata).to.include({
      postid: '999',
    });
    await deliver(plain, await blobCreatedEvent(plain.landing, blobName));
    const event = await theEventOf(uploadId);
    expect((await manifestOf(uploadId)).metadata).to.deep.equal({ postId: '42' });
    expect(event.data.metadata).to.deep.equal({ postId: '42' });
    expect(JSON.stringify(event)).not.to.match(/999|admin/);
  });
});
