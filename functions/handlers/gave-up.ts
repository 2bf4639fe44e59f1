/**
 * The one way an upload is recorded `failed` after its retries, whichever queue gave up
 * on it: the failed manifest, then (outside drop zones) its blob, then its quota slot.
 */
import type { InvocationContext } from '@azure/functions';
import type { BlobCommit } from '../core/blob-events';
import { type StoredManifest, writeManifest } from '../adapters/manifest-store';
import type { Runtime } from '../adapters/runtime';
import { releaseOutstandingUpload } from './release-quota';
import { type UploadSource, removeRecordedBlob } from './upload-source';

/** False when another delivery wrote the manifest first. */
export async function recordGaveUp(
  runtime: Runtime,
  source: UploadSource,
  commit: BlobCommit,
  existing: StoredManifest | undefined,
  context: InvocationContext,
): Promise<boolean> {
  const { owner, uploadId, dropZone } = source;
  const written = await writeManifest(
    runtime.processed,
    {
      version: 1,
      uploadId,
      owner,
      ...(dropZone ? { dropZone } : {}),
      status: 'failed',
      reason: 'processing-failed',
      message: 'Processing gave up after repeated failures.',
      source: { blobName: commit.blobName, eTag: commit.eTag, sequencer: commit.sequencer },
      completedAt: new Date().toISOString(),
    },
    existing,
  );
  if (!written) return false;
  await removeRecordedBlob(source, commit.blobName, commit.eTag);
  await releaseOutstandingUpload(runtime, source, context);
  return true;
}
