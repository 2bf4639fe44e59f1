import { expect } from 'chai';
import { functionKeyOwner } from '../../functions/core/auth';
import { createUploadHandler } from '../../functions/handlers/create-upload';
import { readSasPolicy, uploadSasPolicy } from '../../functions/core/sas-policy';
import { SAS_SERVICE_VERSION } from '../../functions/adapters/sas-signer';
import { MIB } from '../../functions/core/settings';
import { type AzuriteSandbox, startAzuriteSandbox } from '../../local/azurite-sandbox';
import {
  ISSUED_UPLOAD_FIELDS,
  type LoggedLine,
  bodyOf,
  invocationContext,
  postJson,
  runtimeFor,
} from '../helpers/functions';
import { sidewaysPhotoWithGps } from '../helpers/images';
import type { Runtime } from '../../functions/adapters/runtime';

describe('create-upload (against Azurite)', () => {
  let fixture: AzuriteSandbox;
  let runtime: Runtime;
  let createUpload: ReturnType<typeof createUploadHandler>;
  const log: LoggedLine[] = [];

  before(async () => {
    fixture = await startAzuriteSandbox();
    runtime = runtimeFor(fixture.env);
    createUpload = createUploadHandler(() => runtime);
  });
  after(() => fixture.stop());

  async function issue(body: unknown) {
    const response = await createUpload(
      postJson(JSON.stringify(body)),
      invocationContext('createUpload', log),
    );
    return { status: response.status, body: bodyOf(response) };
  }

  it('answers 201 with a create-only URL for a server-chosen blob, which takes a plain HTTP PUT', async () => {
    const photo = await sidewaysPhotoWithGps();
    const { status, body } = await issue({
      fileName: '../My Photo.JPG',
      contentType: 'image/jpeg',
      size: photo.length,
    });
    expect(status).to.equal(201);
    expect(body).to.have.keys(...ISSUED_UPLOAD_FIELDS);
    const uploadId = body.uploadId as string;
    const url = new URL(body.uploadUrl as string);
    expect(url.pathname).to.equal(
      `/devstoreaccount1/uploads/${functionKeyOwner()}/${uploadId}/${photo.length}/My_Photo.JPG`,
    );
    expect(url.searchParams.get('sp')).to.equal('c');
    expect(url.searchParams.get('sr')).to.equal('b');
    expect(body.method).to.equal('PUT');
    expect(body.headers).to.deep.equal({
      'x-ms-blob-type': 'BlockBlob',
      'Content-Type': 'image/jpeg',
    });
    expect(body.maxBytes).to.equal(25 * MIB);
    expect(body.statusUrl).to.equal(`http://localhost:7071/api/uploads/${uploadId}`);
    const ttlMs = Date.parse(body.expiresOn as string) - Date.now();
    expect(ttlMs).to.be.within(590_000, 600_000);

    const put = await fetch(url, {
      method: 'PUT',
      headers: body.headers as Record<string, string>,
      body: new Uint8Array(photo),
    });
    expect(put.status).to.equal(201);
    const stored = await fixture.service
      .getContainerClient('uploads')
      .getBlobClient(`${functionKeyOwner()}/${uploadId}/${photo.length}/My_Photo.JPG`)
      .downloadToBuffer();
    expect(stored.equals(photo)).to.equal(true);
  });

  describe('the upload SAS refuses everything but creating its one blob', () => {
    let uploadUrl: URL;
    const headers = { 'x-ms-blob-type': 'BlockBlob', 'Content-Type': 'image/jpeg' };

    before(async () => {
      const { body } = await issue({ fileName: 'a.jpg', contentType: 'image/jpeg', size: 3 });
      uploadUrl = new URL(body.uploadUrl as string);
      const put = await fetch(uploadUrl, { method: 'PUT', headers, body: 'abc' });
      expect(put.status).to.equal(201);
    });

    it('reading the blob', async () => {
      expect((await fetch(uploadUrl)).status).to.equal(403);
    });

    it('committing blocks: Put Block, Put Block List and Put Block From URL, at the pinned version', async () => {
      // From service version 2026-04-06 the create permission would allow all three.
      expect(uploadUrl.searchParams.get('sv')).to.equal(SAS_SERVICE_VERSION);
      const { body } = await issue({ fileName: 'b.jpg', contentType: 'image/jpeg', size: 3 });
      const fresh = new URL(body.uploadUrl as string);
      const blockId = encodeURIComponent(Buffer.from('block-000').toString('base64'));
      const withQuery = (query: string) => new URL(`${fresh.href}&${query}`);
      const putBlock = await fetch(withQuery(`comp=block&blockid=${blockId}`), {
        method: 'PUT',
        body: 'abc',
      });
      expect(putBlock.status).to.equal(403);
      const source = await runtime.signer.signBlobUrl(
        'uploads',
        blobPath(uploadUrl),
        readSasPolicy(new Date(), 300),
      );
      const fromUrl = await fetch(withQuery(`comp=block&blockid=${blockId}`), {
        method: 'PUT',
        headers: { 'x-ms-copy-source': source, 'x-ms-source-range': 'bytes=0-2' },
      });
      expect(fromUrl.status).to.equal(403);
      const blockList = await fetch(withQuery('comp=blocklist'), {
        method: 'PUT',
        body: `<?xml version="1.0" encoding="utf-8"?><BlockList><Latest>${decodeURIComponent(blockId)}</Latest></BlockList>`,
      });
      expect(blockList.status).to.equal(403);
      expect(await exists('uploads', fresh)).to.equal(false);
    });

    it('listing the container', async () => {
      const list = new URL(uploadUrl);
      list.pathname = '/devstoreaccount1/uploads';
      list.searchParams.set('restype', 'container');
      list.searchParams.set('comp', 'list');
      expect((await fetch(list)).status).to.equal(403);
    });

    it('overwriting the blob', async () => {
      const overwrite = await fetch(uploadUrl, { method: 'PUT', headers, body: 'evil' });
      expect(overwrite.status).to.be.oneOf([403, 409]);
      const stored = await fixture.service
        .getContainerClient('uploads')
        .getBlobClient(blobPath(uploadUrl))
        .downloadToBuffer();
      expect(stored.toString()).to.equal('abc');
    });

    it('writing another blob name', async () => {
      const other = new URL(uploadUrl);
      other.pathname = other.pathname.replace(/a\.jpg$/, 'b.jpg');
      expect((await fetch(other, { method: 'PUT', headers, body: 'x' })).status).to.equal(403);
      expect(await exists('uploads', other)).to.equal(false);
    });

    it('deleting', async () => {
      expect((await fetch(uploadUrl, { method: 'DELETE' })).status).to.equal(403);
      expect(await contentOf('uploads', uploadUrl)).to.equal('abc');
    });

    it('after expiry', async () => {
      const name = `${crypto.randomUUID()}/late.jpg`;
      const expired = await runtime.signer.signBlobUrl(
        'uploads',
        name,
        uploadSasPolicy(new Date(Date.now() - 3_600_000), 600),
      );
      expect((await fetch(expired, { method: 'PUT', headers, body: 'x' })).status).to.equal(403);
      expect(await exists('uploads', new URL(expired))).to.equal(false);
    });

    // The cases below start from a fresh, unused URL, so that "nothing was created" means
    // something, and finish by creating the blob with the untouched URL: the refusal was
    // the tampering's doing, not a broken URL.
    async function freshUploadUrl(): Promise<URL> {
      const { body } = await issue({ fileName: 'a.jpg', contentType: 'image/jpeg', size: 3 });
      return new URL(body.uploadUrl as string);
    }

    async function expectUntouchedUrlStillCreates(url: URL) {
      expect((await fetch(url, { method: 'PUT', headers, body: 'abc' })).status).to.equal(201);
    }

    it('writing the same path in another container', async () => {
      const fresh = await freshUploadUrl();
      const other = new URL(fresh);
      other.pathname = other.pathname.replace('/uploads/', '/processed/');
      expect(other.pathname).to.match(/^\/devstoreaccount1\/processed\//);
      expect((await fetch(other, { method: 'PUT', headers, body: 'x' })).status).to.equal(403);
      expect(await exists('processed', other)).to.equal(false);
      await expectUntouchedUrlStillCreates(fresh);
    });

    it('a tampered signature', async () => {
      const fresh = await freshUploadUrl();
      const sig = fresh.searchParams.get('sig') as string;
      const tampered = new URL(fresh);
      tampered.searchParams.set('sig', `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`);
      expect((await fetch(tampered, { method: 'PUT', headers, body: 'x' })).status).to.equal(403);
      expect(await exists('uploads', fresh)).to.equal(false);
      await expectUntouchedUrlStillCreates(fresh);
    });

    it('widening the permissions to racwd, keeping the signature', async () => {
      const widen = (url: URL) => {
        const widened = new URL(url);
        widened.searchParams.set('sp', 'racwd');
        return widened;
      };
      const fresh = await freshUploadUrl();
      expect((await fetch(widen(fresh), { method: 'PUT', headers, body: 'x' })).status).to.equal(
        403,
      );
      expect(await exists('uploads', fresh)).to.equal(false);
      // On the blob that exists: no read, overwrite or delete either.
      const widened = widen(uploadUrl);
      expect((await fetch(widened)).status).to.equal(403);
      const overwrite = await fetch(widened, { method: 'PUT', headers, body: 'evil' });
      expect(overwrite.status).to.equal(403);
      expect((await fetch(widened, { method: 'DELETE' })).status).to.equal(403);
      expect(await contentOf('uploads', uploadUrl)).to.equal('abc');
      await expectUntouchedUrlStillCreates(fresh);
    });

    it('extending the expiry, keeping the signature', async () => {
      const fresh = await freshUploadUrl();
      const extended = new URL(fresh);
      const nextYear = new Date(Date.now() + 365 * 24 * 3_600_000);
      extended.searchParams.set('se', nextYear.toISOString().replace(/\.\d{3}Z$/, 'Z'));
      expect(extended.searchParams.get('se')).not.to.equal(fresh.searchParams.get('se'));
      expect((await fetch(extended, { method: 'PUT', headers, body: 'x' })).status).to.equal(403);
      expect(await exists('uploads', fresh)).to.equal(false);
      await expectUntouchedUrlStillCreates(fresh);
    });
  });

  const exists = (container: string, url: URL) =>
    fixture.service.getContainerClient(container).getBlobClient(blobPath(url)).exists();
  const contentOf = async (container: string, url: URL) =>
    (
      await fixture.service
        .getContainerClient(container)
        .getBlobClient(blobPath(url))
        .downloadToBuffer()
    ).toString();

  const blobPath = (url: URL) => decodeURIComponent(url.pathname.split('/').slice(3).join('/'));

  // Each case: [description, raw body, expected status, expected code]
  const badBodies: Array<[string, string, number, string]> = [
    ['empty body', '', 400, 'invalid-json'],
    ['truncated JSON', '{"fileName":"a.jpg"', 400, 'invalid-json'],
    ['JSON null', 'null', 400, 'invalid-body'],
    ['JSON array', '[]', 400, 'invalid-body'],
    ['JSON string', '"a.jpg"', 400, 'invalid-body'],
    ['JSON number', '42', 400, 'invalid-body'],
    ['empty object', '{}', 400, 'invalid-file-name'],
    [
      'unknown field',
      '{"fileName":"a.jpg","contentType":"image/jpeg","size":1,"path":"x"}',
      400,
      'invalid-body',
    ],
    ['missing fileName', '{"contentType":"image/jpeg","size":1}', 400, 'invalid-file-name'],
    [
      'numeric fileName',
      '{"fileName":7,"contentType":"image/jpeg","size":1}',
      400,
      'invalid-file-name',
    ],
    [
      'blank fileName',
      '{"fileName":"   ","contentType":"image/jpeg","size":1}',
      400,
      'invalid-file-name',
    ],
    [
      'overlong fileName',
      JSON.stringify({ fileName: `${'a'.repeat(201)}.jpg`, contentType: 'image/jpeg', size: 1 }),
      400,
      'invalid-file-name',
    ],
    [
      'fileName with a newline',
      '{"fileName":"a\\nb.jpg","contentType":"image/jpeg","size":1}',
      400,
      'invalid-file-name',
    ],
    [
      'fileName with NUL',
      '{"fileName":"a\\u0000.jpg","contentType":"image/jpeg","size":1}',
      400,
      'invalid-file-name',
    ],
    [
      'fileName with a bidi override',
      '{"fileName":"gpj.\\u202eexe","contentType":"image/jpeg","size":1}',
      400,
      'invalid-file-name',
    ],
    ['missing contentType', '{"fileName":"a.jpg","size":1}', 400, 'invalid-content-type'],
    [
      'contentType not a string',
      '{"fileName":"a.jpg","contentType":["image/jpeg"],"size":1}',
      400,
      'invalid-content-type',
    ],
    [
      'contentType without a slash',
      '{"fileName":"a.jpg","contentType":"jpeg","size":1}',
      400,
      'invalid-content-type',
    ],
    [
      'contentType with spaces',
      '{"fileName":"a.jpg","contentType":"image / jpeg","size":1}',
      400,
      'invalid-content-type',
    ],
    ['missing size', '{"fileName":"a.jpg","contentType":"image/jpeg"}', 400, 'invalid-size'],
    ['zero size', '{"fileName":"a.jpg","contentType":"image/jpeg","size":0}', 400, 'invalid-size'],
    [
      'negative size',
      '{"fileName":"a.jpg","contentType":"image/jpeg","size":-5}',
      400,
      'invalid-size',
    ],
    [
      'fractional size',
      '{"fileName":"a.jpg","contentType":"image/jpeg","size":1.5}',
      400,
      'invalid-size',
    ],
    [
      'size as a string',
      '{"fileName":"a.jpg","contentType":"image/jpeg","size":"100"}',
      400,
      'invalid-size',
    ],
    [
      'size beyond safe integers',
      '{"fileName":"a.jpg","contentType":"image/jpeg","size":1e300}',
      400,
      'invalid-size',
    ],
    [
      'size null',
      '{"fileName":"a.jpg","contentType":"image/jpeg","size":null}',
      400,
      'invalid-size',
    ],
    [
      'size over the limit',
      JSON.stringify({ fileName: 'a.jpg', contentType: 'image/jpeg', size: 25 * MIB + 1 }),
      413,
      'file-too-large',
    ],
    [
      'a body over 8 KiB',
      JSON.stringify({
        fileName: 'a.jpg',
        contentType: 'image/jpeg',
        size: 1,
        pad: 'x'.repeat(9000),
      }),
      413,
      'body-too-large',
    ],
    [
      'metadata not an object',
      '{"fileName":"a.jpg","contentType":"image/jpeg","size":1,"metadata":"postId=42"}',
      400,
      'invalid-metadata',
    ],
    [
      'a metadata value not a string',
      '{"fileName":"a.jpg","contentType":"image/jpeg","size":1,"metadata":{"postId":42}}',
      400,
      'invalid-metadata',
    ],
    [
      'a metadata key with a space',
      '{"fileName":"a.jpg","contentType":"image/jpeg","size":1,"metadata":{"post id":"42"}}',
      400,
      'invalid-metadata',
    ],
    [
      'metadata over 2 KiB',
      JSON.stringify({
        fileName: 'a.jpg',
        contentType: 'image/jpeg',
        size: 1,
        metadata: { a: 'x'.repeat(2048) },
      }),
      400,
      'invalid-metadata',
    ],
    [
      '17 metadata entries',
      JSON.stringify({
        fileName: 'a.jpg',
        contentType: 'image/jpeg',
        size: 1,
        metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])),
      }),
      400,
      'invalid-metadata',
    ],
    [
      'a disallowed image type',
      '{"fileName":"a.svg","contentType":"image/svg+xml","size":1}',
      415,
      'content-type-not-allowed',
    ],
    [
      'a non-image type',
      '{"fileName":"a.exe","contentType":"application/octet-stream","size":1}',
      415,
      'content-type-not-allowed',
    ],
    [
      'text/html',
      '{"fileName":"a.html","contentType":"text/html","size":1}',
      415,
      'content-type-not-allowed',
    ],
  ];

  describe('bad request bodies', () => {
    for (const [what, raw, status, code] of badBodies) {
      it(`${what} → ${status} ${code}`, async () => {
        const response = await createUpload(postJson(raw), invocationContext('createUpload'));
        expect(response.status).to.equal(status);
        expect(response.jsonBody).to.have.nested.property('error.code', code);
        const message = (response.jsonBody as { error: { message: unknown } }).error.message;
        expect(message).to.be.a('string').with.length.greaterThan(10);
      });
    }

    it('a request body that is not JSON → 415 unsupported-media-type', async () => {
      const response = await createUpload(
        postJson('fileName=a.jpg', { 'content-type': 'application/x-www-form-urlencoded' }),
        invocationContext('createUpload'),
      );
      expect(response.status).to.equal(415);
      expect(response.jsonBody).to.have.nested.property('error.code', 'unsupported-media-type');
    });

    it('a declared Content-Length over the limit → 413 without reading the body', async () => {
      const response = await createUpload(
        postJson('{}', { 'content-length': '1000000' }),
        invocationContext('createUpload'),
      );
      expect(response.status).to.equal(413);
    });
  });

  it('never writes a SAS into the logs', () => {
    expect(log.length).to.be.greaterThan(0);
    for (const line of log) expect(line.text).not.to.match(/sig=|sv=|AccountKey/);
  });
});
