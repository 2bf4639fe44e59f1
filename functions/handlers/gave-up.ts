/**
 * The one way an upload is recorded `failed` after its retries, whichever queue gave up
 * on it: the failed manifest, then what follows every outcome.
 */
import type { InvocationContext } from '@azure/functions';
import type { BlobGetPropertiesResponse } from '@azure/storage-blob';
import type { BlobCommit } from '../core/blob-events';
import type { UploadManifest } from '../core/manifest';
import { writeManifest } from '../adapters/manifest-store';
import type { Runtime } from '../adapters/runtime';
import { admitUpload, finishOutcome, refuseUnadmitted } from './finish-outcome';
import type { UploadSource } from './upload-source';

/**
 * `properties` are the blob's at `commit`'s version, just read. False when another
 * delivery wrote the manifest first.
 */
export async function recordGaveUp(
  runtime: Runtime,
  source: UploadSource,
  commit: BlobCommit,
  properties: BlobGetPropertiesResponse,
  context: InvocationContext,
): Promise<boolean> {
  const admission = await admitUpload(runtime, source, commit, properties);
  if (!admission.admitted) {
    await refuseUnadmitted(source, commit.blobName, properties, admission.why, context);
    return true;
  }
  const manifest: UploadManifest = {
    ...admission.base,
    status: 'failed',
    reason: 'processing-failed',
    message: 'Processing gave up after repeated failures.',
    completedAt: new Date().toISOString(),
  };
  if (!(await writeManifest(runtime.processed, manifest, undefined))) return false;
  await finishOutcome(runtime, source, manifest, properties, context);
  return true;
}
