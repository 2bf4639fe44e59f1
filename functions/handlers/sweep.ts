/**
 * Timer trigger (SWEEP_SCHEDULE): removes what nothing else will, a bounded batch per kind
 * and run, resuming where the last run stopped (the cursors live in `sweep/state.json` in
 * the processed container), and logs what it did:
 *
 * - landing and zone blobs, of every type, older than the longest URL that could write
 *   them plus a margin: tombstones are deleted (lifecycle cannot delete page blobs, and
 *   runs only daily), an outcome whose tombstone never came is finished, an upload with no
 *   outcome long past the pending deadline is recorded failed;
 * - output folders no manifest names, found by their pointers, and the scan gate's
 *   records of finished uploads;
 * - issued uploads whose URL expired unused: a create-only tombstone first (a 409 means the
 *   upload landed after all, and its event decides), then `failed` / `not-uploaded` through
 *   the normal outcome path;
 * - erasures whose inline path and work item both gave up.
 */
import type { InvocationContext, Timer } from '@azure/functions';
import type { BlobGetPropertiesResponse, BlobItem, ContainerClient } from '@azure/storage-blob';
import { type BlobCommit, quotedETag } from '../core/blob-events';
import type { CommittedBlobApi } from '../core/definitions';
import type { UploadManifest } from '../core/manifest';
import {
  LANDING_SWEEP_AGE_MS,
  SWEEP_BATCH,
  SWEEP_MARGIN_MS,
  folderIsLeftover,
  gateRecordIsLeftover,
  isUploadPrefix,
  landedAction,
  uploadEntry,
  zoneSweepAgeMs,
} from '../core/sweep';
import { dropZoneContainer } from '../core/settings';
import type { UploadRecord } from '../core/upload-record';
import { createTombstone, deleteBlobEntirely, isTombstone } from '../adapters/landing-blob';
import { readManifest, writeManifest } from '../adapters/manifest-store';
import { deleteOutputs } from '../adapters/processed-outputs';
import { readBody } from '../adapters/read-body';
import { type Runtime, getRuntime } from '../adapters/runtime';
import { isStatus } from '../adapters/storage-errors';
import { finishOutcome } from './finish-outcome';
import { recordGaveUp } from './gave-up';
import { UPLOAD_DELETION_TYPE, type UploadDeletionItem, runDeletion } from './upload-deletion';
import { processCommit } from './process-upload';
import { uploadSourceOf } from './upload-source';

export const SWEEP_STATE_BLOB = 'sweep/state.json';

/** Where each kind of sweep goes on next run; undefined starts from the beginning. */
interface SweepState {
  containers: Record<string, string | undefined>;
  processed?: string;
  issued?: string;
  deleted?: string;
}

export interface SweepCounts {
  /** Per watched container: tombstones and other leftovers deleted. */
  deleted: Record<string, number>;
  /** Outcomes finished (their tombstone written) and uploads given up on. */
  finished: number;
  gaveUp: number;
  folders: number;
  gateRecords: number;
  notUploaded: number;
  /** Erasures finished whose inline path and work item both gave up. */
  deletions: number;
}

async function readState(processed: ContainerClient): Promise<SweepState> {
  try {
    const response = await processed.getBlobClient(SWEEP_STATE_BLOB).download();
    const parsed = JSON.parse(
      (await readBody(response.readableStreamBody, 64 * 1024)).toString('utf8'),
    ) as Partial<SweepState>;
    return { containers: parsed.containers ?? {}, ...parsed };
  } catch (error) {
    // Missing or unreadable: start over, which only costs a pass.
    if (isStatus(error, 404) || error instanceof SyntaxError) return { containers: {} };
    throw error;
  }
}

async function writeState(processed: ContainerClient, state: SweepState): Promise<void> {
  const body = JSON.stringify(state);
  await processed.getBlockBlobClient(SWEEP_STATE_BLOB).upload(body, Buffer.byteLength(body), {
    blobHTTPHeaders: { blobContentType: 'application/json', blobCacheControl: 'no-store' },
  });
}

/** The blob as an event would describe it, so a leftover takes the worker's own path. */
function commitOf(container: string, item: BlobItem): BlobCommit {
  return {
    eventId: 'sweep',
    container,
    blobName: item.name,
    api: 'PutBlob' satisfies CommittedBlobApi,
    eTag: quotedETag(item.properties.etag ?? ''),
    sequencer: '',
    contentLength: item.properties.contentLength ?? 0,
    contentType: item.properties.contentType ?? '',
    blobType: item.properties.blobType ?? '',
  };
}

