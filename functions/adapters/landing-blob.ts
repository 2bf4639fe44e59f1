/**
 * What the worker asks of the landing container about one announced blob version:
 * does it still exist, was it made the way an upload URL makes blobs, and, once its
 * outcome is recorded, the tombstone that keeps its URL from ever creating it again. An
 * event is a claim; these calls check it.
 */
import type { BlobGetPropertiesResponse, ContainerClient } from '@azure/storage-blob';
import { TOMBSTONE_CONTENT_TYPE, TOMBSTONE_METADATA_KEY } from '../core/definitions';
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

/** The blob's properties when it holds exactly `eTag` and is not a tombstone; else undefined. */
export async function currentVersion(
  container: ContainerClient,
  blobName: string,
  eTag: string,
): Promise<BlobGetPropertiesResponse | undefined> {
  const landed = await inspectLandingBlob(container, blobName, eTag);
  return landed.state === 'current' && !isTombstone(landed.properties)
    ? landed.properties
    : undefined;
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

/** Whether a blob's properties show a tombstone (type or metadata: either marks it). */
export function isTombstone(properties: {
  contentType?: string;
  metadata?: Record<string, string>;
}): boolean {
  return (
    properties.contentType === TOMBSTONE_CONTENT_TYPE ||
    properties.metadata?.[TOMBSTONE_METADATA_KEY] !== undefined
  );
}

/**
 * What a tombstone says about its upload: the outcome it follows (`processed`, `rejected`,
 * `failed`), `deleted`, `not-uploaded`, or `refused` for a later version that was refused.
 */
export type TombstoneReason =
  'processed' | 'rejected' | 'failed' | 'deleted' | 'not-uploaded' | 'refused';

function writeTombstone(
  container: ContainerClient,
  blobName: string,
  reason: TombstoneReason,
  conditions: { ifMatch: string } | { ifNoneMatch: '*' },
) {
  return container.getBlockBlobClient(blobName).upload('', 0, {
    blobHTTPHeaders: { blobContentType: TOMBSTONE_CONTENT_TYPE, blobCacheControl: 'no-store' },
    metadata: { [TOMBSTONE_METADATA_KEY]: reason },
    conditions,
  });
}

/**
 * Creates a tombstone where no blob is (an upload URL never used, or erased before its
 * PUT); false when a blob is there already, i.e. the upload landed first.
 */
export async function createTombstone(
  container: ContainerClient,
  blobName: string,
  reason: TombstoneReason,
): Promise<boolean> {
  try {
    await writeTombstone(container, blobName, reason, { ifNoneMatch: '*' });
    return true;
  } catch (error) {
    if (isStatus(error, 409, 412)) return false;
    throw error;
  }
}

/** Snapshots go with the upload: a snapshot would keep its bytes readable to nobody, but stored. */
async function deleteSnapshots(container: ContainerClient, blobName: string): Promise<void> {
  await container.deleteBlob(blobName, { deleteSnapshots: 'only' }).catch((error) => {
    if (!isStatus(error, 404)) throw error;
  });
}

/** Rounds of "look, then replace what is there" before giving up; each loses only to a concurrent writer. */
const TOMBSTONE_ATTEMPTS = 4;

/**
 * Replaces the blob, whatever it holds, with a tombstone and removes its snapshots, once
 * its outcome is recorded. `pinned` is the version the outcome describes, for a plain block
 * blob: that version is overwritten in place with If-Match. A page or append blob, or a blob
 * that changed since, is deleted and the tombstone created with If-None-Match: Put Blob's
 * reference documents overwriting a block blob only, and a blob's type cannot change
 * (learn.microsoft.com/rest/api/storageservices/put-blob, understanding-block-blobs--append-blobs--and-page-blobs).
 * Between that delete and create, the upload URL could create the blob once more; its
 * event then meets a recorded outcome naming another version, which refuses it and comes
 * back here.
 */
export async function tombstoneBlob(
  container: ContainerClient,
  blobName: string,
  reason: TombstoneReason,
  pinned?: string,
): Promise<void> {
  if (pinned) {
    try {
      await writeTombstone(container, blobName, reason, { ifMatch: pinned });
      return deleteSnapshots(container, blobName);
    } catch (error) {
      // Changed or gone since: look at what is there instead.
      if (!isStatus(error, 404, 409, 412)) throw error;
    }
  }
  for (let attempt = 0; attempt < TOMBSTONE_ATTEMPTS; attempt++) {
    let properties: BlobGetPropertiesResponse;
    try {
      properties = await container.getBlobClient(blobName).getProperties();
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
      if (await createTombstone(container, blobName, reason)) return;
      continue;
    }
    const eTag = properties.etag ?? '';
    if (isTombstone(properties)) return deleteSnapshots(container, blobName);
    if (properties.blobType === 'BlockBlob') {
      try {
        await writeTombstone(container, blobName, reason, { ifMatch: eTag });
        return deleteSnapshots(container, blobName);
      } catch (error) {
        if (isStatus(error, 404, 412)) continue;
        // 409: a block blob that cannot be overwritten in place (Azurite: an archived one).
        if (!isStatus(error, 409)) throw error;
      }
    }
    try {
      await container.deleteBlob(blobName, {
        deleteSnapshots: 'include',
        conditions: { ifMatch: eTag },
      });
    } catch (error) {
      if (!isStatus(error, 404, 412)) throw error;
      continue;
    }
    if (await createTombstone(container, blobName, reason)) return;
  }
  throw new Error(`Blob ${blobName} kept changing while it was being tombstoned; retrying`);
}

/** Deletes a blob and its snapshots, whatever it holds (the sweep's end of a tombstone); gone is fine. */
export async function deleteBlobEntirely(
  container: ContainerClient,
  blobName: string,
): Promise<void> {
  await container.deleteBlob(blobName, { deleteSnapshots: 'include' }).catch((error) => {
    if (!isStatus(error, 404)) throw error;
  });
}
