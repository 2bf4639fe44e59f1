import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { QueueServiceClient } from '@azure/storage-queue';
import { processUploadEventHandler } from '../../functions/handlers/process-upload';
import { getUploadStatusHandler } from '../../functions/handlers/get-upload-status';
import { createUploadHandler } from '../../functions/handlers/create-upload';
import { recordPoisonedEventHandler } from '../../functions/handlers/record-poisoned-event';
import { readManifest } from '../../functions/adapters/manifest-store';
import type { Runtime } from '../../functions/adapters/runtime';
import { STORAGE_NAMES } from '../../functions/core/definitions';
import { SETTING_KEYS } from '../../functions/core/settings';
import { type AzuriteSandbox, startAzuriteSandbox } from '../../local/azurite-sandbox';
import {
  type ScanResultType,
  buildScanResultEvent,
  localScanResultsTopic,
} from '../../local/malware-scan-event';
import { EICAR_TEST_STRING, createLocalMalwareScanner } from '../../local/malware-scanner';
import { blobCreatedEvent } from '../helpers/events';
import {
  type LoggedLine,
  bodyOf,
  getStatus,
  invocationContext,
  runtimeFor,
} from '../helpers/functions';
import { sidewaysPhotoWithGps } from '../helpers/images';
import { blobsNamed, issueAndPut } from '../helpers/uploads';

const TIMEOUT_SECONDS = 2;

