/**
 * What follows every recorded outcome, whichever path recorded it (processing, the scan
 * gate, the poison queue, the sweep), in this order: mirror it and free the quota slot,
 * then tombstone the blob. The blob is the progress marker: until it is a tombstone, a
 * redelivered event repeats these steps, so a crash between them loses nothing.
 */
import type { InvocationContext } from '@azure/functions';
import type { UploadManifest } from '../core/manifest';
import { tombstoneBlob } from '../adapters/landing-blob';
import type { Runtime } from '../adapters/runtime';
import { releaseOutstandingUpload } from './release-quota';
import type { UploadSource } from './upload-source';

/**
 * A refused page or append blob changes its ETag in place, and no version of a refused
 * blob is ever accepted: its tombstone replaces whatever is there. Any other outcome pins
 * the version it describes.
 */
export function recordedVersion(manifest: UploadManifest): string | undefined {
  const refused = manifest.status === 'rejected' && manifest.reason === 'not-a-plain-upload';
  return refused ? undefined : manifest.source.eTag;
}

export async function finishOutcome(
  runtime: Runtime,
  source: UploadSource,
  manifest: UploadManifest,
  context: InvocationContext,
): Promise<void> {
  await releaseOutstandingUpload(runtime, source, context);
  await tombstoneBlob(
    source.container,
    manifest.source.blobName,
    manifest.status,
    recordedVersion(manifest),
  );
}
