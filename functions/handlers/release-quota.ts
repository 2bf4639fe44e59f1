/**
 * Frees an upload's outstanding-quota slot once its outcome is recorded. Never fails the
 * invocation: the outcome is already safe, and a slot not freed lapses by itself
 * (OUTSTANDING_GRACE_MS after its URL expired).
 */
import type { InvocationContext } from '@azure/functions';
import type { Runtime } from '../adapters/runtime';
import { describeStorageError } from '../adapters/storage-errors';
import type { UploadSource } from './upload-source';

export async function releaseOutstandingUpload(
  runtime: Runtime,
  { owner, uploadId, dropZone }: UploadSource,
  context: InvocationContext,
): Promise<void> {
  // Drop zone uploads were never issued through the API, so they hold no slot.
  if (dropZone) return;
  try {
    await runtime.uploads.release(owner, uploadId);
  } catch (error) {
    context.warn(
      `Upload ${uploadId}: could not free its outstanding-quota slot (${describeStorageError(error)}); it lapses by itself`,
    );
  }
}
