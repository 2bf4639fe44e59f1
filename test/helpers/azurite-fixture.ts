/** Starts a throwaway Azurite for a test suite: free ports, a temporary data folder. */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { type AzuriteOptions, type RunningAzurite, startAzurite } from '../../local/azurite';
import { STORAGE_CONNECTION, STORAGE_NAMES } from '../../functions/core/definitions';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

export interface AzuriteFixture {
  azurite: RunningAzurite;
  /** App settings pointing the functions at this Azurite with default names and limits. */
  env: Record<string, string>;
  blobService: BlobServiceClient;
  stop(): Promise<void>;
}

export async function startAzuriteFixture(
  options: Partial<AzuriteOptions> = {},
): Promise<AzuriteFixture> {
  const location = await mkdtemp(join(tmpdir(), 'directdrop-azurite-'));
  const [blobPort, queuePort] = [await freePort(), await freePort()];
  const azurite = await startAzurite({ location, blobPort, queuePort, ...options });
  const blobService = BlobServiceClient.fromConnectionString(azurite.connectionString);
  await Promise.all(
    [STORAGE_NAMES.landingContainer, STORAGE_NAMES.processedContainer].map((name) =>
      blobService.getContainerClient(name).createIfNotExists(),
    ),
  );
  return {
    azurite,
    env: { [STORAGE_CONNECTION]: azurite.connectionString },
    blobService,
    async stop() {
      await azurite.stop();
      await rm(location, { recursive: true, force: true });
    },
  };
}