describe('scan gate (against Azurite)', function () {
  this.timeout(60_000);
  let fixture: AzuriteSandbox;
  let runtime: Runtime;
  let topic: string;
  let log: LoggedLine[] = [];
  let processUploadEvent: ReturnType<typeof processUploadEventHandler>;
  let getUploadStatus: ReturnType<typeof getUploadStatusHandler>;
  let createUpload: ReturnType<typeof createUploadHandler>;
  let photo: Buffer;

  before(async () => {
    fixture = await startAzuriteSandbox();
    topic = localScanResultsTopic(fixture.service.accountName);
    runtime = runtimeFor({
      ...fixture.env,
      [SETTING_KEYS.malwareScanning]: 'true',
      [SETTING_KEYS.scanResultsTopic]: topic,
      [SETTING_KEYS.scanVerdictTimeoutSeconds]: String(TIMEOUT_SECONDS),
    });
    await QueueServiceClient.fromConnectionString(fixture.env.DirectdropStorage)
      .getQueueClient(STORAGE_NAMES.eventsQueue)
      .create();
    processUploadEvent = processUploadEventHandler(() => runtime);
    getUploadStatus = getUploadStatusHandler(() => runtime);
    createUpload = createUploadHandler(() => runtime);
    photo = await sidewaysPhotoWithGps(800, 600);
  });
  after(() => fixture.stop());
  beforeEach(async () => {
    log = [];
    await runtime.eventsQueue?.clearMessages();
  });

  const deliver = (event: unknown) =>
    processUploadEvent(event, invocationContext('processUploadEvent', log));
  const status = async (uploadId: string) =>
    bodyOf(await getUploadStatus(getStatus(uploadId), invocationContext('getUploadStatus')));
  const landed = (blobName: string) => blobsNamed(runtime.landing, blobName);
  /** The outputs in the folder a processed manifest names; none before or without one. */
  const outputs = async (uploadId: string) => {
    const stored = await readManifest(runtime.processed, uploadId);
    if (stored?.manifest.status !== 'processed') return [];
    const names: string[] = [];
    const prefix = `${stored.manifest.outputPrefix}/`;
    for await (const blob of runtime.processed.listBlobsFlat({ prefix })) names.push(blob.name);
    return names;
  };

  /** Defender's event for the blob as it is now, from the local scanner's own builder. */
  async function verdict(
    blobName: string,
    resultType: ScanResultType,
    overrides: { eTag?: string; topic?: string; url?: string; malwareNamesFound?: string[] } = {},
  ) {
    const blob = runtime.landing.getBlobClient(blobName);
    const properties = await blob.getProperties();
    return buildScanResultEvent({
      accountName: runtime.landing.accountName,
      containerName: runtime.landing.containerName,
      blobName,
      url: overrides.url ?? blob.url,
      eTag: overrides.eTag ?? properties.etag ?? '',
      resultType,
      malwareNamesFound: overrides.malwareNamesFound ?? [],
      sha256: createHash('sha256').update('x').digest(),
      scanFinishedTime: new Date(),
      topic: overrides.topic ?? topic,
    });
  }

  it('rejects EICAR inside a file declared as a JPEG as malware, tombstones the blob and writes no outputs', async () => {
    const jpegHeader = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]);
    const bytes = Buffer.concat([jpegHeader, Buffer.from(EICAR_TEST_STRING, 'latin1')]);
    const { uploadId, blobName } = await issueAndPut(createUpload, bytes, {
      fileName: 'holiday.jpg',
      contentType: 'image/jpeg',
    });
    await deliver(await blobCreatedEvent(runtime.landing, blobName));
    expect(await status(uploadId)).to.deep.include({ status: 'pending', stage: 'scanning' });

    // The verdict is the local scanner's real finding on the real bytes.
    const finding = await createLocalMalwareScanner({ kind: 'none', reason: 'test' }, console).scan(
      await runtime.landing.getBlobClient(blobName).downloadToBuffer(),
    );
    expect(finding.resultType).to.equal('Malicious');
    await deliver(
      await verdict(blobName, finding.resultType, { malwareNamesFound: finding.malwareNamesFound }),
    );

    const body = await status(uploadId);
    expect(body).to.include({ status: 'rejected', reason: 'malware' });
    expect(JSON.stringify(body)).not.to.match(/EICAR/i);
    expect(await landed(blobName)).to.deep.equal(['tombstone']);
    expect(await outputs(uploadId)).to.deep.equal([]);
    expect(log.some((l) => l.text.includes('DOS/EICAR_Test_File'))).to.equal(true);
  });

  it('processes a clean photo only once its verdict arrives after the BlobCreated event', async () => {
    const { uploadId, blobName } = await issueAndPut(createUpload, photo);
    await deliver(await blobCreatedEvent(runtime.landing, blobName));
    await sleep(300);
    expect(await status(uploadId)).to.deep.include({
      uploadId,
      status: 'pending',
      stage: 'scanning',
    });
    expect(await outputs(uploadId)).to.deep.equal([]);

    await deliver(await verdict(blobName, 'No threats found'));
    const body = await status(uploadId);
    expect(body.status).to.equal('processed');
    expect(await outputs(uploadId)).to.have.length(2);
  });

  it('processes a clean photo whose verdict arrives before its BlobCreated event', async () => {
    const { uploadId, blobName } = await issueAndPut(createUpload, photo);
    await deliver(await verdict(blobName, 'No threats found'));
    expect(await status(uploadId)).to.deep.include({
      uploadId,
      status: 'pending',
      stage: 'processing',
    });
    expect(await outputs(uploadId)).to.deep.equal([]);

    await deliver(await blobCreatedEvent(runtime.landing, blobName));
    expect((await status(uploadId)).status).to.equal('processed');
  });

  it('shrugs off duplicate verdicts and events: one outcome, one set of outputs', async () => {
    const { uploadId, blobName } = await issueAndPut(createUpload, photo);
    const created = await blobCreatedEvent(runtime.landing, blobName);
    const clean = await verdict(blobName, 'No threats found');
    // A concurrent delivery may lose a race and throw for the host to retry.
    await Promise.allSettled([deliver(clean), deliver(created), deliver(clean), deliver(created)]);
    await deliver(clean);
    await deliver(created);
    const first = await status(uploadId);
    expect(first.status).to.equal('processed');
    await deliver(clean);
    expect((await status(uploadId)).completedAt).to.equal(first.completedAt);
    expect(await outputs(uploadId)).to.have.length(2);
  });

  it('ignores verdicts for a stale eTag, another container or another topic', async () => {
    const { uploadId, blobName } = await issueAndPut(createUpload, photo);
    await deliver(await blobCreatedEvent(runtime.landing, blobName));
    const otherContainer = runtime.landing.url.replace(/\/uploads$/, '/processed');
    await deliver(await verdict(blobName, 'Malicious', { eTag: '0x8DC0000000000000' }));
    await deliver(await verdict(blobName, 'No threats found', { eTag: '0x8DC0000000000000' }));
    await deliver(await verdict(blobName, 'Malicious', { url: `${otherContainer}/${blobName}` }));
    await deliver(
      await verdict(blobName, 'Malicious', {
        topic: topic.replace(/-scan-results$/, '-elsewhere'),
      }),
    );
    expect(await status(uploadId)).to.deep.include({
      uploadId,
      status: 'pending',
      stage: 'scanning',
    });
    expect(await landed(blobName)).to.deep.equal(['blob']);

    await deliver(await verdict(blobName, 'No threats found'));
    expect((await status(uploadId)).status).to.equal('processed');
  });

  it('keeps nothing for the scan of a tombstone, which Defender scans like any write', async () => {
    const { uploadId, blobName } = await issueAndPut(createUpload, photo);
    await deliver(await verdict(blobName, 'No threats found'));
    await deliver(await blobCreatedEvent(runtime.landing, blobName));
    expect((await status(uploadId)).status).to.equal('processed');
    expect(await landed(blobName)).to.deep.equal(['tombstone']);
    const gateRecords = async () => {
      const names: string[] = [];
      for await (const blob of runtime.processed.listBlobsFlat({ prefix: `${uploadId}/gate/` }))
        names.push(blob.name);
      return names.sort();
    };
    const before = await gateRecords();

    await deliver(await verdict(blobName, 'No threats found'));
    expect(await gateRecords()).to.deep.equal(before);
    expect(log.some((l) => /scan result .* is for a tombstone; ignored/.test(l.text))).to.equal(
      true,
    );
  });

  it('fails an upload whose verdict never arrives once the wait is over, and tombstones its blob', async () => {
    const { uploadId, blobName } = await issueAndPut(createUpload, photo);
    await deliver(await blobCreatedEvent(runtime.landing, blobName));
    const late = await verdict(blobName, 'No threats found');
    const queue = runtime.eventsQueue!;
    // The check is invisible until the wait is over.
    expect(
      (await queue.receiveMessages({ numberOfMessages: 32 })).receivedMessageItems,
    ).to.have.length(0);
    await sleep(TIMEOUT_SECONDS * 1000 + 300);
    const [check] = (await queue.receiveMessages()).receivedMessageItems;
    expect(check, 'a timeout check').to.not.equal(undefined);
    const text = Buffer.from(check.messageText, 'base64').toString('utf8');
    await deliver(text);

    expect(await status(uploadId)).to.include({ status: 'failed', reason: 'scan-timeout' });
    expect(await landed(blobName)).to.deep.equal(['tombstone']);
    // A verdict arriving after the wait changes nothing.
    await deliver(late);
    expect(await status(uploadId)).to.include({ status: 'failed', reason: 'scan-timeout' });
  });

  it('re-schedules a timeout check that arrives before the wait is over', async () => {
    const { uploadId, blobName } = await issueAndPut(createUpload, photo);
    await deliver(await blobCreatedEvent(runtime.landing, blobName));
    const properties = await runtime.landing.getBlobClient(blobName).getProperties();
    await deliver({ type: 'directdrop.ScanVerdictTimeoutCheck', uploadId, eTag: properties.etag });
    expect(await status(uploadId)).to.include({ status: 'pending', stage: 'scanning' });
    expect(await landed(blobName)).to.deep.equal(['blob']);
  });

  it('waits only for a version that exists: a stale or vanished one records nothing', async () => {
    const { uploadId, blobName } = await issueAndPut(createUpload, photo);
    const event = await blobCreatedEvent(runtime.landing, blobName);
    await deliver({ ...event, data: { ...event.data, eTag: '"0x8DC0000000000001"' } });
    expect(log.some((l) => l.text.includes('is changed; nothing recorded'))).to.equal(true);
    expect(await outputs(uploadId)).to.deep.equal([]);

    await runtime.landing.getBlobClient(blobName).delete();
    await deliver(event);
    expect(log.some((l) => l.text.includes('is gone; nothing recorded'))).to.equal(true);
    expect(await readManifest(runtime.processed, uploadId)).to.equal(undefined);
  });

  it('records a waiting upload failed when its verdict or timeout check is poisoned', async () => {
    const recordPoisoned = recordPoisonedEventHandler(() => runtime);
    const poisoned = (message: unknown) =>
      recordPoisoned(message, invocationContext('recordPoisonedEvent', log));
    const { uploadId, blobName } = await issueAndPut(createUpload, photo);
    await deliver(await blobCreatedEvent(runtime.landing, blobName));
    const { etag } = await runtime.landing.getBlobClient(blobName).getProperties();

    const clean = await verdict(blobName, 'No threats found');
    await poisoned({ type: 'directdrop.ScanVerdictTimeoutCheck', uploadId, eTag: etag });
    const failed = await status(uploadId);
    expect(failed).to.include({ status: 'failed', reason: 'processing-failed' });
    // Like every recorded outcome, it tombstones the untrusted blob.
    expect(await landed(blobName)).to.deep.equal(['tombstone']);

    // So a verdict or a poisoned message arriving after it changes nothing.
    await deliver(clean);
    await poisoned(clean);
    expect(await status(uploadId)).to.deep.equal(failed);
    expect(await outputs(uploadId)).to.deep.equal([]);
  });

  for (const [resultType, policy, expected] of [
    ['Error', 'fail', { status: 'failed', reason: 'scan-failed' }],
    ['Not scanned', 'reject', { status: 'rejected', reason: 'not-scanned' }],
    ['Not scanned', 'process', { status: 'processed' }],
  ] as const) {
    it(`follows the ${policy} policy for an ${resultType} verdict`, async () => {
      const saved = runtime.settings.scanUnverifiedPolicy;
      runtime.settings.scanUnverifiedPolicy = policy;
      try {
        const { uploadId, blobName } = await issueAndPut(createUpload, photo);
        await deliver(await verdict(blobName, resultType));
        await deliver(await blobCreatedEvent(runtime.landing, blobName));
        expect(await status(uploadId)).to.include(expected);
        if (policy !== 'process') expect(await landed(blobName)).to.deep.equal(['tombstone']);
      } finally {
        runtime.settings.scanUnverifiedPolicy = saved;
      }
    });
  }
});
