/**
 * The client library against real local mode (Azurite, the Event Grid emulator, the
 * functions): a photo comes back processed, a non-image rejected, an aborted upload
 * leaves nothing behind, and an unreachable API is reported as such.
 */
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { freePort } from '../../local/azurite-sandbox';
import { sidewaysPhotoWithGps, textPretendingToBeJpeg } from '../helpers/images';
import {
  type UploadProgress,
  deleteUpload,
  fileSource,
  listUploads,
  getUploadStatus,
  requestUpload,
  sendToStorage,
  upload,
  uploadFile,
  waitForProcessing,
} from '../../client/src/node';
import { type LocalMode, startLocalMode } from './client-local-mode';
import { apiContract } from '../helpers/openapi';
import { clientRejection } from '../helpers/rejection';

/** The real status answer, processed or rejected, as the OpenAPI document describes it. */
async function expectStatusMatchesContract(statusUrl: string): Promise<void> {
  const response = await fetch(statusUrl);
  const answer = {
    status: response.status,
    headers: Object.fromEntries(response.headers),
    body: await response.json(),
  };
  expect((await apiContract()).problems('GET', '/uploads/{uploadId}', answer)).to.deep.equal([]);
}

describe('client library against local mode', function () {
  this.timeout(90_000);
  let local: LocalMode;
  let dir: string;

  before(async function () {
    [local, dir] = await Promise.all([
      startLocalMode(),
      mkdtemp(join(tmpdir(), 'directdrop-client-')),
    ]);
  });
  after(async function () {
    await local?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed' && local) console.log(local.output());
  });

  it('uploads a photo and resolves with its processed variants', async function () {
    const path = join(dir, 'camera.jpg');
    await writeFile(path, await sidewaysPhotoWithGps(3000, 2000));
    const events: UploadProgress[] = [];
    const result = await uploadFile(path, {
      apiBaseUrl: local.apiBaseUrl,
      onProgress: (p) => events.push(p),
    });
    console.log(`      timings ${JSON.stringify(result.timings)}`);

    expect(result).to.include({
      status: 'processed',
      fileName: 'camera.jpg',
      alreadyUploaded: false,
    });
    // Stored sideways with EXIF orientation 6: the variants come out upright (portrait).
    expect(
      result.outputs.map(({ name, width, height }) => ({ name, width, height })),
    ).to.deep.equal([
      { name: 'thumb', width: 320, height: 480 },
      { name: 'display', width: 1600, height: 2400 },
    ]);
    const thumb = await fetch(result.outputs[0].url);
    expect(thumb.status).to.equal(200);
    const meta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
    expect(meta).to.include({ format: 'webp', width: 320 });
    expect(events.at(-1)).to.include({ stage: 'processing', percent: 100 });
    await expectStatusMatchesContract(result.statusUrl);
  });

  it('takes a browser-style Blob in Node too', async function () {
    const png = await sharp({
      create: { width: 640, height: 480, channels: 3, background: '#123456' },
    })
      .png()
      .toBuffer();
    const result = await upload(new Blob([png], { type: 'image/png' }), {
      apiBaseUrl: local.apiBaseUrl,
      fileName: 'blob.png',
    });
    expect(result.outputs.map((o) => o.width)).to.deep.equal([320, 640]);
  });

  it('rejects a file that is not an image with the reason from the server', async function () {
    const path = join(dir, 'not-a-photo.jpg');
    await writeFile(path, textPretendingToBeJpeg);
    const error = await clientRejection(uploadFile(path, { apiBaseUrl: local.apiBaseUrl }));
    expect(error).to.include({ code: 'rejected', reason: 'not-an-image', stage: 'processing' });
    expect(error.message).to.equal('The file is not a supported image.');
    expect(error.uploadId).to.match(/^[0-9a-f-]{36}$/);
    await expectStatusMatchesContract(`${local.apiBaseUrl}/uploads/${error.uploadId}`);
  });

  it('passes the server’s refusal through when local checks are loosened', async function () {
    const path = join(dir, 'huge.jpg');
    await writeFile(path, Buffer.alloc(26 * 1024 * 1024, 1));
    const error = await clientRejection(
      uploadFile(path, {
        apiBaseUrl: local.apiBaseUrl,
        limits: { maxBytes: 100 * 1024 * 1024, allowedContentTypes: ['image/jpeg'] },
      }),
    );
    expect(error).to.include({ code: 'file-too-large', status: 413, stage: 'request' });
  });

  it('aborts an upload in flight; the upload stays awaiting its bytes', async function () {
    const path = join(dir, 'large.jpg');
    await writeFile(path, Buffer.alloc(24 * 1024 * 1024, 2));
    const options = { apiBaseUrl: local.apiBaseUrl };
    // The ticket's statusUrl carries the anonymous capability that reads this upload's status.
    const { ticket, source, contentType } = await requestUpload(await fileSource(path), options);
    const controller = new AbortController();
    const error = await clientRejection(
      sendToStorage(ticket, source, contentType, {
        ...options,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.stage === 'uploading' && p.loadedBytes > 0) controller.abort();
        },
      }),
    );
    expect(error).to.include({ code: 'aborted', stage: 'upload' });
    // No blob landed: the record made at issuance still awaits the upload.
    expect(await getUploadStatus(ticket.statusUrl, options)).to.deep.include({
      status: 'pending',
      stage: 'awaiting-upload',
    });
  });

  it('treats a repeated PUT of a landed upload as already uploaded and still gets the result', async function () {
    const path = join(dir, 'twice.jpg');
    await writeFile(path, await sidewaysPhotoWithGps(800, 600));
    const options = { apiBaseUrl: local.apiBaseUrl };
    const { ticket, source, contentType } = await requestUpload(await fileSource(path), options);
    expect(await sendToStorage(ticket, source, contentType, options)).to.deep.equal({
      alreadyUploaded: false,
    });
    expect(await sendToStorage(ticket, source, contentType, options)).to.deep.equal({
      alreadyUploaded: true,
    });
    const processed = await waitForProcessing(ticket, options);
    expect(processed.outputs).to.have.length(2);
  });

  it('reports an unreachable API as a network error', async function () {
    const port = await freePort();
    const path = join(dir, 'camera.jpg');
    const error = await clientRejection(
      uploadFile(path, { apiBaseUrl: `http://127.0.0.1:${port}/api` }),
    );
    expect(error).to.include({ code: 'network-error', stage: 'request' });
    expect(error.message).to.contain('ECONNREFUSED');
  });
});

