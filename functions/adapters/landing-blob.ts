/**
 * What the worker asks of the landing container about one announced blob version:
 * does it still exist, was it made the way an upload URL makes blobs, and, once its
 * outcome is recorded, removing it. An event is a claim; these calls check it.
 */
import type { BlobGetPropertiesResponse, ContainerClient } from '@azure/storage-blob';
import { isStatus } from './storage-errors';

export type LandedVersion =
  | { state: 'current'; properties: BlobGetPropertiesResponse; isBlockBlob: boolean }
  /** The blob exists at another version: a block blob's newer event follows. */
  | { state: 'changed'; properties: BlobGetPropertiesResponse; isBlockBlob: boolean }
  | { state: 'gone' };

/**
 * Whether the blob exists at exactly `eTag`, with its real properties. One HEAD answers
 * both "does this version exist" (what an If-Match would) and "what is there instead".
 */
export async function inspectLandingBlob(
  landing: ContainerClient,
  blobName: string,
  eTag: string,
): Promise<LandedVersion> {
  let properties: BlobGetPropertiesResponse;
  try {
    properties = await landing.getBlobClient(blobName).getProperties();
  } catch (error) {
    if (isStatus(error, 404)) return { state: 'gone' };
    throw error;
  }
  const isBlockBlob = properties.blobType === 'BlockBlob';
  const state = properties.etag === eTag ? 'current' : 'changed';
  return { state, properties, isBlockBlob };
}

/** Whether anyone took snapshots of the blob; the upload URL's create permission allows it. */
export async function hasSnapshots(landing: ContainerClient, blobName: string): Promise<boolean> {
  const pages = landing
    .listBlobsFlat({ prefix: blobName, includeSnapshots: true })
    .byPage({ maxPageSize: 50 });
  for await (const page of pages) {
    if (page.segment.blobItems.some((item) => item.name === blobName && item.snapshot)) return true;
  }
  return false;
}

/**
 * Deletes the blob and its snapshots once its outcome is recorded. `eTag` pins the version
 * the outcome describes; without it, whatever is there goes (page and append blobs change
 * their ETag in place and are refused whatever they hold). Gone already is fine.
 */
export async function deleteLandingBlob(
  landing: ContainerClient,
  blobName: string,
  eTag: string | undefined,
): Promise<void> {
  try {
    await landing.deleteBlob(blobName, {
      deleteSnapshots: 'include',
      conditions: eTag ? { ifMatch: eTag } : undefined,
    });
  } catch (error) {
    if (!isStatus(error, 404, 412)) throw error;
  }
}
