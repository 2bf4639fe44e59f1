import { expect } from 'chai';
import sharp from 'sharp';
import { processUploadEventHandler } from '../../functions/handlers/process-upload';
import { getUploadStatusHandler } from '../../functions/handlers/get-upload-status';
import { createUploadHandler } from '../../functions/handlers/create-upload';
import type { Runtime } from '../../functions/adapters/runtime';
import { SETTING_KEYS } from '../../functions/core/settings';
import { outputPrefix } from '../../functions/core/manifest';
import { readManifest } from '../../functions/adapters/manifest-store';
import { type AzuriteSandbox, startAzuriteSandbox } from '../../local/azurite-sandbox';
import { blobCreatedEvent } from '../helpers/events';
import {
  type LoggedLine,
  bodyOf,
  getStatus,
  invocationContext,
  runtimeFor,
} from '../helpers/functions';
import {
  pixelBomb,
  sidewaysPhotoWithGps,
  textPretendingToBeJpeg,
  truncatedJpeg,
} from '../helpers/images';
import { rejection } from '../helpers/rejection';
import {
  type UploadOptions,
  blobsNamed,
  failingTombstones,
  issueAndPut,
  processedBlobsOf,
} from '../helpers/uploads';

describe('process-upload (against Azurite)', function () {
  this.timeout(60_000);
  let fixture: AzuriteSandbox;
  let runtime: Runtime;
  const log: LoggedLine[] = [];
  let processUploadEvent: ReturnType<typeof processUploadEventHandler>;
  let getUploadStatus: ReturnType<typeof getUploadStatusHandler>;
  let createUpload: ReturnType<typeof createUploadHandler>;

  before(async () => {
    fixture = await startAzuriteSandbox();
    // A small byte limit lets a real oversize blob be cheap to make.
    runtime = runtimeFor({
      ...fixture.env,
      [SETTING_KEYS.maxUploadBytes]: String(2 * 1024 * 1024),
    });
    processUploadEvent = processUploadEventHandler(() => runtime);
    getUploadStatus = getUploadStatusHandler(() => runtime);
    createUpload = createUploadHandler(() => runtime);
  });
  after(() => fixture.stop());

  const upload = (bytes: Buffer, options?: UploadOptions) =>
    issueAndPut(createUpload, bytes, options);

  const deliver = (event: unknown) =>
    processUploadEvent(event, invocationContext('processUploadEvent', log));
  const status = async (uploadId: string) => {
    const response = await getUploadStatus(
      getStatus(uploadId),
      invocationContext('getUploadStatus'),
    );
    return { code: response.status, body: bodyOf(response) };
  };
  const landed = (blobName: string) => blobsNamed(runtime.landing, blobName);
  const outputBlobs = (uploadId: string) => processedBlobsOf(runtime.processed, uploadId);

  it('turns a real upload into oriented, metadata-free variants that the status endpoint serves', async () => {
    const photo = await sidewaysPhotoWithGps(2400, 1600);
    const { uploadId, blobName } = await upload(photo);
    expect((await status(uploadId)).body).to.deep.include({
      uploadId,
      status: 'pending',
      stage: 'processing',
    });

    await deliver(await blobCreatedEvent(runtime.landing, blobName));

    const { code, body } = await status(uploadId);
    expect(code).to.equal(200);
    expect(body.status).to.equal('processed');
    // The original, EXIF and GPS included, is gone from the landing container: a tombstone holds its name.
    expect(await landed(blobName)).to.deep.equal(['tombstone']);
    expect(body.original).to.deep.equal({
      format: 'image/jpeg',
      width: 1600,
      height: 2400,
      size: photo.length,
    });
    const outputs = body.outputs as Array<Record<string, unknown>>;
    expect(outputs.map((o) => [o.name, o.width, o.height])).to.deep.equal([
      ['thumb', 320, 480],
      ['display', 1600, 2400],
    ]);
    for (const output of outputs) {
      // Nothing in a read URL leads back to the upload id, the key to the status endpoint.
      expect(output.url as string).not.to.contain(uploadId);
      const response = await fetch(output.url as string);
      expect(response.status).to.equal(200);
      expect(response.headers.get('content-type')).to.equal('image/webp');
      const bytes = Buffer.from(await response.arrayBuffer());
      expect(bytes.length).to.equal(output.size);
      const metadata = await sharp(bytes).metadata();
      expect([metadata.format, metadata.width, metadata.height]).to.deep.equal([
        'webp',
        output.width,
        output.height,
      ]);
      expect(metadata.exif).to.equal(undefined);
      // The read URL is read-only: it cannot replace the output.
      expect(
        (
          await fetch(output.url as string, {
            method: 'PUT',
            body: 'x',
            headers: { 'x-ms-blob-type': 'BlockBlob' },
          })
        ).status,
      ).to.equal(403);
    }
  });

  it('does no work twice for a duplicate event and leaves exactly one set of outputs', async () => {
    const { uploadId, blobName } = await upload(await sidewaysPhotoWithGps(800, 600));
    const event = await blobCreatedEvent(runtime.landing, blobName);
    await deliver(event);
    const before = await runtime.processed
      .getBlobClient(`${uploadId}/manifest.json`)
      .getProperties();
    await deliver(event);
    await deliver([event]);
    const after = await runtime.processed
      .getBlobClient(`${uploadId}/manifest.json`)
      .getProperties();
    expect(after.etag).to.equal(before.etag);
    expect(await outputBlobs(uploadId)).to.have.length(4);
  });

  it('never lets an out-of-order older event replace the newer outcome', async () => {
    const first = await sidewaysPhotoWithGps(800, 600);
    const { uploadId, blobName } = await upload(first);
    const older = await blobCreatedEvent(runtime.landing, blobName);
    // A second version of the same blob (possible with CopyBlob, never through our create-only SAS),
    // padded after its end marker to the declared size so that only its version differs.
    const newer = await sidewaysPhotoWithGps(640, 480);
    expect(newer.length).to.be.below(first.length);
    await runtime.landing
      .getBlockBlobClient(blobName)
      .uploadData(Buffer.concat([newer, Buffer.alloc(first.length - newer.length)]));
    const newerEvent = await blobCreatedEvent(runtime.landing, blobName);

    await deliver(newerEvent);
    await deliver(older);
    const { body } = await status(uploadId);
    expect((body.original as Record<string, number>).width).to.equal(480);
    expect(await outputBlobs(uploadId)).to.have.length(4);
    const olderFolder = runtime.processed.listBlobsFlat({
      prefix: `${outputPrefix(uploadId, older.data.eTag)}/`,
    });
    expect((await olderFolder.next()).done).to.equal(true);
  });

  it('skips an event whose blob version has since changed, since the newer event follows', async () => {
    const { uploadId, blobName } = await upload(await sidewaysPhotoWithGps(800, 600));
    const older = await blobCreatedEvent(runtime.landing, blobName);
    await runtime.landing
      .getBlockBlobClient(blobName)
      .uploadData(await sidewaysPhotoWithGps(640, 480));
    await deliver(older);
    expect((await status(uploadId)).body.status).to.equal('pending');
    expect(await outputBlobs(uploadId)).to.deep.equal([]);
  });

  const MAX = 2 * 1024 * 1024;
  const rejections: Array<[string, () => Promise<Buffer>, string, UploadOptions?]> = [
    ['a text file named .jpg', async () => textPretendingToBeJpeg, 'not-an-image'],
    ['a truncated JPEG', truncatedJpeg, 'corrupt'],
    ['a pixel bomb', () => pixelBomb(), 'too-many-pixels'],
    // The API never issues a URL for more than the limit, so the client claims the limit.
    [
      'an oversize blob',
      async () => Buffer.alloc(MAX + 10, 0xff),
      'too-large',
      { declaredSize: MAX },
    ],
    [
      'a blob longer than declared',
      () => sidewaysPhotoWithGps(400, 300),
      'size-mismatch',
      { declaredSize: 100 },
    ],
  ];
  for (const [what, bytes, reason, options] of rejections) {
    it(`rejects ${what} with ${reason}, then keeps processing the next message`, async () => {
      const bad = await upload(await bytes(), options);
      await deliver(await blobCreatedEvent(runtime.landing, bad.blobName));
      const { body } = await status(bad.uploadId);
      expect(body).to.include({ uploadId: bad.uploadId, status: 'rejected', reason });
      expect(body.message).to.be.a('string');
      expect(await outputBlobs(bad.uploadId)).to.deep.equal([`${bad.uploadId}/manifest.json`]);
      expect(await landed(bad.blobName)).to.deep.equal(['tombstone']);

      const good = await upload(await sidewaysPhotoWithGps(400, 300));
      await deliver(await blobCreatedEvent(runtime.landing, good.blobName));
      expect((await status(good.uploadId)).body.status).to.equal('processed');
    });
  }

  it('records nothing for a forged event naming a processed upload at another version', async () => {
    const { uploadId, blobName } = await upload(await sidewaysPhotoWithGps(400, 300));
    const event = await blobCreatedEvent(runtime.landing, blobName);
    await deliver(event);
    const before = await status(uploadId);
    expect(before.body.status).to.equal('processed');
    const forged = {
      ...event,
      data: {
        ...event.data,
        eTag: '"0xFORGED"',
        sequencer: 'F'.repeat(32),
        contentLength: 10 ** 12,
      },
    };
    await deliver(forged);
    const after = (await status(uploadId)).body;
    expect(after).to.include({ status: 'processed', completedAt: before.body.completedAt });
  });

  it('records nothing for a forged event naming a landed blob at a version that never existed', async () => {
    const { uploadId, blobName } = await upload(await sidewaysPhotoWithGps(400, 300));
    const event = await blobCreatedEvent(runtime.landing, blobName);
    await deliver({
      ...event,
      data: { ...event.data, eTag: '"0xFORGED"', contentLength: 10 ** 12 },
    });
    expect((await status(uploadId)).body.status).to.equal('pending');
    await deliver(event);
    expect((await status(uploadId)).body.status).to.equal('processed');
  });

  it('rejects by the real length of the blob before downloading, saying both sizes', async () => {
    const photo = await sidewaysPhotoWithGps(400, 300);
    const { uploadId, blobName } = await upload(photo, { declaredSize: photo.length - 1 });
    const event = await blobCreatedEvent(runtime.landing, blobName);
    // The event understates the length; the blob's properties do not.
    event.data.contentLength = photo.length - 1;
    await deliver(event);
    const { body } = await status(uploadId);
    expect(body).to.include({ status: 'rejected', reason: 'size-mismatch' });
    expect(body.message).to.equal(
      `The upload holds ${photo.length} bytes, not the ${photo.length - 1} declared when its upload URL was issued.`,
    );
    expect(await landed(blobName)).to.deep.equal(['tombstone']);
  });

  it('rejects an oversize blob by its real length even when the event understates it', async () => {
    const { uploadId, blobName } = await upload(Buffer.alloc(MAX + 1024, 1), { declaredSize: 100 });
    const event = await blobCreatedEvent(runtime.landing, blobName);
    event.data.contentLength = 100;
    await deliver(event);
    expect((await status(uploadId)).body).to.include({ status: 'rejected', reason: 'too-large' });
  });

  it('rejects by the bytes read when the event overstates a short blob as the declared size', async () => {
    const photo = await sidewaysPhotoWithGps(400, 300);
    const { uploadId, blobName } = await upload(photo, { declaredSize: photo.length + 50 });
    const event = await blobCreatedEvent(runtime.landing, blobName);
    event.data.contentLength = photo.length + 50;
    await deliver(event);
    const { body } = await status(uploadId);
    expect(body).to.include({ status: 'rejected', reason: 'size-mismatch' });
    expect(body.message).to.match(new RegExp(`holds ${photo.length} bytes`));
  });

  it('leaves one manifest and one set of outputs when the same event is delivered twice at once', async () => {
    const { uploadId, blobName } = await upload(await sidewaysPhotoWithGps(800, 600));
    const event = await blobCreatedEvent(runtime.landing, blobName);
    await Promise.all([deliver(event), deliver(event)]);
    expect((await status(uploadId)).body.status).to.equal('processed');
    expect(await outputBlobs(uploadId)).to.have.length(4);
  });

  it('drops truncated JSON and undecoded Base64 of a real event without an outcome', async () => {
    const { uploadId, blobName } = await upload(await sidewaysPhotoWithGps(400, 300));
    const event = await blobCreatedEvent(runtime.landing, blobName);
    const json = JSON.stringify(event);
    const before = log.length;
    await deliver(json.slice(0, json.length - 2));
    await deliver(Buffer.from(json).toString('base64'));
    expect(log.slice(before).filter((l) => l.level === 'warning')).to.have.length(2);
    expect((await status(uploadId)).body.status).to.equal('pending');
    expect(await outputBlobs(uploadId)).to.deep.equal([]);
  });

  it('logs and drops malformed messages without throwing', async () => {
    const before = log.length;
    await deliver('definitely not an event');
    await deliver({ eventType: 'Microsoft.Storage.BlobCreated', subject: 42 });
    await deliver(null);
    const lines = log.slice(before);
    expect(lines.filter((l) => l.level === 'warning')).to.have.length(3);
  });

  it('ignores events for other containers and for APIs that commit nothing', async () => {
    const { uploadId, blobName } = await upload(await sidewaysPhotoWithGps(400, 300));
    const event = await blobCreatedEvent(runtime.landing, blobName);
    await deliver({ ...event, data: { ...event.data, api: 'PutBlock' } });
    await deliver({ ...event, subject: event.subject.replace('/uploads/', '/processed/') });
    expect((await status(uploadId)).body.status).to.equal('pending');
  });

  it('records nothing for an event whose blob no longer exists', async () => {
    const { uploadId, blobName } = await upload(await sidewaysPhotoWithGps(400, 300));
    const event = await blobCreatedEvent(runtime.landing, blobName);
    await runtime.landing.deleteBlob(blobName);
    await deliver(event);
    expect(await outputBlobs(uploadId)).to.deep.equal([]);
    // Still issued, with nothing received: no outcome.
    expect((await status(uploadId)).body).to.include({
      status: 'pending',
      stage: 'awaiting-upload',
    });
  });

  it('tombstones the landing blob on redelivery when a crash came between the manifest and the tombstone', async () => {
    const { uploadId, blobName } = await upload(await sidewaysPhotoWithGps(400, 300));
    const event = await blobCreatedEvent(runtime.landing, blobName);
    const crashingWorker = processUploadEventHandler(() => ({
      ...runtime,
      landing: failingTombstones(runtime.landing),
    }));
    await rejection(crashingWorker(event, invocationContext('processUploadEvent')), Error);
    expect(await landed(blobName)).to.deep.equal(['blob']);
    const manifest = runtime.processed.getBlobClient(`${uploadId}/manifest.json`);
    const recorded = (await manifest.getProperties()).etag;
    expect((await status(uploadId)).body.status).to.equal('processed');

    await deliver(event);
    expect(await landed(blobName)).to.deep.equal(['tombstone']);
    await deliver(event);
    expect((await manifest.getProperties()).etag).to.equal(recorded);
  });

  it('keeps no original by default: the landing blob goes and the originals container stays empty', async () => {
    const { uploadId, blobName } = await upload(await sidewaysPhotoWithGps(400, 300));
    await deliver(await blobCreatedEvent(runtime.landing, blobName));
    const manifest = (await readManifest(runtime.processed, uploadId))?.manifest;
    expect(manifest).to.include({ status: 'processed' }).and.not.have.property('originalBlobName');
    const kept = await runtime.originals.listBlobsFlat({ prefix: `${uploadId}/` }).next();
    expect(kept.done).to.equal(true);
  });

  it('keeps the validated original, privately and named in the manifest, when the stack opts in', async () => {
    const keeping = runtimeFor({
      ...fixture.env,
      [SETTING_KEYS.maxUploadBytes]: String(MAX),
      [SETTING_KEYS.keepOriginals]: 'true',
    });
    const photo = await sidewaysPhotoWithGps(400, 300);
    const { uploadId, blobName } = await upload(photo);
    const worker = processUploadEventHandler(() => keeping);
    await worker(
      await blobCreatedEvent(runtime.landing, blobName),
      invocationContext('processUploadEvent'),
    );
    const manifest = (await readManifest(runtime.processed, uploadId))?.manifest;
    if (manifest?.status !== 'processed') throw new Error(`not processed: ${manifest?.status}`);
    expect(manifest.originalBlobName).to.match(
      new RegExp(`^${uploadId}/${manifest.outputPrefix}/`),
    );
    const original = runtime.originals.getBlobClient(manifest.originalBlobName!);
    expect((await original.downloadToBuffer()).equals(photo)).to.equal(true);
    expect(await landed(blobName)).to.deep.equal(['tombstone']);
    // Never served: the status response names no original blob and signs no URL for it.
    expect(JSON.stringify((await status(uploadId)).body)).not.to.contain(
      runtime.settings.originalsContainer,
    );
  });

  it('answers 400 for a malformed id and 404 for an unknown one, as JSON', async () => {
    expect(await status('not-a-uuid')).to.deep.include({ code: 400 });
    const unknown = await status(crypto.randomUUID());
    expect(unknown.code).to.equal(404);
    expect(unknown.body).to.have.nested.property('error.code', 'upload-not-found');
  });
});
