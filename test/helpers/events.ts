/** BlobCreated events as Event Grid writes them, for blobs that really exist in Azurite. */
import type { ContainerClient } from '@azure/storage-blob';
import { buildBlobCreatedEvent } from '../../local/event-grid-event';

let sequence = 1n;

/** Reads the blob's real properties and describes its commit with the emulator's own builder. */
export async function blobCreatedEvent(container: ContainerClient, blobName: string) {
  const properties = await container.getBlobClient(blobName).getProperties();
  return buildBlobCreatedEvent({
    accountName: container.accountName,
    containerName: container.containerName,
    blobName,
    url: container.getBlobClient(blobName).url,
    api: 'PutBlob',
    eTag: properties.etag ?? '',
    contentType: properties.contentType ?? '',
    contentLength: properties.contentLength ?? 0,
    blobType: 'BlockBlob',
    sequence: sequence++,
    eventTime: new Date(),
  });
}
