/**
 * The per-upload manifest: the outcome the status endpoint reports. It is written
 * last, after every output exists, so a manifest always describes complete work.
 */
import { compareSequencers, type BlobCommit } from './blob-events';

export type RejectReason =
  | 'too-large'
  | 'not-an-image'
  | 'type-not-allowed'
  | 'too-many-pixels'
  | 'corrupt'
  | 'unsupported-codec'
  /** The upload's length differs from the size declared when its URL was issued. */
  | 'size-mismatch';

export type FailReason = 'processing-failed';

export interface ManifestOutput {
  name: string;
  blobName: string;
  width: number;
  height: number;
  contentType: string;
  size: number;
}

interface ManifestBase {
  version: 1;
  uploadId: string;
  /** Owner hash bound when the upload URL was issued (or the drop zone's); only it may read the outcome. */
  owner: string;
  /** Set for uploads dropped into a drop zone: the zone's name. */
  dropZone?: string;
  source: { blobName: string; eTag: string; sequencer: string };
  completedAt: string;
}

export type UploadManifest =
  | (ManifestBase & {
      status: 'processed';
      outputs: ManifestOutput[];
      original: { format: string; width: number; height: number };
    })
  | (ManifestBase & { status: 'rejected'; reason: RejectReason; message: string })
  | (ManifestBase & { status: 'failed'; reason: FailReason; message: string });

export type ManifestDecision = 'process' | 'already-done' | 'stale';

/**
 * At-least-once delivery means repeats and reordering: the same blob version is done
 * once, and an older version never replaces the outcome of a newer one.
 */
export function decideAgainstManifest(
  existing: UploadManifest | undefined,
  commit: BlobCommit,
): ManifestDecision {
  if (!existing) return 'process';
  if (existing.source.eTag === commit.eTag) {
    // A failure recorded from the poison queue is retried if the same event arrives again.
    return existing.status === 'failed' ? 'process' : 'already-done';
  }
  return compareSequencers(commit.sequencer, existing.source.sequencer) > 0 ? 'process' : 'stale';
}

/** The folder of one blob version's outputs, so versions never overwrite each other. */
export function outputFolder(uploadId: string, eTag: string): string {
  const version = eTag.replace(/[^A-Za-z0-9]/g, '').slice(0, 64) || 'v';
  return `${uploadId}/${version}`;
}

export function isUploadManifest(value: unknown): value is UploadManifest {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  return (
    m.version === 1 &&
    typeof m.uploadId === 'string' &&
    typeof m.owner === 'string' &&
    (m.status === 'processed' || m.status === 'rejected' || m.status === 'failed') &&
    typeof m.source === 'object' &&
    m.source !== null
  );
}
