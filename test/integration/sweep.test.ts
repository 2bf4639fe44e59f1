/**
 * The sweep against Azurite, with one of each kind of leftover: tombstones in the landing
 * container and a zone, refused blobs of other types, an outcome whose tombstone never
 * came, an upload pending past the deadline, an output folder no manifest names, the gate
 * records of a finished upload, and an upload URL that expired unused.
 */
import { expect } from 'chai';
import type { Runtime } from '../../functions/adapters/runtime';
import { readManifest } from '../../functions/adapters/manifest-store';
import { STORAGE_NAMES, outputFolderPointerName } from '../../functions/core/definitions';
import { SETTING_KEYS } from '../../functions/core/settings';
import { createUploadHandler } from '../../functions/handlers/create-upload';
import { processUploadEventHandler } from '../../functions/handlers/process-upload';
import { SWEEP_BATCH } from '../../functions/core/sweep';
import { SWEEP_STATE_BLOB, runSweep, sweepHandler } from '../../functions/handlers/sweep';
import { type AzuriteSandbox, startAzuriteSandbox } from '../../local/azurite-sandbox';
import { buildScanResultEvent, localScanResultsTopic } from '../../local/malware-scan-event';
import { blobCreatedEvent } from '../helpers/events';
import {
  type LoggedLine,
  bodyOf,
  invocationContext,
  postJson,
  runtimeFor,
} from '../helpers/functions';
import { sidewaysPhotoWithGps } from '../helpers/images';
import { type TopicStandIn, startTopicStandIn } from '../helpers/topic';
import { blobsNamed, failingTombstones, issueAndPut } from '../helpers/uploads';

const HOUR = 3600_000;
const ZONE = { name: 'cameras', retentionDays: 3, maxSasHours: 48 };

