/**
 * What an operator does with drop zones, with the operator's own credentials: mint a
 * create-only container SAS for a zone (user delegation in Azure, the Azurite key locally)
 * and list what became of each blob dropped there.
 */
import { DefaultAzureCredential } from '@azure/identity';
import {
  BlobServiceClient,
  ContainerSASPermissions,
  SASProtocol,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
} from '@azure/storage-blob';
import { dropZoneUploadId } from '../functions/core/drop-zones';
import { CLOCK_SKEW_ALLOWANCE_MS } from '../functions/core/sas-policy';
import { DEFAULT_SETTINGS, type DropZone, dropZoneContainer } from '../functions/core/settings';
import { readManifest } from '../functions/adapters/manifest-store';
import { SAS_SERVICE_VERSION } from '../functions/adapters/sas-signer';
import { DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME } from './azurite';

/** A user delegation key, and so a SAS signed with it, lives at most 7 days. */
export const MAX_ZONE_SAS_HOURS = 7 * 24;

export interface OperatorStorage {
  service: BlobServiceClient;
  /** A SAS for `container` allowing only blob creation, until `expiresOn`. */
  signCreateOnly(container: string, expiresOn: Date): Promise<string>;
}

/**
 * A zone SAS: create-only on the zone's container, at the service version every directdrop
 * SAS is signed at (the SDK's default, 2026-10-06, would let `c` also Put Block, Put Block
 * List and Put Block From URL).
 */
function zoneSignatureValues(container: string, expiresOn: Date, protocol: SASProtocol) {
  return {
    containerName: container,
    permissions: ContainerSASPermissions.parse('c'),
    startsOn: new Date(Date.now() - CLOCK_SKEW_ALLOWANCE_MS),
    expiresOn,
    protocol,
    version: SAS_SERVICE_VERSION,
  };
}

/**
 * Azure: the operator's DefaultAzureCredential (az login) and user delegation keys; `service`
 * is for tests, which point it at an OAuth Azurite.
 */
export function azureOperatorStorage(
  blobEndpoint: string,
  service = new BlobServiceClient(blobEndpoint, new DefaultAzureCredential()),
): OperatorStorage {
  return {
    service,
    async signCreateOnly(container, expiresOn) {
      const values = zoneSignatureValues(container, expiresOn, SASProtocol.Https);
      const key = await service.getUserDelegationKey(values.startsOn, expiresOn);
      const sas = generateBlobSASQueryParameters(values, key, service.accountName);
      return `${service.getContainerClient(container).url}?${sas.toString()}`;
    },
  };
}

/** Local mode's Azurite: the well-known development account key. */
export function localOperatorStorage(blobPort: number): OperatorStorage {
  const credential = new StorageSharedKeyCredential(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY);
  const service = new BlobServiceClient(
    `http://127.0.0.1:${blobPort}/${DEV_ACCOUNT_NAME}`,
    credential,
  );
  return {
    service,
    async signCreateOnly(container, expiresOn) {
      const sas = generateBlobSASQueryParameters(
        zoneSignatureValues(container, expiresOn, SASProtocol.HttpsAndHttp),
        credential,
      );
      return `${service.getContainerClient(container).url}?${sas.toString()}`;
    },
  };
}

export class DropZoneError extends Error {}

export function findZone(zones: readonly DropZone[], name: string): DropZone {
  const zone = zones.find((z) => z.name === name);
  if (!zone) {
    const known = zones.length ? zones.map((z) => z.name).join(', ') : 'none are configured';
    throw new DropZoneError(`No drop zone "${name}" (zones: ${known}; see DIRECTDROP_DROP_ZONES).`);
  }
  return zone;
}

/** The zone's container URL with a create-only SAS for `hours`, within the zone's limit. */
export async function dropZoneUrl(
  storage: OperatorStorage,
  zone: DropZone,
  hours: number,
): Promise<{ url: string; expiresOn: Date }> {
  const max = Math.min(zone.maxSasHours, MAX_ZONE_SAS_HOURS);
  if (hours > max) {
    throw new DropZoneError(
      `--hours ${hours} exceeds drop zone "${zone.name}"'s limit of ${max} hours.`,
    );
  }
  const expiresOn = new Date(Date.now() + hours * 3600_000);
  return { url: await storage.signCreateOnly(dropZoneContainer(zone.name), expiresOn), expiresOn };
}

export interface DroppedBlobStatus {
  blobName: string;
  uploadId: string;
  status: 'pending' | 'processed' | 'rejected' | 'failed';
  reason?: string;
  completedAt?: string;
}

/** Every blob in the zone with its outcome from the manifests, by blob name. */
export async function dropZoneStatus(
  storage: OperatorStorage,
  zone: DropZone,
  processedContainer = DEFAULT_SETTINGS.processedContainer,
): Promise<DroppedBlobStatus[]> {
  const processed = storage.service.getContainerClient(processedContainer);
  const results: DroppedBlobStatus[] = [];
  for await (const blob of storage.service
    .getContainerClient(dropZoneContainer(zone.name))
    .listBlobsFlat()) {
    const uploadId = dropZoneUploadId(zone.name, blob.name);
    const stored = await readManifest(processed, uploadId);
    const manifest = stored?.manifest;
    results.push({
      blobName: blob.name,
      uploadId,
      status: manifest?.status ?? 'pending',
      ...(manifest && manifest.status !== 'processed' ? { reason: manifest.reason } : {}),
      ...(manifest ? { completedAt: manifest.completedAt } : {}),
    });
  }
  return results;
}
