import { expect } from 'chai';
import { processUploadEventHandler } from '../../functions/handlers/process-upload';
import { getUploadStatusHandler } from '../../functions/handlers/get-upload-status';
import { createUploadHandler } from '../../functions/handlers/create-upload';
import type { Runtime } from '../../functions/adapters/runtime';
import { readSasPolicy } from '../../functions/core/sas-policy';
import { SAS_SERVICE_VERSION } from '../../functions/adapters/sas-signer';
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
import { rejection } from '../helpers/rejection';
import { blobsNamed } from '../helpers/uploads';

/**
 * The create permission of an issued upload URL allows more than a plain upload: Copy
 * Blob to the new name, page and append blobs, snapshots. Each is refused and deleted.
 */
describe('process-upload refuses what is not a plain block-blob upload (against Azurite)', function () {
  this.timeout(60_000);
  let fixture: AzuriteSandbox;
  let runtime: Runtime;
  let processUploadEvent: ReturnType<typeof processUploadEventHandler>;
  let getUploadStatus: ReturnType<typeof getUploadStatusHandler>;
  let createUpload: ReturnType<typeof createUploadHandler>;

  before(async () => {
    fixture = await startAzuriteSandbox();
    runtime = runtimeFor(fixture.env);
    processUploadEvent = processUploadEventHandler(() => runtime);
    getUploadStatus = getUploadStatusHandler(() => runtime);
    createUpload = createUploadHandler(() => runtime);
  });
  after(() => fixture.stop());

  const deliver = (event: unknown) =>
    processUploadEvent(event, invocationContext('processUploadEvent'));
  const status = async (uploadId: string) =>
    bodyOf(await getUploadStatus(getStatus(uploadId), invocationContext('getUploadStatus')));
  /** An upload URL from the real handler, for a file of `size` bytes. */
  async function issue(
    size: number,
  ): Promise<{ uploadId: string; uploadUrl: string; blobName: string }> {
    const response = await createUpload(
      postJson(JSON.stringify({ fileName: 'photo.jpg', contentType: 'image/jpeg', size })),
      invocationContext('createUpload'),
    );
    const { uploadId, uploadUrl } = bodyOf(response) as { uploadId: string; uploadUrl: string };
    const path = new URL(uploadUrl).pathname.split('/').slice(3).join('/');
    return { uploadId, uploadUrl, blobName: decodeURIComponent(path) };
  }

  /** Refused, and nothing of it left: a tombstone holds the name, no snapshot stays. */
  async function expectRefusedAndTombstoned(uploadId: string, blobName: string) {
    expect(await status(uploadId)).to.include({ status: 'rejected', reason: 'not-a-plain-upload' });
    expect(await blobsNamed(runtime.landing, blobName)).to.deep.equal(['tombstone']);
  }

  it('refuses and tombstones a blob copied in server-side with Copy Blob through an issued URL', async () => {
    const photo = await sidewaysPhotoWithGps(400, 300);
    const source = `sources/${crypto.randomUUID()}.jpg`;
    await runtime.processed.getBlockBlobClient(source).uploadData(photo);
    const sourceUrl = await runtime.signer.signBlobUrl(
      runtime.settings.processedContainer,
      source,
      readSasPolicy(new Date(), 300),
    );
    const { uploadId, uploadUrl, blobName } = await issue(photo.length);
    const copy = await fetch(uploadUrl, {
      method: 'PUT',
      headers: { 'x-ms-copy-source': sourceUrl, 'x-ms-version': '2025-11-05' },
    });
    expect(copy.status).to.be.oneOf([201, 202]);
    await deliver(await blobCreatedEvent(runtime.landing, blobName, { api: 'CopyBlob' }));
    await expectRefusedAndTombstoned(uploadId, blobName);
  });

  it('refuses a copied blob by its properties even when the event claims Put Blob', async () => {
    const photo = await sidewaysPhotoWithGps(400, 300);
    const source = `sources/${crypto.randomUUID()}.jpg`;
    await runtime.processed.getBlockBlobClient(source).uploadData(photo);
    const { uploadId, blobName } = await issue(photo.length);
    await runtime.landing
      .getBlobClient(blobName)
      .syncCopyFromURL(
        await runtime.signer.signBlobUrl(
          runtime.settings.processedContainer,
          source,
          readSasPolicy(new Date(), 300),
        ),
      );
    await deliver(await blobCreatedEvent(runtime.landing, blobName));
    await expectRefusedAndTombstoned(uploadId, blobName);
  });

  it('refuses and tombstones a 1 TiB page blob created with an issued URL', async () => {
    const { uploadId, uploadUrl, blobName } = await issue(1000);
    const put = await fetch(uploadUrl, {
      method: 'PUT',
      headers: {
        'x-ms-blob-type': 'PageBlob',
        'x-ms-blob-content-length': String(2 ** 40),
        'x-ms-version': '2025-11-05',
      },
    });
    expect(put.status).to.equal(201);
    // Azure announces a page blob's creation as Put Blob of blobType PageBlob.
    await deliver(await blobCreatedEvent(runtime.landing, blobName, { blobType: 'PageBlob' }));
    await expectRefusedAndTombstoned(uploadId, blobName);
  });

  it('refuses a page blob whose pages changed after its event, and tombstones it anyway', async () => {
    const { uploadId, blobName } = await issue(1000);
    const pageBlob = runtime.landing.getPageBlobClient(blobName);
    await pageBlob.create(4096);
    const event = await blobCreatedEvent(runtime.landing, blobName, { blobType: 'PageBlob' });
    await pageBlob.uploadPages(Buffer.alloc(512, 7), 0, 512);
    await deliver(event);
    await expectRefusedAndTombstoned(uploadId, blobName);
  });

  it('tombstones a refused page blob on redelivery after a crash, even though its pages changed since', async () => {
    const { uploadId, blobName } = await issue(1000);
    const pageBlob = runtime.landing.getPageBlobClient(blobName);
    await pageBlob.create(4096);
    const event = await blobCreatedEvent(runtime.landing, blobName, { blobType: 'PageBlob' });
    const crashing = new Proxy(runtime.landing, {
      get: (target, property) =>
        property === 'deleteBlob'
          ? () => Promise.reject(new Error('host crashed'))
          : Reflect.get(target, property, target),
    });
    const crashingWorker = processUploadEventHandler(() => ({ ...runtime, landing: crashing }));
    await rejection(crashingWorker(event, invocationContext('processUploadEvent')), Error);
    await pageBlob.uploadPages(Buffer.alloc(512, 7), 0, 512);
    await deliver(event);
    await expectRefusedAndTombstoned(uploadId, blobName);
  });

  it('refuses and tombstones an append blob created with an issued URL', async () => {
    const { uploadId, uploadUrl, blobName } = await issue(1000);
    const put = await fetch(uploadUrl, {
      method: 'PUT',
      headers: { 'x-ms-blob-type': 'AppendBlob', 'x-ms-version': '2025-11-05' },
    });
    expect(put.status).to.equal(201);
    // Whatever the event says, the blob's own properties decide.
    await deliver(await blobCreatedEvent(runtime.landing, blobName));
    await expectRefusedAndTombstoned(uploadId, blobName);
  });

  it('refuses an upload that has snapshots, and tombstones it, snapshots removed', async () => {
    const photo = await sidewaysPhotoWithGps(400, 300);
    const { uploadId, uploadUrl, blobName } = await issue(photo.length);
    const put = await fetch(uploadUrl, {
      method: 'PUT',
      headers: { 'x-ms-blob-type': 'BlockBlob', 'x-ms-version': '2025-11-05' },
      body: new Uint8Array(photo),
    });
    expect(put.status).to.equal(201);
    const snapshot = await fetch(`${uploadUrl}&comp=snapshot`, {
      method: 'PUT',
      headers: { 'x-ms-version': '2025-11-05' },
    });
    expect(snapshot.status).to.equal(201);
    expect((await blobsNamed(runtime.landing, blobName)).sort()).to.deep.equal([
      'blob',
      'snapshot',
    ]);
    await deliver(await blobCreatedEvent(runtime.landing, blobName));
    await expectRefusedAndTombstoned(uploadId, blobName);
  });

  /** The worker's view of the landing container with every download refused: a rejection must come before one. */
  const withoutDownloads = (): Runtime => ({
    ...runtime,
    landing: new Proxy(runtime.landing, {
      get: (target, property) =>
        property === 'getBlobClient'
          ? (name: string) =>
              new Proxy(target.getBlobClient(name), {
                get: (blob, member) =>
                  member === 'download'
                    ? () => Promise.reject(new Error('downloaded a blob the worker should refuse'))
                    : Reflect.get(blob, member, blob),
              })
          : Reflect.get(target, property, target),
    }),
  });

  for (const tier of ['Archive', 'Cold', 'Cool']) {
    it(`rejects an upload PUT with x-ms-access-tier: ${tier} from its properties, before any download and without an error`, async () => {
      const photo = await sidewaysPhotoWithGps(400, 300);
      const { uploadId, uploadUrl, blobName } = await issue(photo.length);
      const put = await fetch(uploadUrl, {
        method: 'PUT',
        headers: {
          'x-ms-blob-type': 'BlockBlob',
          'x-ms-access-tier': tier,
          'x-ms-version': SAS_SERVICE_VERSION,
        },
        body: new Uint8Array(photo),
      });
      expect(put.status).to.equal(201);
      const log: LoggedLine[] = [];
      const worker = processUploadEventHandler(withoutDownloads);
      await worker(
        await blobCreatedEvent(runtime.landing, blobName),
        invocationContext('processUploadEvent', log),
      );
      expect(log.filter((line) => line.level === 'error')).to.deep.equal([]);
      const body = await status(uploadId);
      expect(body).to.include({ status: 'rejected', reason: 'not-a-plain-upload' });
      expect(body.message).to.contain(tier);
      expect(await blobsNamed(runtime.landing, blobName)).to.deep.equal(['tombstone']);
    });
  }

  it('processes an upload whose PUT names the Hot tier, the default, explicitly', async () => {
    const photo = await sidewaysPhotoWithGps(400, 300);
    const { uploadId, uploadUrl, blobName } = await issue(photo.length);
    const put = await fetch(uploadUrl, {
      method: 'PUT',
      headers: {
        'x-ms-blob-type': 'BlockBlob',
        'x-ms-access-tier': 'Hot',
        'x-ms-version': SAS_SERVICE_VERSION,
      },
      body: new Uint8Array(photo),
    });
    expect(put.status).to.equal(201);
    await deliver(await blobCreatedEvent(runtime.landing, blobName));
    expect(await status(uploadId)).to.include({ status: 'processed' });
  });
});
