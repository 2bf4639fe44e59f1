import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { QueueServiceClient } from '@azure/storage-queue';
import type { ContainerClient } from '@azure/storage-blob';
import { processUploadEventHandler } from '../../functions/handlers/process-upload';
import { getUploadStatusHandler } from '../../functions/handlers/get-upload-status';
import { createUploadHandler } from '../../functions/handlers/create-upload';
import { recordPoisonedEventHandler } from '../../functions/handlers/record-poisoned-event';
import type { Runtime } from '../../functions/adapters/runtime';
import { STORAGE_NAMES } from '../../functions/core/definitions';
import { SETTING_KEYS } from '../../functions/core/settings';
import { type AzuriteSandbox, startAzuriteSandbox } from '../../local/azurite-sandbox';
import { buildScanResultEvent, localScanResultsTopic } from '../../local/malware-scan-event';
import { EICAR_MALWARE_NAME, EICAR_TEST_STRING } from '../../local/malware-scanner';
import { blobCreatedEvent } from '../helpers/events';
import {
  type LoggedLine,
  bodyOf,
  getStatus,
  invocationContext,
  runtimeFor,
} from '../helpers/functions';
import { sidewaysPhotoWithGps, textPretendingToBeJpeg } from '../helpers/images';
import { blobsNamed, issueAndPut } from '../helpers/uploads';

/**
 * One upload URL, one upload: once a blob has landed (and, after its outcome, as a
 * tombstone) its create-only URL cannot write it again, so a later PUT is refused by
 * storage itself and nothing follows. Azurite answers such a PUT 403
 * AuthorizationPermissionMismatch; Azure answers 409 UnauthorizedBlobOverwrite
 * (Azure/Azurite#371, Azure/azure-cli#19203).
 */
const REFUSED_OVERWRITE = [403, 409];

