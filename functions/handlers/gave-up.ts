/**
 * The one way an upload is recorded `failed` after its retries, whichever queue gave up
 * on it: the failed manifest, then what follows every outcome.
 */
import type { InvocationContext } from '@azure/functions';
import type { BlobCommit } from '../core/blob-events';
import { writeManifest } from '../adapters/manifest-store';
import type { Runtime } from '../adapters/runtime';
import { finishOutcome } from './finish-outcome';
import type { UploadSource } from './upload-source';

/** False when another delivery wrote the manifest first. */
export async function recordGaveUp(
  runtime: Runtime,
  source: UploadSource,
  commit: BlobCommit,
  context: InvocationContext,
): Promise<boolean> {
  const { owner, uploadId, dropZone } = source;
  const manifest = {
    version: 1 as const,
    uploadId,
    owner,
    ...(dropZone ? { dropZone } : {}),
    status: 'failed' as const,
    reason: 'processing-failed' as const,
    message: 'Processing gave up after repeated failures.',
    source: { blobName: commit.blobName, eTag: commit.eTag, sequencer: commit.sequencer },
    completedAt: new Date().toISOString(),
  };
  if (!(await writeManifest(runtime.processed, manifest, undefined))) return false;
  await finishOutcome(runtime, source, manifest, context);
  return true;
}
