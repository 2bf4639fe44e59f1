/**
 * Erasing one upload, for its owner (`DELETE /api/uploads/{id}`) and for the operator
 * (`npx directdrop erase`): the record is marked deleted (the worker then refuses the
 * upload instead of processing it), the landing blob becomes a tombstone (created where
 * nothing was ever PUT), outputs, kept original, gate records and manifest go, the
 * `directdrop.upload.deleted` event is published, and the record goes with its quota slot.
 *
 * At least once: a `directdrop.UploadDeletion` work item is enqueued on the events queue
 * first, visible only after DELETION_RETRY_SECONDS. The inline path deletes it when it gets
 * to the end; otherwise the item finishes the erasure and republishes (the same event id,
 * the same `deletedAt`). The record is removed last, after the event: while it exists the
 * erasure is not known to be done.
 */
import type { InvocationContext } from '@azure/functions';
import { type DeletedUpload, deletedEvent } from '../core/outcome-events';
import { noLongerNamed } from '../core/manifest';
import { type UploadEntry, uploadEntry } from '../core/sweep';
import type { UploadRecord } from '../core/upload-record';
import { createTombstone, tombstoneBlob } from '../adapters/landing-blob';
import { readManifest } from '../adapters/manifest-store';
import { deleteOutputs } from '../adapters/processed-outputs';
import type { Runtime } from '../adapters/runtime';
import { isStatus } from '../adapters/storage-errors';
import { RecordChangedError } from '../adapters/upload-table';
import { eventContext } from './finish-outcome';

export const UPLOAD_DELETION_TYPE = 'directdrop.UploadDeletion';

export interface UploadDeletionItem {
  type: typeof UPLOAD_DELETION_TYPE;
  owner: string;
  uploadId: string;
  /** When the deletion was asked for: the event's `time`, the same on every republication. */
  deletedAt: string;
}

/** How long the inline path has before its work item takes over. */
export const DELETION_RETRY_SECONDS = 120;

