/**
 * Creates in Azurite what the Pulumi program creates in Azure, from the same shared
 * definitions: the containers, the events and reprocess queues with their poison queues,
 * the upload table, and the blob CORS rule browsers need to PUT uploads straight to storage.
 */
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { STORAGE_NAMES, poisonQueueName, uploadCorsRule } from '../functions/core/definitions';
import { type DirectdropSettings, dropZoneContainer } from '../functions/core/settings';
import { blobCorsOriginLists } from './cors';

export interface ProvisionedStorage {
  containers: string[];
  queues: string[];
  tables: string[];
  corsOrigins: string[];
}

export async function provisionStorage(
  connectionString: string,
  settings: DirectdropSettings,
  /** Exact origins allowed besides any loopback origin (see cors.ts). */
  extraCorsOrigins: readonly string[],
): Promise<ProvisionedStorage> {
  const blobService = BlobServiceClient.fromConnectionString(connectionString);
  const queueService = QueueServiceClient.fromConnectionString(connectionString);
  const containers = [
    settings.landingContainer,
    settings.processedContainer,
    settings.originalsContainer,
    STORAGE_NAMES.deadLetterContainer,
    ...settings.dropZones.map((zone) => dropZoneContainer(zone.name)),
  ];
  const queues = [
    settings.eventsQueue,
    poisonQueueName(settings.eventsQueue),
    settings.reprocessQueue,
    poisonQueueName(settings.reprocessQueue),
  ];
  const originLists = blobCorsOriginLists(extraCorsOrigins);
  const tables = [settings.uploadTable];
  await Promise.all([
    ...tables.map((name) =>
      TableClient.fromConnectionString(connectionString, name, {
        allowInsecureConnection: true,
      }).createTable(),
    ),
    ...containers.map((name) => blobService.getContainerClient(name).createIfNotExists()),
    ...queues.map((name) => queueService.getQueueClient(name).createIfNotExists()),
    // The storage REST API takes each list as one comma-separated string.
    blobService.setProperties({
      cors: originLists.map((origins) => {
        const rule = uploadCorsRule(origins);
        return {
          allowedOrigins: rule.allowedOrigins.join(','),
          allowedMethods: rule.allowedMethods.join(','),
          allowedHeaders: rule.allowedHeaders.join(','),
          exposedHeaders: rule.exposedHeaders.join(','),
          maxAgeInSeconds: rule.maxAgeInSeconds,
        };
      }),
    }),
  ]);
  return { containers, queues, tables, corsOrigins: originLists.flat() };
}
