/**
 * What an operator does with drop zones, with the operator's own credentials: mint a
 * create-only container SAS for a zone (user delegation in Azure, the Azurite key locally)
 * and list what became of each blob dropped there, from the upload table (a zone's blobs
 * are tombstoned after their outcome, so the zone itself says nothing).
 */
import { AzureNamedKeyCredential, TableClient } from '@azure/data-tables';
import { DefaultAzureCredential } from '@azure/identity';
import {
  BlobServiceClient,
  ContainerSASPermissions,
  SASProtocol,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
} from '@azure/storage-blob';
import { dropZoneOwner } from '../functions/core/drop-zones';
import { CLOCK_SKEW_ALLOWANCE_MS } from '../functions/core/sas-policy';
import { DEFAULT_SETTINGS, type DropZone, dropZoneContainer } from '../functions/core/settings';
import { TableUploadStore } from '../functions/adapters/upload-table';
import { SAS_SERVICE_VERSION } from '../functions/adapters/sas-signer';
import { DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME } from './azurite';

/** A user delegation key, and so a SAS signed with it, lives at most 7 days. */
export const MAX_ZONE_SAS_HOURS = 7 * 24;

export interface OperatorStorage {
  service: BlobServiceClient;
  /** A table of the same account (the upload table). */
  table(name: string): TableClient;
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
    table: (name) =>
      new TableClient(
        blobEndpoint.replace('.blob.', '.table.'),
        name,
        new DefaultAzureCredential(),
      ),
    async signCreateOnly(container, expiresOn) {
      const values = zoneSignatureValues(container, expiresOn, SASProtocol.Https);
      const key = await service.getUserDelegationKey(values.startsOn, expiresOn);
      const sas = generateBlobSASQueryParameters(values, key, service.accountName);
      return `${service.getContainerClient(container).url}?${sas.toString()}`;
    },
  };
}

/** Local mode's Azurite: the well-known development account key. */
export function localOperatorStorage(blobPort: number, tablePort = blobPort + 2): OperatorStorage {
  const credential = new StorageSharedKeyCredential(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY);
  const service = new BlobServiceClient(
    `http://127.0.0.1:${blobPort}/${DEV_ACCOUNT_NAME}`,
    credential,
  );
  return {
    service,
    table: (name) =>
      new TableClient(
        `http://127.0.0.1:${tablePort}/${DEV_ACCOUNT_NAME}`,
        name,
        new AzureNamedKeyCredential(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY),
        { allowInsecureConnection: true },
      ),
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
  status: 'processed' | 'rejected' | 'failed';
  reason?: string;
  completedAt?: string;
}

/**
 * Every blob of the zone that has an outcome, by blob name, newest first: the zone's
 * records in the upload table, in the zone owner's partition (so the owner key is needed).
 * A blob still being processed is not listed yet.
 */
export async function dropZoneStatus(
  storage: OperatorStorage,
  zone: DropZone,
  ownerKey: string,
  uploadTable = DEFAULT_SETTINGS.uploadTable,
): Promise<DroppedBlobStatus[]> {
  // Reading needs no quota: the limits only shape what this store would issue.
  const store = new TableUploadStore(storage.table(uploadTable), {
    urlsPerMinute: DEFAULT_SETTINGS.quotaUrlsPerMinute,
    urlBurst: DEFAULT_SETTINGS.quotaUrlBurst,
    outstandingUploads: DEFAULT_SETTINGS.quotaOutstandingUploads,
    bytesPerDay: DEFAULT_SETTINGS.quotaBytesPerDay,
    globalUrlsPerMinute: DEFAULT_SETTINGS.quotaGlobalUrlsPerMinute,
  });
  const owner = dropZoneOwner(ownerKey, zone.name);
  const results: DroppedBlobStatus[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list(owner, 100, cursor);
    for (const record of page.records) {
      if (record.status === 'issued' || record.status === 'deleted') continue;
      results.push({
        blobName: record.blobName,
        uploadId: record.uploadId,
        status: record.status,
        ...(record.reason ? { reason: record.reason } : {}),
        ...(record.completedAt ? { completedAt: record.completedAt } : {}),
      });
    }
    cursor = page.nextCursor;
  } while (cursor);
  return results;
}
