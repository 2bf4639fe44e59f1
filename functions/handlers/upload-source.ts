/**
 * Whose upload a committed blob is, and where it lives: a landing blob says so in its
 * server-chosen name; a drop zone blob belongs to its zone, with an id derived from its name.
 */
import type { ContainerClient } from '@azure/storage-blob';
import type { BlobCommit } from '../core/blob-events';
import { dropZoneOfContainer, dropZoneOwner, dropZoneUploadId } from '../core/drop-zones';
import { dropZoneContainer } from '../core/settings';
import { parseLandingBlobName } from '../core/upload-request';
import { deleteLandingBlob } from '../adapters/landing-blob';
import type { Runtime } from '../adapters/runtime';

export interface UploadSource {
  container: ContainerClient;
  owner: string;
  uploadId: string;
  /** Declared when the URL was issued; drop zone uploads declare none. */
  declaredSize?: number;
  /** Set for a drop zone's blob: the zone's name. */
  dropZone?: string;
}

/** The containers whose events the worker takes: landing, then each drop zone. */
export function watchedContainers(runtime: Runtime): string[] {
  const { settings } = runtime;
  return [settings.landingContainer, ...settings.dropZones.map((z) => dropZoneContainer(z.name))];
}

export function uploadSourceOf(runtime: Runtime, commit: BlobCommit): UploadSource | undefined {
  const { settings } = runtime;
  if (commit.container === settings.landingContainer) {
    const landing = parseLandingBlobName(commit.blobName);
    return landing && { ...landing, container: runtime.landing };
  }
  const zone = dropZoneOfContainer(commit.container, settings.dropZones);
  if (!zone) return undefined;
  return {
    container: runtime.container(commit.container),
    owner: dropZoneOwner(runtime.ownerKey, zone.name),
    uploadId: dropZoneUploadId(zone.name, commit.blobName),
    dropZone: zone.name,
  };
}

/**
 * Removes an upload's blob once its outcome is recorded (snapshots included; `eTag` pins the
 * version, undefined takes whatever is there). A drop zone keeps its blobs for its own
 * retention, so `dropzone status` can list them by name.
 */
export async function removeRecordedBlob(
  source: UploadSource,
  blobName: string,
  eTag: string | undefined,
): Promise<void> {
  if (!source.dropZone) await deleteLandingBlob(source.container, blobName, eTag);
}
