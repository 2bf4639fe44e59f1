import { expect } from 'chai';
import type { UploadManifest } from '../../functions/core/manifest';
import {
  OUTCOME_EVENT_TYPES,
  deletedEvent,
  outcomeEvent,
  outcomeEventId,
} from '../../functions/core/outcome-events';

const uploadId = '3f2b8c1e-9d4a-4b6f-8e2a-1c3d5e7f9a0b';
const context = { source: 'urn:directdrop:dev', processedContainer: 'processed' };
const base = {
  version: 1 as const,
  uploadId,
  owner: '0123456789abcdef0123456789abcdef',
  metadata: { postId: '42' },
  caller: { kind: 'oidc' as const, issuer: 'https://login.example.com/', subject: 'alice' },
  issuedAt: '2026-12-01T10:00:00.000Z',
  source: { blobName: `o/${uploadId}/10/a.jpg`, eTag: '"0x8D1"', sequencer: '01' },
  uploadedAt: '2026-12-01T10:00:05.000Z',
  completedAt: '2026-12-01T10:00:06.123Z',
};
const processed: UploadManifest = {
  ...base,
  status: 'processed',
  outputPrefix: 'ab'.repeat(16),
  outputs: [
    {
      name: 'thumb',
      blobName: `${'ab'.repeat(16)}/thumb.webp`,
      width: 320,
      height: 213,
      contentType: 'image/webp',
      size: 1234,
    },
  ],
  original: { format: 'image/jpeg', width: 4032, height: 3024, size: 123456 },
};

describe('outcome-events', () => {
  it('builds the documented CloudEvent of a processed upload: outputs by path, never a URL', () => {
    const event = outcomeEvent(processed, context);
    expect(event).to.deep.equal({
      specversion: '1.0',
      type: 'directdrop.upload.processed',
      source: 'urn:directdrop:dev',
      id: outcomeEventId('directdrop.upload.processed', uploadId, '"0x8D1"'),
      subject: `uploads/${uploadId}`,
      time: '2026-12-01T10:00:06.123Z',
      datacontenttype: 'application/json',
      data: {
        uploadId,
        status: 'processed',
        outputs: [
          {
            name: 'thumb',
            contentType: 'image/webp',
            size: 1234,
            width: 320,
            height: 213,
            blobPath: `processed/${'ab'.repeat(16)}/thumb.webp`,
          },
        ],
        original: { format: 'image/jpeg', width: 4032, height: 3024, size: 123456 },
        metadata: { postId: '42' },
        caller: { kind: 'oidc', issuer: 'https://login.example.com/', subject: 'alice' },
        issuedAt: '2026-12-01T10:00:00.000Z',
        uploadedAt: '2026-12-01T10:00:05.000Z',
        completedAt: '2026-12-01T10:00:06.123Z',
      },
    });
    expect(event.id).to.match(/^[0-9a-f]{32}$/);
  });

  it('gives rejections and failures their reason and message, and no outputs or original', () => {
    const rejected = outcomeEvent(
      { ...base, status: 'rejected', reason: 'malware', message: 'refused' },
      context,
    );
    expect(rejected.type).to.equal(OUTCOME_EVENT_TYPES.rejected);
    expect(rejected.data).to.include({ status: 'rejected', reason: 'malware', message: 'refused' });
    expect(rejected.data).not.to.have.any.keys('outputs', 'original', 'dropZone', 'deletedAt');
    const failed = outcomeEvent(
      { ...base, status: 'failed', reason: 'scan-timeout', message: 'late' },
      context,
    );
    expect(failed.type).to.equal('directdrop.upload.failed');
  });

  it('is the same event, id and time included, however often it is built, and differs per type and version', () => {
    expect(outcomeEvent(processed, context)).to.deep.equal(outcomeEvent(processed, context));
    const other = outcomeEvent(
      { ...processed, source: { ...base.source, eTag: '"0x8D2"' } },
      context,
    );
    expect(other.id).not.to.equal(outcomeEvent(processed, context).id);
    const failedSameVersion = outcomeEvent(
      { ...base, status: 'failed', reason: 'processing-failed', message: '' },
      context,
    );
    expect(failedSameVersion.id).not.to.equal(outcomeEvent(processed, context).id);
  });

  it("names a drop zone's upload by its zone and caller", () => {
    const event = outcomeEvent(
      {
        ...processed,
        dropZone: 'cameras',
        metadata: {},
        caller: { kind: 'dropZone', zone: 'cameras' },
      },
      context,
    );
    expect(event.data).to.include({ dropZone: 'cameras' });
    expect(event.data.caller).to.deep.equal({ kind: 'dropZone', zone: 'cameras' });
  });

  it('builds a deletion from the record, stamped with when it was asked for', () => {
    const event = deletedEvent(
      {
        uploadId,
        metadata: { postId: '42' },
        caller: { kind: 'anonymous' },
        issuedAt: base.issuedAt,
      },
      '2026-12-02T08:00:00.000Z',
      context,
    );
    expect(event).to.deep.include({
      type: 'directdrop.upload.deleted',
      id: outcomeEventId('directdrop.upload.deleted', uploadId, 'deleted'),
      time: '2026-12-02T08:00:00.000Z',
    });
    expect(event.data).to.deep.equal({
      uploadId,
      status: 'deleted',
      metadata: { postId: '42' },
      caller: { kind: 'anonymous' },
      issuedAt: base.issuedAt,
      deletedAt: '2026-12-02T08:00:00.000Z',
    });
  });
});
