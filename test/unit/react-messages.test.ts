/** What `<UploadDropzone>` and `describeUpload` say: the client's error codes in words. */
import { expect } from 'chai';
import { DirectdropError } from '@directdrop/client';
import {
  describeLimits,
  describeUpload,
  describeUploadError,
  uploadPhase,
} from '../../react/src/index';

const limits = { maxBytes: 4 * 1024 * 1024, allowedContentTypes: ['image/jpeg', 'image/heic'] };
const context = { fileName: 'notes.txt', size: 5 * 1024 * 1024, limits };
const error = (init: Partial<ConstructorParameters<typeof DirectdropError>[0]>) =>
  new DirectdropError({
    code: 'unexpected',
    stage: 'validate',
    message: 'developer text.',
    ...init,
  });

describe('@directdrop/react messages', function () {
  it('states the limits as people name the formats', function () {
    expect(describeLimits(limits)).to.equal('JPEG or HEIC, up to 4.0 MiB each.');
    expect(
      describeLimits({
        maxBytes: 1024,
        allowedContentTypes: ['image/png', 'image/webp', 'image/avif'],
      }),
    ).to.equal('PNG, WebP or AVIF, up to 1.0 KiB each.');
  });

  it('says why a file was refused before upload, from the code and the limits', function () {
    expect(describeUploadError(error({ code: 'content-type-not-allowed' }), context)).to.equal(
      'Not uploaded: notes.txt is not a JPEG or HEIC file.',
    );
    expect(describeUploadError(error({ code: 'file-too-large' }), context)).to.equal(
      'Not uploaded: notes.txt is 5.0 MiB; the limit is 4.0 MiB.',
    );
    // The server's own 413 (its limit was lower than the page knew) reads the same way.
    expect(
      describeUploadError(
        error({ code: 'file-too-large', stage: 'request', status: 413 }),
        context,
      ),
    ).to.equal('Not uploaded: notes.txt is 5.0 MiB; the limit is 4.0 MiB.');
    expect(describeUploadError(error({ code: 'invalid-size' }), context)).to.equal(
      'Not uploaded: notes.txt is empty.',
    );
  });

  it('says what to do about sign-in, quotas and outages instead of the API’s text', function () {
    const request = { stage: 'request' as const };
    expect(
      describeUploadError(error({ ...request, code: 'unauthorized', status: 401 }), context),
    ).to.equal('Not uploaded: sign in first.');
    expect(
      describeUploadError(
        error({
          ...request,
          code: 'quota-exceeded',
          status: 429,
          retryable: true,
          message: 'At most 60 upload URLs per minute per caller.',
        }),
        context,
      ),
    ).to.equal(
      'Not uploaded: too many uploads for now. At most 60 upload URLs per minute per caller. Try again later.',
    );
    expect(
      describeUploadError(
        error({ ...request, code: 'storage-unavailable', status: 503, retryable: true }),
        context,
      ),
    ).to.equal('Not uploaded: the upload service is having trouble. Try again in a moment.');
    expect(
      describeUploadError(error({ ...request, code: 'network-error', retryable: true }), context),
    ).to.equal('Not uploaded: the upload service cannot be reached. Try again in a moment.');
  });

  it('words rejections and failures after the upload by reason', function () {
    const processing = { stage: 'processing' as const };
    expect(
      describeUploadError(
        error({ ...processing, code: 'rejected', reason: 'corrupt', message: '' }),
        context,
      ),
    ).to.equal('Rejected: The image is damaged and cannot be read.');
    expect(
      describeUploadError(
        error({
          ...processing,
          code: 'processing-failed',
          reason: 'scan-timeout',
          retryable: true,
        }),
        context,
      ),
    ).to.equal('Failed: the malware scan did not finish in time. Try again.');
    expect(
      describeUploadError(
        error({ stage: 'upload', code: 'upload-forbidden', retryable: true }),
        context,
      ),
    ).to.equal('Failed: the upload link expired before the file was sent. Try again.');
    expect(
      describeUploadError(error({ stage: 'upload', code: 'upload-failed' }), context),
    ).to.equal('Failed: developer text.');
  });

  it('tells refused (never sent) from rejected (sent, turned down) and failed', function () {
    const failed = (init: Partial<ConstructorParameters<typeof DirectdropError>[0]>) =>
      uploadPhase({ state: 'failed', error: error(init) });
    expect(failed({ code: 'content-type-not-allowed' })).to.equal('refused');
    expect(failed({ code: 'unauthorized', stage: 'request', status: 401 })).to.equal('refused');
    expect(
      failed({ code: 'quota-exceeded', stage: 'request', status: 429, retryable: true }),
    ).to.equal('failed');
    expect(failed({ code: 'rejected', stage: 'processing' })).to.equal('rejected');
    expect(uploadPhase({ state: 'running', stage: 'scanning' })).to.equal('processing');
    expect(uploadPhase({ state: 'running', stage: 'requesting' })).to.equal('uploading');
    expect(describeUpload({ state: 'running', stage: 'scanning' }, context)).to.equal(
      'Uploaded. Scanning for malware…',
    );
  });
});
