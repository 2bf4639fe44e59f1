/**
 * What every recorded outcome goes through, whichever path decided it (processing, the
 * scan gate, the poison queue, the sweep): before, what the upload record says of the
 * upload; after the manifest, in this order, the record mirrors it and frees the quota
 * slot, its event is published, and the blob is tombstoned. The blob is the progress
 * marker: until it is a tombstone, a redelivered event repeats these steps (the same
 * event id each time), so a crash or a failed publish loses nothing.
 */
import type { InvocationContext } from '@azure/functions';
import type { BlobGetPropertiesResponse } from '@azure/storage-blob';
import type { BlobCommit } from '../core/blob-events';
import type { UploadManifest } from '../core/manifest';
import { outcomeEvent } from '../core/outcome-events';
import type { OutcomeFields } from '../core/upload-record';
import { tombstoneBlob } from '../adapters/landing-blob';
import type { Runtime } from '../adapters/runtime';
import { RecordChangedError } from '../adapters/upload-table';
import { eraseProcessed } from './upload-deletion';
import type { UploadSource } from './upload-source';

/**
 * A refused page or append blob changes its ETag in place, and no version of a refused
 * blob is ever accepted: its tombstone replaces whatever is there. Any other outcome pins
 * the version it describes.
 */
export function recordedVersion(manifest: UploadManifest): string | undefined {
  const refused = manifest.status === 'rejected' && manifest.reason === 'not-a-plain-upload';
  return refused ? undefined : manifest.source.eTag;
}

/** The manifest fields every outcome of this blob version shares, from the record and the blob. */
export type ManifestBase = Pick<
  UploadManifest,
  | 'version'
  | 'uploadId'
  | 'owner'
  | 'dropZone'
  | 'metadata'
  | 'caller'
  | 'issuedAt'
  | 'source'
  | 'uploadedAt'
>;

export type Admission =
  /** `recordEtag`: the upload record's ETag as admitted (none for a zone's blob). */
  { admitted: true; base: ManifestBase; recordEtag?: string } | { admitted: false; why: string };

/**
 * Whether the upload may have an outcome, and what its manifest carries of it. A landing
 * upload needs its record, issued when its URL was: none (erased, or never issued by this
 * stack) or one marked deleted means the blob is refused instead. A zone's blob belongs
 * to the zone; its record is made with its first outcome.
 */
export async function admitUpload(
  runtime: Runtime,
  source: UploadSource,
  commit: Pick<BlobCommit, 'blobName' | 'eTag' | 'sequencer'>,
  properties: BlobGetPropertiesResponse,
): Promise<Admission> {
  const { owner, uploadId, dropZone } = source;
  const blob = {
    version: 1 as const,
    uploadId,
    owner,
    source: { blobName: commit.blobName, eTag: commit.eTag, sequencer: commit.sequencer },
    uploadedAt: (properties.lastModified ?? new Date()).toISOString(),
  };
  if (dropZone)
    return {
      admitted: true,
      base: {
        ...blob,
        dropZone,
        metadata: {},
        caller: { kind: 'dropZone', zone: dropZone },
        issuedAt: (properties.createdOn ?? properties.lastModified ?? new Date()).toISOString(),
      },
    };
  const stored = await runtime.uploads.get(owner, uploadId);
  if (!stored) return { admitted: false, why: 'it has no upload record' };
  if (stored.record.status === 'deleted') return { admitted: false, why: 'it is being deleted' };
  const { metadata, caller, issuedAt } = stored.record;
  return { admitted: true, base: { ...blob, metadata, caller, issuedAt }, recordEtag: stored.etag };
}

/** Refuses a blob that may not have an outcome: tombstoned, nothing recorded or published. */
export async function refuseUnadmitted(
  source: UploadSource,
  blobName: string,
  properties: BlobGetPropertiesResponse,
  why: string,
  context: InvocationContext,
): Promise<void> {
  const plain = properties.blobType === 'BlockBlob';
  await tombstoneBlob(source.container, blobName, 'refused', plain ? properties.etag : undefined);
  context.warn(`Upload ${source.uploadId}: refused its blob, since ${why}`);
}

function outcomeFields(
  manifest: UploadManifest,
  source: UploadSource,
  properties: BlobGetPropertiesResponse,
): OutcomeFields {
  const { blobName } = manifest.source;
  const common = {
    status: manifest.status,
    completedAt: manifest.completedAt,
    uploadedAt: manifest.uploadedAt,
    ...(source.dropZone && {
      dropZone: {
        zone: source.dropZone,
        container: source.container.containerName,
        blobName,
        fileName: blobName.slice(blobName.lastIndexOf('/') + 1),
        contentType: properties.contentType ?? '',
        issuedAt: manifest.issuedAt,
      },
    }),
  };
  if (manifest.status !== 'processed')
    return { ...common, reason: manifest.reason, message: manifest.message };
  return { ...common, original: manifest.original, outputs: manifest.outputs };
}

/** Attempts at mirroring against a record a concurrent delivery keeps changing. */
const MIRROR_ATTEMPTS = 3;

/**
 * Mirrors the outcome into the upload record (If-Match the record read), or, when the
 * upload was deleted meanwhile, undoes it: false then. `admittedEtag`, the record's ETag
 * when the upload was admitted, saves the first read: recordOutcome refuses it, as
 * RecordChangedError, if the record has changed, been marked deleted or gone since, and
 * the next attempt reads the record afresh.
 */
async function mirror(
  runtime: Runtime,
  source: UploadSource,
  manifest: UploadManifest,
  properties: BlobGetPropertiesResponse,
  admittedEtag: string | undefined,
): Promise<boolean> {
  const { owner, uploadId } = source;
  const fields = outcomeFields(manifest, source, properties);
  if (source.dropZone) {
    await runtime.uploads.recordOutcome(owner, uploadId, fields);
    return true;
  }
  /** False when the record changed since `etag` was read. */
  const recordAt = async (etag: string) => {
    try {
      await runtime.uploads.recordOutcome(owner, uploadId, fields, etag);
      return true;
    } catch (error) {
      if (!(error instanceof RecordChangedError)) throw error;
      return false;
    }
  };
  if (admittedEtag !== undefined && (await recordAt(admittedEtag))) return true;
  for (let attempt = 0; attempt < MIRROR_ATTEMPTS; attempt++) {
    const stored = await runtime.uploads.get(owner, uploadId);
    if (!stored || stored.record.status === 'deleted') return false;
    if (await recordAt(stored.etag)) return true;
  }
  throw new Error(`Upload ${uploadId}: its record kept changing; retrying`);
}

export function eventContext(runtime: Runtime) {
  const { eventSource, processedContainer } = runtime.settings;
  return { source: eventSource, processedContainer };
}

export async function finishOutcome(
  runtime: Runtime,
  source: UploadSource,
  manifest: UploadManifest,
  properties: BlobGetPropertiesResponse,
  context: InvocationContext,
  admittedEtag?: string,
): Promise<void> {
  const { blobName } = manifest.source;
  if (!(await mirror(runtime, source, manifest, properties, admittedEtag))) {
    // The owner deleted it while it was being processed: what this run wrote goes too.
    await eraseProcessed(runtime, source.uploadId);
    await tombstoneBlob(source.container, blobName, 'deleted');
    context.warn(`Upload ${source.uploadId}: deleted while processing; its outcome was undone`);
    return;
  }
  await runtime.outcomes.publish([outcomeEvent(manifest, eventContext(runtime))]);
  await tombstoneBlob(source.container, blobName, manifest.status, recordedVersion(manifest));
}
