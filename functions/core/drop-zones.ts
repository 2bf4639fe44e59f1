/**
 * Drop zones: upload-only containers devices and partners write into with a container
 * SAS, choosing their own blob names. Their blobs take the same validation and processing
 * as landing uploads; what a landing blob's server-chosen name carries (owner, upload id,
 * declared size) is derived here instead.
 */
import { createHash } from 'node:crypto';
import { DROP_ZONE_ISSUER, ownerHash } from './auth';
import { type DropZone, dropZoneContainer } from './settings';

/** The zone a container belongs to, if it is one. */
export function dropZoneOfContainer(
  container: string,
  zones: readonly DropZone[],
): DropZone | undefined {
  return zones.find((zone) => dropZoneContainer(zone.name) === container);
}

/**
 * A stable upload id for a dropped blob, shaped as the random (version 4) ids the API
 * issues so the status and manifest code takes it unchanged: the same zone and blob name
 * always map to the same id, and the manifest keeps the outcome of its newest version.
 */
export function dropZoneUploadId(zoneName: string, blobName: string): string {
  const hex = createHash('sha256').update(`${zoneName}\n${blobName}`).digest('hex').slice(0, 32);
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The owner recorded for a zone's uploads: the zone itself, never a person. */
export function dropZoneOwner(ownerKey: string | undefined, zoneName: string): string {
  return ownerHash(ownerKey, { issuer: DROP_ZONE_ISSUER, subject: zoneName });
}
