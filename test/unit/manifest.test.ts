import { expect } from 'chai';
import type { BlobCommit } from '../../functions/core/blob-events';
import {
  type UploadManifest,
  decideAgainstManifest,
  noLongerNamed,
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
    metadata: {},
    caller: { kind: 'anonymous' as const },
    issuedAt: '',
    source: { blobName: `${uploadId}/a.jpg`, eTag, sequencer },
    uploadedAt: '',
    completedAt: '',
  };
  return status === 'processed'
    ? {
        ...base,
        status,
        outputPrefix: outputPrefix(uploadId, eTag),
        outputs: [],
        original: { format: 'image/jpeg', width: 1, height: 1, size: 1 },
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

  it('keeps a failed outcome final: its event has gone out', () => {
    expect(decideAgainstManifest(manifest('failed', '"a"', '01'), commit('"a"', '01'))).to.equal(
      'already-done',
    );
  });

  it('refuses any other version once an outcome is recorded, newer or older', () => {
    expect(decideAgainstManifest(manifest('processed', '"a"', '01'), commit('"b"', '02'))).to.equal(
      'later-version',
    );
    expect(decideAgainstManifest(manifest('failed', '"b"', '02'), commit('"a"', '01'))).to.equal(
      'later-version',
    );
  });

  it('names for deletion what a replacing manifest no longer names, and everything on erasure', () => {
    const previous = {
      ...manifest('processed', '"a"', '01'),
      outputPrefix: 'b'.repeat(32),
      replacedOutputPrefix: 'a'.repeat(32),
      originalBlobName: `${uploadId}/original.jpg`,
    } as UploadManifest;
    const next = {
      ...previous,
      outputPrefix: 'c'.repeat(32),
      replacedOutputPrefix: 'b'.repeat(32),
    };
    expect(noLongerNamed(previous, next)).to.deep.equal({
      folders: ['b'.repeat(32), 'a'.repeat(32)],
      originals: [],
    });
    expect(noLongerNamed(previous, undefined)).to.deep.equal({
      folders: ['b'.repeat(32), 'a'.repeat(32)],
      originals: [`${uploadId}/original.jpg`],
    });
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