const OWNER = /^[0-9a-f]{32}$/;
const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The work item in a queue message, or undefined when the message is something else. */
export function parseUploadDeletion(
  message: unknown,
): UploadDeletionItem | 'malformed' | undefined {
  let value = message;
  if (typeof value === 'string' || Buffer.isBuffer(value)) {
    try {
      value = JSON.parse(value.toString());
    } catch {
      return undefined;
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const item = value as Record<string, unknown>;
  if (item.type !== UPLOAD_DELETION_TYPE) return undefined;
  const { owner, uploadId, deletedAt } = item;
  if (
    typeof owner !== 'string' ||
    !OWNER.test(owner) ||
    typeof uploadId !== 'string' ||
    !UPLOAD_ID.test(uploadId) ||
    typeof deletedAt !== 'string' ||
    Number.isNaN(Date.parse(deletedAt))
  )
    return 'malformed';
  return { type: UPLOAD_DELETION_TYPE, owner, uploadId, deletedAt };
}

const ignoreMissing = (error: unknown) => {
  if (!isStatus(error, 404)) throw error;
};

/**
 * Everything the processed and originals containers hold of the upload: each output folder
 * its pointers name (a lost race's too) and its manifest names, each kept original, the
 * gate's records, and the manifest last, so a crash part-way leaves a manifest to find the
 * rest by.
 */
export async function eraseProcessed(runtime: Runtime, uploadId: string): Promise<void> {
  const { processed, originals } = runtime;
  const stored = await readManifest(processed, uploadId);
  const named = stored ? noLongerNamed(stored.manifest, undefined) : { folders: [], originals: [] };
  const entries: Array<{ name: string; entry: UploadEntry }> = [];
  for await (const blob of processed.listBlobsFlat({ prefix: `${uploadId}/` }))
    entries.push({ name: blob.name, entry: uploadEntry(uploadId, blob.name) });
  const folders = new Set(named.folders);
  for (const { entry } of entries) if (entry.kind === 'folder-pointer') folders.add(entry.folder);
  for (const folder of folders) await deleteOutputs(processed, uploadId, folder);
  for (const original of named.originals) await originals.deleteBlob(original).catch(ignoreMissing);
  for await (const blob of originals.listBlobsFlat({ prefix: `${uploadId}/` }))
    await originals.deleteBlob(blob.name).catch(ignoreMissing);
  for (const { name, entry } of entries)
    if (entry.kind !== 'manifest' && entry.kind !== 'folder-pointer')
      await processed.deleteBlob(name).catch(ignoreMissing);
  if (stored) await processed.deleteBlob(`${uploadId}/manifest.json`).catch(ignoreMissing);
}

function deletedUpload(record: UploadRecord): DeletedUpload {
  const { uploadId, metadata, caller, dropZone, issuedAt, uploadedAt, completedAt } = record;
  return { uploadId, metadata, caller, dropZone, issuedAt, uploadedAt, completedAt };
}

/** Attempts at marking a record deleted while the worker keeps changing it. */
const MARK_ATTEMPTS = 5;

export type DeletionResult = 'deleted' | 'not-found';

/**
 * Runs (or finishes) one erasure. `fromOwner`: asked through the API, where an upload
 * already being deleted is not found; the work item and the operator finish it instead.
 */
export async function runDeletion(
  runtime: Runtime,
  item: UploadDeletionItem,
  fromOwner: boolean,
): Promise<DeletionResult> {
  const { owner, uploadId } = item;
  let record: UploadRecord | undefined;
  for (let attempt = 0; attempt < MARK_ATTEMPTS && !record; attempt++) {
    const stored = await runtime.uploads.get(owner, uploadId);
    if (!stored) return 'not-found';
    if (stored.record.status === 'deleted') {
      if (fromOwner && attempt === 0) return 'not-found';
      record = stored.record;
      break;
    }
    try {
      await runtime.uploads.markDeleted(owner, uploadId, stored.etag);
      record = stored.record;
    } catch (error) {
      // An outcome was mirrored meanwhile: read it again and mark that.
      if (!(error instanceof RecordChangedError)) throw error;
    }
  }
  if (!record) throw new Error(`Upload ${uploadId}: its record kept changing; retrying`);

  const container = runtime.container(record.container);
  if (!(await createTombstone(container, record.blobName, 'deleted')))
    await tombstoneBlob(container, record.blobName, 'deleted');
  await eraseProcessed(runtime, uploadId);
  await runtime.outcomes.publish([
    deletedEvent(deletedUpload(record), item.deletedAt, eventContext(runtime)),
  ]);
  await runtime.uploads.remove(owner, uploadId);
  return 'deleted';
}

/**
 * The API's and the operator's way in: the work item first, then the erasure inline, then
 * the work item goes. Once the item is enqueued the erasure will complete: an inline
 * failure after that is logged and left to the item.
 */
export async function eraseUpload(
  runtime: Runtime,
  owner: string,
  uploadId: string,
  fromOwner: boolean,
  context: InvocationContext,
  /** The caller's right to this record beyond its partition (anonymous mode's capability). */
  mayErase: (record: UploadRecord) => boolean = () => true,
): Promise<DeletionResult> {
  const item: UploadDeletionItem = {
    type: UPLOAD_DELETION_TYPE,
    owner,
    uploadId,
    deletedAt: new Date().toISOString(),
  };
  // Nothing to erase, nothing to enqueue: an unknown id costs the same read as another's.
  const stored = await runtime.uploads.get(owner, uploadId);
  if (!stored || (fromOwner && stored.record.status === 'deleted') || !mayErase(stored.record))
    return 'not-found';
  const queue = runtime.eventsQueue;
  const text = JSON.stringify(item);
  const sent = await queue.sendMessage(Buffer.from(text, 'utf8').toString('base64'), {
    visibilityTimeout: DELETION_RETRY_SECONDS,
    messageTimeToLive: -1,
  });
  let result: DeletionResult;
  try {
    result = await runDeletion(runtime, item, fromOwner);
  } catch (error) {
    context.warn(
      `Upload ${uploadId}: erasure interrupted (${(error as Error).name}); its work item finishes it within ${DELETION_RETRY_SECONDS} s`,
    );
    return 'deleted';
  }
  // The item is no longer needed; if this fails it runs, finds no record, and does nothing.
  await queue.deleteMessage(sent.messageId, sent.popReceipt).catch(() => undefined);
  return result;
}

/** The events queue's side: false when the message holds no deletion work item. */
export async function handleUploadDeletion(
  runtime: Runtime,
  message: unknown,
  context: InvocationContext,
): Promise<boolean> {
  const item = parseUploadDeletion(message);
  if (item === undefined) return false;
  if (item === 'malformed') {
    context.warn('Dropped a malformed upload deletion work item');
    return true;
  }
  const result = await runDeletion(runtime, item, false);
  context.info(
    result === 'deleted'
      ? `Upload ${item.uploadId}: deletion finished by its work item`
      : `Upload ${item.uploadId}: deletion already finished`,
  );
  return true;
}
