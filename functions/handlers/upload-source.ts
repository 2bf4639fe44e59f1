/**
 * Whose upload a committed blob is, and where it lives: a landing blob says so in its
 * server-chosen name; a drop zone blob belongs to its zone, with an id derived from its name.
 */
import type { ContainerClient } from '@azure/storage-blob';
import { dropZoneOfContainer, dropZoneOwner, dropZoneUploadId } from '../core/drop-zones';
import { dropZoneContainer } from '../core/settings';
import { parseLandingBlobName } from '../core/upload-request';
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

export function uploadSourceOf(
  runtime: Runtime,
  blob: { container: string; blobName: string },
): UploadSource | undefined {
  const { settings } = runtime;
  if (blob.container === settings.landingContainer) {
    const landing = parseLandingBlobName(blob.blobName);
    return landing && { ...landing, container: runtime.landing };
  }
  const zone = dropZoneOfContainer(blob.container, settings.dropZones);
  if (!zone) return undefined;
  return {
    container: runtime.container(blob.container),
    owner: dropZoneOwner(runtime.ownerKey, zone.name),
    uploadId: dropZoneUploadId(zone.name, blob.blobName),
    dropZone: zone.name,
  };
}
