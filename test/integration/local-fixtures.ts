/** Shared by the local-mode integration tests: a real Azurite on free ports, queue helpers. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BlobServiceClient } from '@azure/storage-blob';
import { type PeekedMessageItem, type QueueClient, QueueServiceClient } from '@azure/storage-queue';
import { type RunningAzurite, startAzurite } from '../../local/azurite';
import { freePort } from '../../local/azurite-sandbox';

export interface LocalAzurite {
  azurite: RunningAzurite;
  blobService: BlobServiceClient;
  queueService: QueueServiceClient;
  /** A temporary folder removed by stop(); Azurite keeps its data in `<dir>/azurite`. */
  dir: string;
  stop(): Promise<void>;
}

export async function startLocalAzurite(): Promise<LocalAzurite> {
  const dir = await mkdtemp(join(tmpdir(), 'directdrop-local-'));
  const [blobPort, queuePort, tablePort] = [await freePort(), await freePort(), await freePort()];
  const azurite = await startAzurite({
    location: join(dir, 'azurite'),
    blobPort,
    queuePort,
    tablePort,
  });
  return {
    azurite,
    blobService: BlobServiceClient.fromConnectionString(azurite.connectionString),
    queueService: QueueServiceClient.fromConnectionString(azurite.connectionString),
    dir,
    async stop() {
      await azurite.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Polls until `predicate` holds or `timeoutMs` passes; returns whether it held. */
export async function eventually(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 20,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return true;
    await sleep(intervalMs);
  }
  return predicate();
}

/** Every visible message (up to 32), without taking them. */
export async function peekAll(queue: QueueClient): Promise<PeekedMessageItem[]> {
  return (await queue.peekMessages({ numberOfMessages: 32 })).peekedMessageItems;
}

export function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

export function decodeBase64Json(message: string): unknown {
  return JSON.parse(Buffer.from(message, 'base64').toString('utf8'));
}
