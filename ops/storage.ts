/**
 * The operator's storage clients, from the same connection settings the functions read:
 * a connection string under `DirectdropStorage` (Azurite, local mode), or
 * `DirectdropStorage__blobServiceUri` and `__queueServiceUri` with the operator's own Entra
 * identity (DefaultAzureCredential: `az login`, environment, managed identity).
 */
import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { STORAGE_CONNECTION } from '../functions/core/definitions';
import { SettingsError } from '../functions/core/settings';

type Env = Readonly<Record<string, string | undefined>>;

export interface OperatorStorage {
  blob: BlobServiceClient;
  queue: QueueServiceClient;
}

export function connectOperatorStorage(env: Env, prefix = STORAGE_CONNECTION): OperatorStorage {
  const connectionString = env[prefix];
  if (connectionString) {
    try {
      return {
        blob: BlobServiceClient.fromConnectionString(connectionString),
        queue: QueueServiceClient.fromConnectionString(connectionString),
      };
    } catch {
      // The value is a secret; name the setting, never echo it.
      throw new SettingsError(prefix, 'is not a valid storage connection string');
    }
  }
  const blobUri = env[`${prefix}__blobServiceUri`];
  const queueUri = env[`${prefix}__queueServiceUri`];
  if (!blobUri || !queueUri) {
    throw new SettingsError(
      prefix,
      `set either ${prefix} (a connection string) or both ${prefix}__blobServiceUri and ${prefix}__queueServiceUri`,
    );
  }
  const credential = new DefaultAzureCredential();
  return {
    blob: new BlobServiceClient(blobUri, credential),
    queue: new QueueServiceClient(queueUri, credential),
  };
}
