import { expect } from 'chai';
import { DEFAULT_SETTINGS } from '../../functions/core/settings';
import {
  isUploadId,
  landingBlobName,
  parseLandingBlobName,
  parseUploadRequest,
  sanitiseFileName,
  uploadIdOfBlob,
} from '../../functions/core/upload-request';

const settings = { ...DEFAULT_SETTINGS };
const body = (value: unknown) => JSON.stringify(value);

describe('upload-request', () => {
  it('accepts a valid request and normalises the content type', () => {
    const result = parseUploadRequest(
      body({ fileName: 'a.jpg', contentType: 'Image/JPEG; charset=x', size: 10 }),
      settings,
    );
    expect(result).to.deep.equal({
      ok: true,
      value: { fileName: 'a.jpg', contentType: 'image/jpeg', size: 10, metadata: {} },
    });
  });

  it('carries metadata through, and refuses bad metadata with 400 invalid-metadata naming the field', () => {
    const ok = parseUploadRequest(
      body({ fileName: 'a.jpg', contentType: 'image/jpeg', size: 10, metadata: { postId: '42' } }),
      settings,
    );
    expect(ok.ok && ok.value.metadata).to.deep.equal({ postId: '42' });
    const bad = parseUploadRequest(
      body({ fileName: 'a.jpg', contentType: 'image/jpeg', size: 10, metadata: { postId: 42 } }),
      settings,
    );
    expect(!bad.ok && bad.error).to.deep.equal({
      status: 400,
      code: 'invalid-metadata',
      message: 'metadata.postId: must be a string.',
    });
  });

  it('takes bodies up to 8192 bytes, room for the largest metadata', () => {
    const metadata = Object.fromEntries(
      Array.from({ length: 16 }, (_, i) => [`k${String(i).padStart(2, '0')}`, 'v'.repeat(124)]),
    );
    const text = body({ fileName: 'a.jpg', contentType: 'image/jpeg', size: 10, metadata });
    expect(parseUploadRequest(text, settings).ok).to.equal(true);
    const tooBig = parseUploadRequest(`${text}${' '.repeat(8193 - text.length)}`, settings);
    expect(!tooBig.ok && tooBig.error).to.include({ status: 413, code: 'body-too-large' });
  });

  it('accepts exactly the maximum size and refuses one byte more with 413', () => {
    const at = parseUploadRequest(
      body({ fileName: 'a.png', contentType: 'image/png', size: settings.maxUploadBytes }),
      settings,
    );
    expect(at.ok).to.equal(true);
    const over = parseUploadRequest(
      body({ fileName: 'a.png', contentType: 'image/png', size: settings.maxUploadBytes + 1 }),
      settings,
    );
    expect(over).to.deep.include({ ok: false });
    expect(!over.ok && over.error).to.include({ status: 413, code: 'file-too-large' });
  });

  it('answers 415 for a well-formed but disallowed content type', () => {
    const result = parseUploadRequest(
      body({ fileName: 'a.svg', contentType: 'image/svg+xml', size: 5 }),
      settings,
    );
    expect(!result.ok && result.error).to.include({
      status: 415,
      code: 'content-type-not-allowed',
    });
  });

  it('follows configured content types rather than the defaults', () => {
    const pngOnly = { ...settings, allowedContentTypes: ['image/png'] };
    const result = parseUploadRequest(
      body({ fileName: 'a.jpg', contentType: 'image/jpeg', size: 5 }),
      pngOnly,
    );
    expect(!result.ok && result.error.code).to.equal('content-type-not-allowed');
  });

  describe('sanitiseFileName', () => {
    const cases: Array<[string, string]> = [
      ['holiday.jpg', 'holiday.jpg'],
      ['../../etc/passwd', 'passwd'],
      ['C:\\Users\\me\\photo one.JPG', 'photo_one.JPG'],
      ['.hidden.png', 'hidden.png'],
      ['a/b/c/', 'upload'],
      ['ünïcödé café.jpg', 'ünïcödé_café.jpg'],
      ['what?*<>|"name.png', 'what_name.png'],
      ['...', 'upload'],
    ];
    for (const [input, expected] of cases) {
      it(`turns ${JSON.stringify(input)} into ${JSON.stringify(expected)}`, () => {
        expect(sanitiseFileName(input)).to.equal(expected);
      });
    }

    it('keeps at most 100 characters, from the end so the extension survives', () => {
      const result = sanitiseFileName(`${'x'.repeat(180)}.jpeg`);
      expect(result).to.have.length(100);
      expect(result.endsWith('.jpeg')).to.equal(true);
    });
  });

  const owner = '0123456789abcdef0123456789abcdef';

  it('names the landing blob <owner>/<uploadId>/<declared size>/<sanitised name> and maps it back', () => {
    const id = '3f2b8c1e-9d4a-4b6f-8e2a-1c3d5e7f9a0b';
    const name = landingBlobName(owner, id, { fileName: '../evil dir/pic.jpg', size: 123456 });
    expect(name).to.equal(`${owner}/${id}/123456/pic.jpg`);
    expect(parseLandingBlobName(name)).to.deep.equal({
      owner,
      uploadId: id,
      declaredSize: 123456,
      fileName: 'pic.jpg',
    });
    expect(uploadIdOfBlob(name)).to.equal(id);
  });

  it('keeps a file name made of digits apart from the size', () => {
    const id = '3f2b8c1e-9d4a-4b6f-8e2a-1c3d5e7f9a0b';
    const name = landingBlobName(owner, id, { fileName: '2024', size: 7 });
    expect(parseLandingBlobName(name)).to.deep.include({ declaredSize: 7, fileName: '2024' });
  });

  it('round-trips the largest size the settings allow', () => {
    const id = '3f2b8c1e-9d4a-4b6f-8e2a-1c3d5e7f9a0b';
    const size = 256 * 1024 * 1024;
    const name = landingBlobName(owner, id, { fileName: 'a.jpg', size });
    expect(parseLandingBlobName(name)?.declaredSize).to.equal(size);
  });

  describe('recognises only blobs directdrop named', () => {
    const id = '3f2b8c1e-9d4a-4b6f-8e2a-1c3d5e7f9a0b';
    const o = '0123456789abcdef0123456789abcdef';
    const foreign = [
      `${o}/not-a-uuid/10/pic.jpg`,
      `${id}/10/pic.jpg`, // the format before owners were bound
      `${o.toUpperCase()}/${id}/10/pic.jpg`,
      `${o.slice(1)}/${id}/10/pic.jpg`,
      `${o}/${id}/pic.jpg`,
      `${o}/${id}/10/extra/pic.jpg`,
      `${o}/${id}/10/`,
      `${o}/${id}/0/pic.jpg`,
      `${o}/${id}/010/pic.jpg`,
      `${o}/${id}/-10/pic.jpg`,
      `${o}/${id}/1e3/pic.jpg`,
      `${o}/${id}/ 10/pic.jpg`,
      `${o}/${id}/99999999999999999/pic.jpg`, // beyond Number.MAX_SAFE_INTEGER
      id,
    ];
    for (const name of foreign) {
      it(JSON.stringify(name), () => {
        expect(parseLandingBlobName(name)).to.equal(undefined);
        expect(uploadIdOfBlob(name)).to.equal(undefined);
      });
    }
  });

  it('accepts only lower-case version-4 UUIDs as upload ids', () => {
    expect(isUploadId('3f2b8c1e-9d4a-4b6f-8e2a-1c3d5e7f9a0b')).to.equal(true);
    expect(isUploadId('3F2B8C1E-9D4A-4B6F-8E2A-1C3D5E7F9A0B')).to.equal(false);
    expect(isUploadId('3f2b8c1e-9d4a-1b6f-8e2a-1c3d5e7f9a0b')).to.equal(false);
    expect(isUploadId('../../x')).to.equal(false);
  });
});