describe('single-use upload URLs (against Azurite)', function () {
  this.timeout(60_000);
  let fixture: AzuriteSandbox;
  let plain: Runtime;
  let gated: Runtime;
  let topic: string;

  before(async () => {
    fixture = await startAzuriteSandbox();
    plain = runtimeFor(fixture.env);
    topic = localScanResultsTopic(fixture.service.accountName);
    gated = runtimeFor({
      ...fixture.env,
      [SETTING_KEYS.malwareScanning]: 'true',
      [SETTING_KEYS.scanResultsTopic]: topic,
    });
    await QueueServiceClient.fromConnectionString(fixture.env.DirectdropStorage)
      .getQueueClient(STORAGE_NAMES.eventsQueue)
      .create();
  });
  after(() => fixture.stop());

  const deliver = (runtime: Runtime, message: unknown, log: LoggedLine[] = []) =>
    processUploadEventHandler(() => runtime)(message, invocationContext('processUploadEvent', log));
  /** The status answer without its freshly signed read URLs, which differ on every call. */
  const status = async (uploadId: string) => {
    const body = bodyOf(
      await getUploadStatusHandler(() => plain)(
        getStatus(uploadId),
        invocationContext('getUploadStatus'),
      ),
    );
    const { urlsExpireOn, outputs, ...rest } = body;
    const unsigned = (outputs as Array<Record<string, unknown>> | undefined)?.map(
      ({ url, ...output }) => ({ ...output, signed: typeof url === 'string' }),
    );
    return { ...rest, signed: typeof urlsExpireOn === 'string', outputs: unsigned };
  };

  /** Every blob of every container the app uses, with its version: what "nothing changed" means. */
  async function everything(): Promise<string[]> {
    const containers: ContainerClient[] = [plain.landing, plain.processed, plain.originals];
    const found: string[] = [];
    for (const container of containers)
      for await (const blob of container.listBlobsFlat({ includeSnapshots: true }))
        found.push(
          `${container.containerName}/${blob.name} ${blob.snapshot ?? ''} ${blob.properties.etag}`,
        );
    return found.sort();
  }

  async function put(url: string, bytes: Buffer) {
    const response = await fetch(url, {
      method: 'PUT',
      headers: { 'x-ms-blob-type': 'BlockBlob', 'Content-Type': 'image/jpeg' },
      body: new Uint8Array(bytes),
    });
    return { status: response.status, code: response.headers.get('x-ms-error-code') };
  }

  /** A PUT from a separate process, sharing nothing with this one but the URL. */
  async function putFromAnotherMachine(url: string, bytes: Buffer) {
    const script = `const r = await fetch(process.argv[1], { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob', 'Content-Type': 'image/jpeg' }, body: Buffer.from(process.argv[2], 'base64') }); console.log(r.status);`;
    const { stdout } = await promisify(execFile)(process.execPath, [
      '--input-type=module',
      '-e',
      script,
      url,
      bytes.toString('base64'),
    ]);
    return Number(stdout.trim());
  }

  /** The same size as `first`, other pixels: a second photo that would pass every check. */
  async function anotherPhotoLike(first: Buffer): Promise<Buffer> {
    const other = await sidewaysPhotoWithGps(64, 48);
    expect(other.length).to.be.below(first.length);
    return Buffer.concat([other, Buffer.alloc(first.length - other.length)]);
  }

  /** Re-PUTs through the same URL and proves storage refused it with nothing changed anywhere. */
  async function expectRefusedWithNothingChanged(
    runtime: Runtime,
    upload: { uploadId: string; blobName: string; uploadUrl: string },
    bytes: Buffer,
  ) {
    const before = { blobs: await everything(), status: await status(upload.uploadId) };
    const again = await put(upload.uploadUrl, bytes);
    expect(again.status, again.code ?? '').to.be.oneOf(REFUSED_OVERWRITE);
    expect(await putFromAnotherMachine(upload.uploadUrl, bytes)).to.be.oneOf(REFUSED_OVERWRITE);
    // Whatever event anyone sends for the blob as it now is changes nothing either.
    await deliver(runtime, await blobCreatedEvent(runtime.landing, upload.blobName));
    expect(await everything()).to.deep.equal(before.blobs);
    expect(await status(upload.uploadId)).to.deep.equal(before.status);
  }

  it('refuses a re-PUT after processed', async () => {
    const photo = await sidewaysPhotoWithGps(800, 600);
    const upload = await issueAndPut(
      createUploadHandler(() => plain),
      photo,
    );
    await deliver(plain, await blobCreatedEvent(plain.landing, upload.blobName));
    expect(await status(upload.uploadId)).to.include({ status: 'processed' });
    expect(await blobsNamed(plain.landing, upload.blobName)).to.deep.equal(['tombstone']);
    await expectRefusedWithNothingChanged(plain, upload, await anotherPhotoLike(photo));
  });

  it('refuses a re-PUT after rejected', async () => {
    const upload = await issueAndPut(
      createUploadHandler(() => plain),
      textPretendingToBeJpeg,
    );
    await deliver(plain, await blobCreatedEvent(plain.landing, upload.blobName));
    expect(await status(upload.uploadId)).to.include({ status: 'rejected' });
    const photo = await sidewaysPhotoWithGps(100, 80);
    expect(photo.length).to.be.above(textPretendingToBeJpeg.length);
    await expectRefusedWithNothingChanged(
      plain,
      upload,
      photo.subarray(0, textPretendingToBeJpeg.length),
    );
  });

  it('refuses a re-PUT after malware', async () => {
    const eicar = Buffer.concat([
      Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
      Buffer.from(EICAR_TEST_STRING, 'latin1'),
    ]);
    const upload = await issueAndPut(
      createUploadHandler(() => gated),
      eicar,
    );
    await deliver(gated, await blobCreatedEvent(gated.landing, upload.blobName));
    const blob = gated.landing.getBlobClient(upload.blobName);
    await deliver(
      gated,
      buildScanResultEvent({
        accountName: gated.landing.accountName,
        containerName: gated.landing.containerName,
        blobName: upload.blobName,
        url: blob.url,
        eTag: (await blob.getProperties()).etag ?? '',
        resultType: 'Malicious',
        malwareNamesFound: [EICAR_MALWARE_NAME],
        sha256: Buffer.alloc(32),
        scanFinishedTime: new Date(),
        topic,
      }),
    );
    expect(await status(upload.uploadId)).to.include({ status: 'rejected', reason: 'malware' });
    await expectRefusedWithNothingChanged(gated, upload, Buffer.alloc(eicar.length, 1));
  });

  it('refuses a re-PUT after failed', async () => {
    const photo = await sidewaysPhotoWithGps(400, 300);
    const upload = await issueAndPut(
      createUploadHandler(() => plain),
      photo,
    );
    await recordPoisonedEventHandler(() => plain)(
      await blobCreatedEvent(plain.landing, upload.blobName),
      invocationContext('recordPoisonedEvent'),
    );
    expect(await status(upload.uploadId)).to.include({ status: 'failed' });
    await expectRefusedWithNothingChanged(plain, upload, await anotherPhotoLike(photo));
  });

  it('refuses a re-PUT while the first upload is pending, then processes the first', async () => {
    const photo = await sidewaysPhotoWithGps(800, 600);
    const upload = await issueAndPut(
      createUploadHandler(() => plain),
      photo,
    );
    const event = await blobCreatedEvent(plain.landing, upload.blobName);
    const before = await everything();
    expect((await put(upload.uploadUrl, await anotherPhotoLike(photo))).status).to.be.oneOf(
      REFUSED_OVERWRITE,
    );
    expect(await putFromAnotherMachine(upload.uploadUrl, photo)).to.be.oneOf(REFUSED_OVERWRITE);
    expect(await everything()).to.deep.equal(before);
    await deliver(plain, event);
    expect(await status(upload.uploadId)).to.deep.include({
      status: 'processed',
      original: { format: 'image/jpeg', width: 600, height: 800, size: photo.length },
    });
  });

  it('refuses a later version that got past storage, leaving the first outcome untouched', async () => {
    // The window while a refused page blob is replaced by its tombstone, played with the account key.
    const photo = await sidewaysPhotoWithGps(800, 600);
    const upload = await issueAndPut(
      createUploadHandler(() => plain),
      photo,
    );
    await deliver(plain, await blobCreatedEvent(plain.landing, upload.blobName));
    const recorded = { blobs: await everything(), status: await status(upload.uploadId) };
    await plain.landing.deleteBlob(upload.blobName);
    await plain.landing
      .getBlockBlobClient(upload.blobName)
      .uploadData(await anotherPhotoLike(photo));
    const log: LoggedLine[] = [];
    await deliver(plain, await blobCreatedEvent(plain.landing, upload.blobName), log);

    expect(await blobsNamed(plain.landing, upload.blobName)).to.deep.equal(['tombstone']);
    const isLanding = (line: string) => line.startsWith(`${plain.landing.containerName}/`);
    expect((await everything()).filter((b) => !isLanding(b))).to.deep.equal(
      recorded.blobs.filter((b) => !isLanding(b)),
    );
    expect(await status(upload.uploadId)).to.deep.equal(recorded.status);
    expect(log.some((l) => l.level === 'warning' && l.text.includes('refused version'))).to.equal(
      true,
    );
  });
});
