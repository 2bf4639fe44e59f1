/**
 * Creates in Azurite what the Pulumi program creates in Azure, from the same shared
 * definitions: the containers, the events and reprocess queues with their poison queues, and the blob CORS
 * rule browsers need to PUT uploads straight to storage.
 */
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { STORAGE_NAMES, poisonQueueName, uploadCorsRule } from '../functions/core/definitions';
import type { DirectdropSettings } from '../functions/core/settings';

export interface ProvisionedStorage {
  containers: string[];
  queues: string[];
  corsOrigins: string[];
}

export async function provisionStorage(
  connectionString: string,
  settings: DirectdropSettings,
  corsOrigins: readonly string[],
): Promise<ProvisionedStorage> {
  const blobService = BlobServiceClient.fromConnectionString(connectionString);
  const queueService = QueueServiceClient.fromConnectionString(connectionString);
  const containers = [
    settings.landingContainer,
    settings.processedContainer,
    settings.originalsContainer,
    STORAGE_NAMES.deadLetterContainer,
  ];
  const queues = [
    settings.eventsQueue,
    poisonQueueName(settings.eventsQueue),
    settings.reprocessQueue,
    poisonQueueName(settings.reprocessQueue),
  ];
  const rule = uploadCorsRule(corsOrigins);
  await Promise.all([
    ...containers.map((name) => blobService.getContainerClient(name).createIfNotExists()),
    ...queues.map((name) => queueService.getQueueClient(name).createIfNotExists()),
    // The storage REST API takes each list as one comma-separated string.
    blobService.setProperties({
      cors: [
        {
          allowedOrigins: rule.allowedOrigins.join(','),
          allowedMethods: rule.allowedMethods.join(','),
          allowedHeaders: rule.allowedHeaders.join(','),
          exposedHeaders: rule.exposedHeaders.join(','),
          maxAgeInSeconds: rule.maxAgeInSeconds,
        },
      ],
    }),
  ]);
  return { containers, queues, corsOrigins: [...corsOrigins] };
}