describe('client library against local mode with sign-in: metadata, listing, deleting', function () {
  this.timeout(90_000);
  let local: LocalMode;

  before(async function () {
    local = await startLocalMode({ signIn: true });
  });
  after(async function () {
    await local?.stop();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed' && local) console.log(local.output());
  });

  it('carries metadata into the status and the listing, and deletes the upload', async function () {
    let calls = 0;
    // A token function, as an app with expiring tokens passes one.
    const options = { apiBaseUrl: local.apiBaseUrl, token: async () => (calls++, local.token) };
    const photo = await sidewaysPhotoWithGps(640, 480);
    const result = await upload(new Blob([new Uint8Array(photo)], { type: 'image/jpeg' }), {
      ...options,
      fileName: 'post.jpg',
      metadata: { postId: '42' },
    });
    expect(calls).to.be.greaterThan(1);
    const status = await getUploadStatus(result.statusUrl, options);
    expect(status).to.deep.include({ status: 'processed', metadata: { postId: '42' } });

    const listed = [];
    for await (const u of listUploads({ ...options, pageSize: 1 })) listed.push(u);
    expect(listed.map((u) => [u.uploadId, u.status, u.metadata])).to.deep.equal([
      [result.uploadId, 'processed', { postId: '42' }],
    ]);

    await deleteUpload(result.uploadId, options);
    expect(await getUploadStatus(result.statusUrl, options)).to.equal(undefined);
    const again = await clientRejection(deleteUpload(result.uploadId, options));
    expect(again).to.include({ code: 'upload-not-found', status: 404 });
  });
});
