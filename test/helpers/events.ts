/** BlobCreated events as Event Grid writes them, for blobs that really exist in Azurite. */
import type { ContainerClient } from '@azure/storage-blob';
import type { CommittedBlobApi } from '../../functions/core/definitions';
import { type EventBlobType, buildBlobCreatedEvent } from '../../local/event-grid-event';

let sequence = 1n;

/** Reads the blob's real properties and describes its commit with the emulator's own builder. */
export async function blobCreatedEvent(
  container: ContainerClient,
  blobName: string,
  {
    api = 'PutBlob',
    blobType = 'BlockBlob',
  }: { api?: CommittedBlobApi; blobType?: EventBlobType } = {},
) {
  const properties = await container.getBlobClient(blobName).getProperties();
  return buildBlobCreatedEvent({
    accountName: container.accountName,
    containerName: container.containerName,
    blobName,
    url: container.getBlobClient(blobName).url,
    api,
    eTag: properties.etag ?? '',
    contentType: properties.contentType ?? '',
    contentLength: properties.contentLength ?? 0,
    blobType,
    sequence: sequence++,
    eventTime: new Date(),
  });
}
