import { expect } from 'chai';
import type { BlobCommit } from '../../functions/core/blob-events';
import {
  type UploadManifest,
  decideAgainstManifest,
  outputPrefix,
} from '../../functions/core/manifest';

const uploadId = '3f2b8c1e-9d4a-4b6f-8e2a-1c3d5e7f9a0b';
const commit = (eTag: string, sequencer: string): BlobCommit => ({
  eventId: 'e',
  container: 'uploads',
  blobName: `${uploadId}/a.jpg`,
  api: 'PutBlob',
  blobType: 'BlockBlob',
  eTag,
  sequencer,
  contentLength: 1,
  contentType: 'image/jpeg',
});
const manifest = (
  status: 'processed' | 'failed',
  eTag: string,
  sequencer: string,
): UploadManifest => {
  const base = {
    version: 1 as const,
    uploadId,
    owner: '0123456789abcdef0123456789abcdef',
    source: { blobName: `${uploadId}/a.jpg`, eTag, sequencer },
    completedAt: '',
  };
  return status === 'processed'
    ? {
        ...base,
        status,
        outputPrefix: outputPrefix(uploadId, eTag),
        outputs: [],
        original: { format: 'image/jpeg', width: 1, height: 1 },
      }
    : { ...base, status, reason: 'processing-failed', message: '' };
};

describe('manifest', () => {
  it('processes when there is no outcome yet', () => {
    expect(decideAgainstManifest(undefined, commit('"a"', '01'))).to.equal('process');
  });

  it('does a repeated event for the same blob version only once', () => {
    expect(decideAgainstManifest(manifest('processed', '"a"', '01'), commit('"a"', '01'))).to.equal(
      'already-done',
    );
  });

  it('retries a version the poison queue marked failed when its event comes again', () => {
    expect(decideAgainstManifest(manifest('failed', '"a"', '01'), commit('"a"', '01'))).to.equal(
      'process',
    );
  });

  it('lets a newer version replace an older outcome, never the reverse', () => {
    expect(decideAgainstManifest(manifest('processed', '"a"', '01'), commit('"b"', '02'))).to.equal(
      'process',
    );
    expect(decideAgainstManifest(manifest('processed', '"b"', '02'), commit('"a"', '01'))).to.equal(
      'stale',
    );
  });

  it('gives each blob version its own output folder, from which the upload id cannot be read', () => {
    const prefix = outputPrefix(uploadId, '"0x8D4BCC2E4835CD0"');
    expect(prefix).to.match(/^[0-9a-f]{32}$/);
    expect(prefix).not.to.contain(uploadId.slice(0, 8));
    expect(outputPrefix(uploadId, '"0x8D4BCC2E4835CD0"')).to.equal(prefix);
    expect(outputPrefix(uploadId, '"a"')).not.to.equal(outputPrefix(uploadId, '"b"'));
    expect(outputPrefix(crypto.randomUUID(), '"a"')).not.to.equal(outputPrefix(uploadId, '"a"'));
  });
});