async function sweepContainer(
  runtime: Runtime,
  name: string,
  sweepAgeMs: number,
  cursor: string | undefined,
  now: Date,
  counts: SweepCounts,
  context: InvocationContext,
): Promise<string | undefined> {
  const container = runtime.container(name);
  const page = await container
    .listBlobsFlat({ includeMetadata: true })
    .byPage({ maxPageSize: SWEEP_BATCH, continuationToken: cursor })
    .next();
  if (page.done) return undefined;
  for (const item of page.value.segment.blobItems) {
    const source = uploadSourceOf(runtime, { container: name, blobName: item.name });
    const ageMs = now.getTime() - item.properties.lastModified.getTime();
    const tombstone = isTombstone({
      contentType: item.properties.contentType,
      metadata: item.metadata,
    });
    const needsOutcome = !tombstone && source !== undefined && ageMs > sweepAgeMs;
    const hasOutcome =
      needsOutcome && (await readManifest(runtime.processed, source.uploadId)) !== undefined;
    const action = landedAction({
      ageMs,
      sweepAgeMs,
      tombstone,
      attributable: source !== undefined,
      hasOutcome,
    });
    if (action === 'delete') {
      await deleteBlobEntirely(container, item.name);
      counts.deleted[name] = (counts.deleted[name] ?? 0) + 1;
    } else if (action === 'finish') {
      await processCommit(runtime, commitOf(name, item), context);
      counts.finished++;
    } else if (action === 'give-up' && source) {
      const properties = await container.getBlobClient(item.name).getProperties();
      const commit = { ...commitOf(name, item), eTag: quotedETag(properties.etag ?? '') };
      if (await recordGaveUp(runtime, source, commit, properties, context)) counts.gaveUp++;
    }
  }
  return page.value.continuationToken || undefined;
}

/** One upload's prefix in the processed container: leftover folders and gate records. */
async function sweepUpload(
  runtime: Runtime,
  uploadId: string,
  now: Date,
  counts: SweepCounts,
): Promise<void> {
  const { processed } = runtime;
  const blobs: BlobItem[] = [];
  for await (const blob of processed.listBlobsFlat({ prefix: `${uploadId}/` })) blobs.push(blob);
  const hasManifest = blobs.some((b) => uploadEntry(uploadId, b.name).kind === 'manifest');
  const manifest = hasManifest ? (await readManifest(processed, uploadId))?.manifest : undefined;
  const current = manifest?.status === 'processed' ? manifest.outputPrefix : undefined;
  for (const blob of blobs) {
    const entry = uploadEntry(uploadId, blob.name);
    const ageMs = now.getTime() - blob.properties.lastModified.getTime();
    if (
      entry.kind === 'folder-pointer' &&
      folderIsLeftover(entry.folder, ageMs, current, hasManifest)
    ) {
      await deleteOutputs(processed, uploadId, entry.folder);
      counts.folders++;
    } else if (entry.kind === 'gate-record' && gateRecordIsLeftover(ageMs, hasManifest)) {
      await processed.deleteBlob(blob.name).catch((error) => {
        if (!isStatus(error, 404)) throw error;
      });
      counts.gateRecords++;
    }
  }
}

async function sweepProcessed(
  runtime: Runtime,
  cursor: string | undefined,
  now: Date,
  counts: SweepCounts,
): Promise<string | undefined> {
  const page = await runtime.processed
    .listBlobsByHierarchy('/')
    .byPage({ maxPageSize: SWEEP_BATCH, continuationToken: cursor })
    .next();
  if (page.done) return undefined;
  for (const prefix of page.value.segment.blobPrefixes ?? [])
    if (isUploadPrefix(prefix.name))
      await sweepUpload(runtime, prefix.name.replace(/\/$/, ''), now, counts);
  return page.value.continuationToken || undefined;
}

/**
 * An issued upload whose URL expired unused. Its tombstone, created where nothing is,
 * closes the URL for good; a blob there already landed, and only a tombstone-shaped one
 * (no upload, whoever made it) ends it here.
 */
