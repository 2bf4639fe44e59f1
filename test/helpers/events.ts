/** BlobCreated events as Event Grid writes them, for blobs that really exist in Azurite. */
import { randomUUID } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import { BLOB_CREATED_EVENT_TYPE, blobSubjectPrefix } from '../../functions/core/definitions';

let sequence = 1;

export function nextSequencer(): string {
  return (sequence++).toString(16).padStart(32, '0');
}

/** Reads the blob's real properties and describes its commit like Event Grid would. */
export async function blobCreatedEvent(
  container: ContainerClient,
  blobName: string,
  sequencer = nextSequencer(),
) {
  const properties = await container.getBlobClient(blobName).getProperties();
  return {
    topic:
      '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/test/providers/Microsoft.Storage/storageAccounts/devstoreaccount1',
    subject: `${blobSubjectPrefix(container.containerName)}${blobName}`,
    eventType: BLOB_CREATED_EVENT_TYPE,
    eventTime: new Date().toISOString(),
    id: randomUUID(),
    data: {
      api: 'PutBlob',
      clientRequestId: randomUUID(),
      requestId: randomUUID(),
      eTag: properties.etag,
      contentType: properties.contentType,
      contentLength: properties.contentLength,
      blobType: 'BlockBlob',
      url: `${container.url}/${blobName}`,
      sequencer,
    },
    dataVersion: '',
    metadataVersion: '1',
  };
}

/** What the queue message body is: Base64 of the event's JSON. */
export function asQueueMessage(event: unknown): string {
  return Buffer.from(JSON.stringify(event)).toString('base64');
}
