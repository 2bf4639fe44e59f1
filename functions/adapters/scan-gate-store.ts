/**
 * The scan gate's durable state: one create-only JSON record per blob version for its
 * verdict and one for a BlobCreated event waiting on it, in the processed container
 * (`<uploadId>/gate/<version>/`), and the delayed timeout checks on the events queue.
 */
import type { ContainerClient } from '@azure/storage-blob';
import type { QueueClient } from '@azure/storage-queue';
import {
  type PendingScanRecord,
  type VerdictRecord,
  gateRecordNames,
  isPendingScanRecord,
  isVerdictRecord,
  timeoutCheckMessage,
} from '../core/scan-gate';
import { readBody } from './read-body';
import { isStatus } from './storage-errors';

/** Records are a few hundred bytes; anything far larger is not ours. */
const MAX_RECORD_BYTES = 64 * 1024;

async function readRecord<T>(
  processed: ContainerClient,
  name: string,
  isRecord: (value: unknown) => value is T,
): Promise<T | undefined> {
  try {
    const response = await processed.getBlobClient(name).download();
    const buffer = await readBody(response.readableStreamBody, MAX_RECORD_BYTES);
    const parsed: unknown = JSON.parse(buffer.toString('utf8'));
    if (!isRecord(parsed)) throw new Error(`Scan gate record ${name} has an unknown shape`);
    return parsed;
  } catch (error) {
    if (isStatus(error, 404)) return undefined;
    throw error;
  }
}

/** Creates the record unless one exists; returns false when it already did. */
async function createRecord(
  processed: ContainerClient,
  name: string,
  record: object,
): Promise<boolean> {
  const body = JSON.stringify(record);
  try {
    await processed.getBlockBlobClient(name).upload(body, Buffer.byteLength(body), {
      blobHTTPHeaders: { blobContentType: 'application/json', blobCacheControl: 'no-store' },
      conditions: { ifNoneMatch: '*' },
    });
    return true;
  } catch (error) {
    if (isStatus(error, 409, 412)) return false;
    throw error;
  }
}

export function readVerdict(processed: ContainerClient, uploadId: string, eTag: string) {
  return readRecord(processed, gateRecordNames(uploadId, eTag).verdict, isVerdictRecord);
}

export function readPending(processed: ContainerClient, uploadId: string, eTag: string) {
  return readRecord(processed, gateRecordNames(uploadId, eTag).pending, isPendingScanRecord);
}

export function createVerdict(processed: ContainerClient, uploadId: string, record: VerdictRecord) {
  return createRecord(processed, gateRecordNames(uploadId, record.eTag).verdict, record);
}

export function createPending(
  processed: ContainerClient,
  uploadId: string,
  record: PendingScanRecord,
) {
  return createRecord(processed, gateRecordNames(uploadId, record.commit.eTag).pending, record);
}

/**
 * Enqueues a check that becomes visible after `delaySeconds`, Base64-encoded as the queue
 * trigger expects; it never expires, like Event Grid's own deliveries to this queue.
 */
export async function scheduleTimeoutCheck(
  queue: QueueClient,
  uploadId: string,
  eTag: string,
  delaySeconds: number,
): Promise<void> {
  const text = JSON.stringify(timeoutCheckMessage(uploadId, eTag));
  await queue.sendMessage(Buffer.from(text, 'utf8').toString('base64'), {
    visibilityTimeout: Math.max(0, Math.ceil(delaySeconds)),
    messageTimeToLive: -1,
  });
}