describe('sweep (against Azurite)', function () {
  this.timeout(90_000);
  let fixture: AzuriteSandbox;
  let topic: TopicStandIn;
  let runtime: Runtime;
  let gated: Runtime;
  let scanTopic: string;

  before(async () => {
    fixture = await startAzuriteSandbox();
    topic = await startTopicStandIn();
    const env = {
      ...fixture.env,
      ...topic.env,
      [SETTING_KEYS.dropZones]: JSON.stringify([ZONE]),
    };
    runtime = runtimeFor(env);
    scanTopic = localScanResultsTopic(fixture.service.accountName);
    gated = runtimeFor({
      ...env,
      [SETTING_KEYS.malwareScanning]: 'true',
      [SETTING_KEYS.scanResultsTopic]: scanTopic,
    });
    await runtime.eventsQueue.createIfNotExists();
    await fixture.service.getContainerClient('dropzone-cameras').createIfNotExists();
  });
  after(async () => {
    await topic?.close();
    await fixture?.stop();
  });

  const deliver = (message: unknown, rt = runtime) =>
    processUploadEventHandler(() => rt)(message, invocationContext('processUploadEvent'));
  const upload = async (rt = runtime) =>
    issueAndPut(
      createUploadHandler(() => rt),
      await sidewaysPhotoWithGps(200, 150),
    );
  const processedBlobs = async (prefix: string) => {
    const names: string[] = [];
    for await (const blob of runtime.processed.listBlobsFlat({ prefix })) names.push(blob.name);
    return names;
  };

  it('removes each kind of leftover once it is old enough, and nothing else', async () => {
    // A processed upload: its tombstone is the landing leftover.
    const done = await upload();
    await deliver(await blobCreatedEvent(runtime.landing, done.blobName));
    expect(await blobsNamed(runtime.landing, done.blobName)).to.deep.equal(['tombstone']);

    // An outcome recorded and published whose tombstone never came.
    const unfinished = await upload();
    const crashing = { ...runtime, landing: failingTombstones(runtime.landing) };
    await deliver(await blobCreatedEvent(runtime.landing, unfinished.blobName), crashing).catch(
      () => undefined,
    );
    expect(await blobsNamed(runtime.landing, unfinished.blobName)).to.deep.equal(['blob']);

    // An upload whose event never came: pending past the deadline.
    const stuck = await upload();

    // Blobs directdrop never names, of the other types.
    await runtime.landing.getPageBlobClient('junk/disk.vhd').create(4096);
    await runtime.landing.getAppendBlobClient('junk/log.txt').create();

    // A zone blob, processed and tombstoned; its URLs live 48 hours.
    const zone = runtime.container('dropzone-cameras');
    await zone.getBlockBlobClient('cam-1/a.jpg').uploadData(await sidewaysPhotoWithGps(200, 150));
    await deliver(await blobCreatedEvent(zone, 'cam-1/a.jpg'));
    expect(await blobsNamed(zone, 'cam-1/a.jpg')).to.deep.equal(['tombstone']);

    // A folder no manifest names, beside the one the manifest does.
    const manifest = (await readManifest(runtime.processed, done.uploadId))?.manifest;
    if (manifest?.status !== 'processed') throw new Error('not processed');
    const stray = 'c'.repeat(32);
    await runtime.processed
      .getBlockBlobClient(outputFolderPointerName(done.uploadId, stray))
      .upload('', 0);
    await runtime.processed.getBlockBlobClient(`${stray}/thumb.webp`).upload('x', 1);

    // The gate's records of a finished upload.
    const scanned = await upload(gated);
    await deliver(await blobCreatedEvent(gated.landing, scanned.blobName), gated);
    const blob = gated.landing.getBlobClient(scanned.blobName);
    await deliver(
      buildScanResultEvent({
        accountName: gated.landing.accountName,
        containerName: gated.landing.containerName,
        blobName: scanned.blobName,
        url: blob.url,
        eTag: (await blob.getProperties()).etag ?? '',
        resultType: 'No threats found',
        malwareNamesFound: [],
        sha256: Buffer.alloc(32),
        scanFinishedTime: new Date(),
        topic: scanTopic,
      }),
      gated,
    );
    expect(await processedBlobs(`${scanned.uploadId}/gate/`)).to.have.length(2);

    // An upload URL that is never used.
    const unused = bodyOf(
      await createUploadHandler(() => runtime)(
        postJson(JSON.stringify({ fileName: 'u.jpg', contentType: 'image/jpeg', size: 100 })),
        invocationContext('createUpload'),
      ),
    );
    const unusedId = unused.uploadId as string;
    const unusedBlob = decodeURIComponent(
      new URL(unused.uploadUrl as string).pathname.split('/').slice(3).join('/'),
    );

    // Thirteen hours on: past every upload URL and the pending deadline, not the zone's URLs.
    const log: LoggedLine[] = [];
    const counts = await runSweep(
      runtime,
      new Date(Date.now() + 13 * HOUR),
      invocationContext('sweep', log),
    );
    expect(counts).to.deep.include({ finished: 1, gaveUp: 1, folders: 1, notUploaded: 1 });
    expect(counts.gateRecords).to.equal(2);
    expect(counts.deleted[STORAGE_NAMES.landingContainer]).to.equal(4); // 2 tombstones, 2 junk

    expect(await blobsNamed(runtime.landing, done.blobName)).to.deep.equal([]);
    expect(await blobsNamed(runtime.landing, scanned.blobName)).to.deep.equal([]);
    expect(await blobsNamed(runtime.landing, 'junk/disk.vhd')).to.deep.equal([]);
    expect(await blobsNamed(runtime.landing, 'junk/log.txt')).to.deep.equal([]);
    expect(await blobsNamed(runtime.landing, unfinished.blobName)).to.deep.equal(['tombstone']);
    expect(await blobsNamed(runtime.landing, stuck.blobName)).to.deep.equal(['tombstone']);
    expect((await readManifest(runtime.processed, stuck.uploadId))?.manifest).to.include({
      status: 'failed',
      reason: 'processing-failed',
    });
    expect(await blobsNamed(zone, 'cam-1/a.jpg')).to.deep.equal(['tombstone']);
    expect(await processedBlobs(`${stray}/`)).to.deep.equal([]);
    expect(await processedBlobs(`${manifest.outputPrefix}/`)).to.have.length(2);
    expect(await processedBlobs(`${scanned.uploadId}/gate/`)).to.deep.equal([]);

    // The unused URL is closed for good and its upload failed, through the usual outcome.
    expect(await blobsNamed(runtime.landing, unusedBlob)).to.deep.equal(['tombstone']);
    const put = await fetch(unused.uploadUrl as string, {
      method: 'PUT',
      headers: unused.headers as Record<string, string>,
      body: new Uint8Array(100),
    });
    expect(put.status).to.be.oneOf([403, 409]);
    const owner = unusedBlob.split('/')[0];
    expect((await runtime.uploads.get(owner, unusedId))?.record).to.include({
      status: 'failed',
      reason: 'not-uploaded',
    });
    const [event] = topic.eventsOf(unusedId);
    expect(event.type).to.equal('directdrop.upload.failed');
    expect(event.data).to.include({ reason: 'not-uploaded' }).and.not.have.property('uploadedAt');
    expect(topic.eventsOf(unfinished.uploadId)).to.have.length.at.least(1);
    expect(new Set(topic.eventsOf(unfinished.uploadId).map((e) => e.id)).size).to.equal(1);

    // Two days on, the zone's tombstone goes too; the landing tombstones of the last run as well.
    const later = await runSweep(runtime, new Date(Date.now() + 49 * HOUR), invocationContext('s'));
    expect(later.deleted['dropzone-cameras']).to.equal(1);
    expect(await blobsNamed(zone, 'cam-1/a.jpg')).to.deep.equal([]);
    expect(await blobsNamed(runtime.landing, stuck.blobName)).to.deep.equal([]);
  });

  it('finishes an erasure whose inline path and work item both gave up', async () => {
    const { uploadId, blobName } = await upload();
    await deliver(await blobCreatedEvent(runtime.landing, blobName));
    const owner = blobName.split('/')[0];
    const stored = await runtime.uploads.get(owner, uploadId);
    // As if DELETE marked it and then nothing else ever ran.
    await runtime.uploads.markDeleted(owner, uploadId, stored!.etag);
    const counts = await runSweep(runtime, new Date(), invocationContext('sweep'));
    expect(counts.deletions).to.equal(1);
    expect(await runtime.uploads.get(owner, uploadId)).to.equal(undefined);
    expect(await readManifest(runtime.processed, uploadId)).to.equal(undefined);
    expect(topic.eventsOf(uploadId).map((e) => e.type)).to.deep.equal([
      'directdrop.upload.processed',
      'directdrop.upload.deleted',
    ]);
  });

  it('does a bounded batch per run and resumes where the last run stopped', async () => {
    const names = Array.from(
      { length: SWEEP_BATCH + 10 },
      (_, i) => `bulk/${String(i).padStart(4, '0')}`,
    );
    for (let i = 0; i < names.length; i += 50)
      await Promise.all(
        names
          .slice(i, i + 50)
          .map((name) => runtime.landing.getBlockBlobClient(name).upload('', 0)),
      );
    const later = () => new Date(Date.now() + 2 * HOUR);
    const bulkLeft = async () => {
      let n = 0;
      for await (const blob of runtime.landing.listBlobsFlat({ prefix: 'bulk/' })) if (blob) n++;
      return n;
    };
    const first = await runSweep(runtime, later(), invocationContext('sweep'));
    expect(first.deleted[STORAGE_NAMES.landingContainer]).to.equal(SWEEP_BATCH);
    // One batch, however much is left: the rest waits for the next run.
    expect(await bulkLeft()).to.be.at.least(10);
    await runSweep(runtime, later(), invocationContext('sweep'));
    expect(await bulkLeft()).to.equal(0);
  });

  it('logs its counts, and keeps its place in a small state blob', async () => {
    const log: LoggedLine[] = [];
    await sweepHandler(() => runtime)(
      { isPastDue: false, schedule: { adjustForDST: false } } as never,
      invocationContext('sweep', log),
    );
    expect(
      log.some((l) => l.level === 'information' && l.text.startsWith('Sweep: deleted')),
    ).to.equal(true);
    expect(await runtime.processed.getBlobClient(SWEEP_STATE_BLOB).exists()).to.equal(true);
  });
});