async function concludeUnused(
  runtime: Runtime,
  record: UploadRecord,
  context: InvocationContext,
): Promise<boolean> {
  const source = uploadSourceOf(runtime, record);
  if (!source || source.dropZone) return false;
  const { container } = source;
  await createTombstone(container, record.blobName, 'not-uploaded');
  let properties: BlobGetPropertiesResponse;
  try {
    properties = await container.getBlobClient(record.blobName).getProperties();
  } catch (error) {
    if (isStatus(error, 404)) return false;
    throw error;
  }
  if (!isTombstone(properties)) return false;
  const manifest: UploadManifest = {
    version: 1,
    uploadId: record.uploadId,
    owner: record.owner,
    metadata: record.metadata,
    caller: record.caller,
    issuedAt: record.issuedAt,
    source: { blobName: record.blobName, eTag: quotedETag(properties.etag ?? ''), sequencer: '' },
    status: 'failed',
    reason: 'not-uploaded',
    message: 'The upload URL expired and nothing was uploaded with it.',
    completedAt: new Date().toISOString(),
  };
  if (!(await writeManifest(runtime.processed, manifest, undefined))) return false;
  await finishOutcome(runtime, source, manifest, properties, context);
  return true;
}

async function sweepIssued(
  runtime: Runtime,
  cursor: string | undefined,
  now: Date,
  counts: SweepCounts,
  context: InvocationContext,
): Promise<string | undefined> {
  const page = await runtime.uploads.listByStatus('issued', SWEEP_BATCH, cursor);
  for (const record of page.records) {
    const expired =
      record.urlExpiresAt !== undefined &&
      Date.parse(record.urlExpiresAt) + SWEEP_MARGIN_MS < now.getTime();
    if (expired && (await concludeUnused(runtime, record, context))) counts.notUploaded++;
  }
  return page.continuationToken;
}

/**
 * A record still marked deleted: its erasure stopped and its work item was used up (a
 * poison queue drops what it cannot handle). Finished here, its event republished under
 * the same id; its `time` is now, the first publication's being unknown.
 */
async function sweepDeleted(
  runtime: Runtime,
  cursor: string | undefined,
  now: Date,
  counts: SweepCounts,
): Promise<string | undefined> {
  const page = await runtime.uploads.listByStatus('deleted', SWEEP_BATCH, cursor);
  for (const record of page.records) {
    const item: UploadDeletionItem = {
      type: UPLOAD_DELETION_TYPE,
      owner: record.owner,
      uploadId: record.uploadId,
      deletedAt: now.toISOString(),
    };
    if ((await runDeletion(runtime, item, false)) === 'deleted') counts.deletions++;
  }
  return page.continuationToken;
}

export async function runSweep(
  runtime: Runtime,
  now: Date,
  context: InvocationContext,
): Promise<SweepCounts> {
  const { settings, processed } = runtime;
  const state = await readState(processed);
  const counts: SweepCounts = {
    deleted: {},
    finished: 0,
    gaveUp: 0,
    folders: 0,
    gateRecords: 0,
    notUploaded: 0,
    deletions: 0,
  };
  const watched = [
    { name: settings.landingContainer, ageMs: LANDING_SWEEP_AGE_MS },
    ...settings.dropZones.map((zone) => ({
      name: dropZoneContainer(zone.name),
      ageMs: zoneSweepAgeMs(zone),
    })),
  ];
  for (const { name, ageMs } of watched)
    state.containers[name] = await sweepContainer(
      runtime,
      name,
      ageMs,
      state.containers[name],
      now,
      counts,
      context,
    );
  state.processed = await sweepProcessed(runtime, state.processed, now, counts);
  state.issued = await sweepIssued(runtime, state.issued, now, counts, context);
  state.deleted = await sweepDeleted(runtime, state.deleted, now, counts);
  await writeState(processed, state);
  return counts;
}

export function sweepHandler(runtime: () => Runtime) {
  return async function sweep(_timer: Timer, context: InvocationContext): Promise<void> {
    const counts = await runSweep(runtime(), new Date(), context);
    const deleted = Object.entries(counts.deleted)
      .map(([container, n]) => `${n} in ${container}`)
      .join(', ');
    context.info(
      `Sweep: deleted ${deleted || 'no blobs'}; finished ${counts.finished}, gave up ${counts.gaveUp}; ${counts.folders} output folders, ${counts.gateRecords} gate records; ${counts.notUploaded} URLs expired unused; ${counts.deletions} erasures finished`,
    );
  };
}

export const sweep = sweepHandler(getRuntime);
