/** Reads and conditionally writes upload manifests in the processed container. */
import type { ContainerClient } from '@azure/storage-blob';
import { manifestBlobName } from '../core/definitions';
import { type UploadManifest, isUploadManifest } from '../core/manifest';
import { readBody } from './read-body';
import { isStatus } from './storage-errors';

/** Manifests are a few hundred bytes; anything far larger is not ours. */
const MAX_MANIFEST_BYTES = 256 * 1024;

export interface StoredManifest {
  manifest: UploadManifest;
  eTag: string;
}

export async function readManifest(
  processed: ContainerClient,
  uploadId: string,
): Promise<StoredManifest | undefined> {
  const blob = processed.getBlockBlobClient(manifestBlobName(uploadId));
  try {
    const response = await blob.download();
    const buffer = await readBody(response.readableStreamBody, MAX_MANIFEST_BYTES);
    const parsed: unknown = JSON.parse(buffer.toString('utf8'));
    if (!isUploadManifest(parsed)) throw new Error(`Manifest for ${uploadId} has an unknown shape`);
    return { manifest: parsed, eTag: response.etag ?? '' };
  } catch (error) {
    if (isStatus(error, 404)) return undefined;
    throw error;
  }
}

/**
 * Writes the manifest only if it is still the one we decided against (`expected`),
 * or still absent; returns false when another writer got there first.
 */
export async function writeManifest(
  processed: ContainerClient,
  manifest: UploadManifest,
  expected: StoredManifest | undefined,
): Promise<boolean> {
  const body = JSON.stringify(manifest);
  try {
    await processed
      .getBlockBlobClient(manifestBlobName(manifest.uploadId))
      .upload(body, Buffer.byteLength(body), {
        blobHTTPHeaders: { blobContentType: 'application/json', blobCacheControl: 'no-store' },
        conditions: expected ? { ifMatch: expected.eTag } : { ifNoneMatch: '*' },
      });
    return true;
  } catch (error) {
    if (isStatus(error, 409, 412)) return false;
    throw error;
  }
}
