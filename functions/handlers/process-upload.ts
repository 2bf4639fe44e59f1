/**
 * Queue trigger on the events queue: turns one committed upload into its variants and
 * manifest, then tombstones the landing blob so its URL can never write it again.
 * Rejections are outcomes, not errors; only infrastructure failures throw, so the host
 * retries them and finally moves the message to the poison queue. An event is a claim: nothing is recorded for a blob version that
 * does not exist.
 */
import type { InvocationContext } from '@azure/functions';
import type { BlobGetPropertiesResponse } from '@azure/storage-blob';
import { type BlobCommit, parseBlobEvents } from '../core/blob-events';
import { processImage } from '../core/image-pipeline';
import { type RejectReason, type UploadManifest, outputPrefix } from '../core/manifest';
import { plainUploadViolation } from '../core/plain-upload';
import { variantSetHash } from '../core/reprocess';
import { readManifest, writeManifest } from '../adapters/manifest-store';
import {
  hasSnapshots,
  inspectLandingBlob,
  isTombstone,
  tombstoneBlob,
} from '../adapters/landing-blob';
import { deleteOutputs, writeOutputs } from '../adapters/processed-outputs';
import { isStatus } from '../adapters/storage-errors';
import { BodyTooLargeError, readBody } from '../adapters/read-body';
import { type Runtime, getRuntime } from '../adapters/runtime';
import { handleScanGateMessage, passesScanGate } from './scan-gate';
import {
  type ManifestBase,
  admitUpload,
  finishOutcome,
  recordedVersion,
  refuseUnadmitted,
} from './finish-outcome';
import { handleUploadDeletion } from './upload-deletion';
import { type UploadSource, uploadSourceOf, watchedContainers } from './upload-source';

type Outcome =
  | { status: 'processed'; manifest: UploadManifest; folder: string; originalBlobName?: string }
  | { status: 'rejected'; manifest: UploadManifest }
  | { status: 'stale' };

async function produceOutcome(
  runtime: Runtime,
  commit: BlobCommit,
  { container, uploadId, declaredSize }: UploadSource,
  base: ManifestBase,
  properties: BlobGetPropertiesResponse,
  violation: string | undefined,
): Promise<Outcome> {
  const { settings, processed } = runtime;
  const { eTag } = commit;
  const completedAt = () => new Date().toISOString();
  const rejected = (reason: RejectReason, message: string): Outcome => ({
    status: 'rejected',
    manifest: { ...base, status: 'rejected', reason, message, completedAt: completedAt() },
  });
  const tooLarge = () =>
    rejected('too-large', `The upload is larger than ${settings.maxUploadBytes} bytes.`);
  const sizeMismatch = (found: string) =>
    rejected(
      'size-mismatch',
      `The upload holds ${found} bytes, not the ${declaredSize} declared when its upload URL was issued.`,
    );

  if (violation) return rejected('not-a-plain-upload', violation);

  // The blob's own length at this version settles refusal; only the bytes read settle acceptance.
  const length = properties.contentLength ?? 0;
  if (length > settings.maxUploadBytes) return tooLarge();
  if (declaredSize !== undefined && length !== declaredSize) return sizeMismatch(String(length));

  // The declared size is at most the limit, unless the limit was lowered since issuing.
  // A drop zone declares nothing: the limit alone bounds what is read.
  const limit = Math.min(declaredSize ?? settings.maxUploadBytes, settings.maxUploadBytes);
  const blob = container.getBlobClient(commit.blobName);
  let bytes: Buffer;
  try {
    // If-Match pins the exact version the event announced; one byte past the limit proves excess.
    const response = await blob.download(0, limit + 1, { conditions: { ifMatch: eTag } });
    bytes = await readBody(response.readableStreamBody, limit, response.contentLength);
  } catch (error) {
    if (error instanceof BodyTooLargeError)
      return limit === settings.maxUploadBytes
        ? tooLarge()
        : sizeMismatch(`more than ${declaredSize}`);
    // Changed or deleted since the check: a newer event follows, or there is nothing to record.
    if (isStatus(error, 404, 412)) return { status: 'stale' };
    throw error;
  }
  // The properties' length is not the bytes': only the bytes read settle it.
  if (declaredSize !== undefined && bytes.length !== declaredSize)
    return sizeMismatch(String(bytes.length));

  const result = await processImage(bytes, settings.variants, settings);
  if (!result.ok) return rejected(result.reason, result.message);

  const folder = outputPrefix(uploadId, eTag);
  const outputs = await writeOutputs(processed, uploadId, folder, result.variants);
  const originalBlobName = settings.keepOriginals
    ? await keepOriginal(
        runtime,
        `${uploadId}/${folder}/${landingFileName(commit)}`,
        bytes,
        result.original.format,
      )
    : undefined;
  return {
    status: 'processed',
    folder,
    originalBlobName,
    manifest: {
      ...base,
      status: 'processed',
      outputPrefix: folder,
      original: { ...result.original, size: bytes.length },
      outputs,
      originalBlobName,
      variantSet: variantSetHash(settings.variants),
      completedAt: completedAt(),
    },
  };
}

function landingFileName(commit: BlobCommit): string {
  return commit.blobName.slice(commit.blobName.lastIndexOf('/') + 1);
}

/**
 * Copies the validated original, from the bytes already read, to the private originals
 * container, before the manifest that names it; a rerun rewrites the same blob.
 */
async function keepOriginal(
  runtime: Runtime,
  blobName: string,
  bytes: Buffer,
  contentType: string,
): Promise<string> {
  await runtime.originals.getBlockBlobClient(blobName).uploadData(bytes, {
    blobHTTPHeaders: { blobContentType: contentType },
  });
  return blobName;
}

/**
 * A recorded outcome's blob still here: the crash or failed step after its manifest is
 * finished. Any other version is a later write through the same URL (or a version made
 * while a refused blob was being replaced): refused, and tombstoned without touching the
 * recorded outcome, its event or its quota.
 */
async function finishOrRefuse(
  runtime: Runtime,
  source: UploadSource,
  commit: BlobCommit,
  recorded: UploadManifest,
  properties: BlobGetPropertiesResponse,
  context: InvocationContext,
): Promise<void> {
  const { uploadId } = source;
  const pinned = recordedVersion(recorded);
  const holdsRecorded =
    pinned === undefined ? properties.blobType !== 'BlockBlob' : properties.etag === pinned;
  if (holdsRecorded) {
    await finishOutcome(runtime, source, recorded, properties, context);
    context.info(`Upload ${uploadId}: event ${commit.eventId} repeats its recorded outcome`);
    return;
  }
  const plain = properties.blobType === 'BlockBlob';
  await tombstoneBlob(
    source.container,
    commit.blobName,
    'refused',
    plain ? properties.etag : undefined,
  );
  context.warn(
    `Upload ${uploadId}: refused version ${properties.etag ?? '?'}, written after its outcome (${recorded.status}) was recorded; the outcome stands`,
  );
}

/** One committed blob through the worker; the sweep sends its leftovers here too. */
export async function processCommit(
  runtime: Runtime,
  commit: BlobCommit,
  context: InvocationContext,
): Promise<void> {
  const source = uploadSourceOf(runtime, commit);
  if (!source) {
    context.warn(`Ignored blob not named by directdrop (event ${commit.eventId})`);
    return;
  }
  const { uploadId } = source;
  const landed = await inspectLandingBlob(source.container, commit.blobName, commit.eTag);
  if (landed.state === 'gone') {
    context.info(
      `Upload ${uploadId}: the blob version of event ${commit.eventId} is gone; nothing recorded`,
    );
    return;
  }
  // The tombstone's own event, or one for a version the tombstone has replaced.
  if (isTombstone(landed.properties)) {
    context.info(
      `Upload ${uploadId}: the blob of event ${commit.eventId} is a tombstone; nothing to do`,
    );
    return;
  }
  const { properties } = landed;
  // A changed block blob has a newer event on its way; a page or append blob is refused as it is.
  const changed = landed.state === 'changed' && landed.isBlockBlob;
  // The three reads a new upload needs, side by side rather than one after another (each
  // is a round trip); only reads, so one whose answer goes unused has changed nothing.
  // The manifest decides first, as it did when they ran in turn.
  const reads = Promise.all([
    readManifest(runtime.processed, uploadId),
    changed ? undefined : admitUpload(runtime, source, commit, properties),
    // Anyone holding a zone's URL may snapshot any blob in it: noise, removed with the blob.
    changed || source.dropZone ? false : hasSnapshots(source.container, commit.blobName),
  ]);
  const [existing, admission, snapshots] = await reads;
  if (existing)
    return finishOrRefuse(runtime, source, commit, existing.manifest, properties, context);
  if (changed || !admission) {
    context.info(
      `Upload ${uploadId}: the blob version of event ${commit.eventId} is changed; nothing recorded`,
    );
    return;
  }
  if (!admission.admitted)
    return refuseUnadmitted(source, commit.blobName, properties, admission.why, context);
  const violation = plainUploadViolation({
    api: commit.api,
    blobType: properties.blobType,
    copied: properties.copyId !== undefined,
    hasSnapshots: snapshots,
    explicitTier: properties.accessTierInferred ? undefined : properties.accessTier,
  });
  // What is refused anyway need not wait for a verdict (Defender scans only what it scans).
  if (
    !violation &&
    runtime.settings.malwareScanning &&
    !(await passesScanGate(runtime, commit, uploadId, context))
  )
    return;

  const outcome = await produceOutcome(
    runtime,
    commit,
    source,
    admission.base,
    properties,
    violation,
  );
  if (outcome.status === 'stale') {
    context.info(
      `Upload ${uploadId}: blob changed since event ${commit.eventId}; nothing recorded`,
    );
    return;
  }
  if (await writeManifest(runtime.processed, outcome.manifest, undefined)) {
    const detail = outcome.manifest.status === 'rejected' ? ` (${outcome.manifest.reason})` : '';
    context.info(`Upload ${uploadId}: ${outcome.manifest.status}${detail}`);
    await finishOutcome(
      runtime,
      source,
      outcome.manifest,
      properties,
      context,
      admission.recordEtag,
    );
    return;
  }

  // Another delivery wrote the manifest meanwhile: its outcome stands, and ours goes.
  const current = await readManifest(runtime.processed, uploadId);
  const currentFolder =
    current?.manifest.status === 'processed' ? current.manifest.outputPrefix : undefined;
  if (outcome.status === 'processed' && outcome.folder !== currentFolder) {
    await deleteOutputs(runtime.processed, uploadId, outcome.folder);
    if (outcome.originalBlobName)
      await runtime.originals.deleteBlob(outcome.originalBlobName).catch((error) => {
        if (!isStatus(error, 404)) throw error;
      });
  }
  context.info(`Upload ${uploadId}: a concurrent delivery already recorded the outcome`);
}

export function processUploadEventHandler(runtime: () => Runtime) {
  return async function processUploadEvent(
    message: unknown,
    context: InvocationContext,
  ): Promise<void> {
    const rt = runtime();
    const resume = (commit: BlobCommit) => processCommit(rt, commit, context);
    if (await handleUploadDeletion(rt, message, context)) return;
    if (await handleScanGateMessage(rt, message, context, resume)) return;
    for (const event of parseBlobEvents(message, watchedContainers(rt))) {
      if (event.kind === 'malformed')
        context.warn(`Dropped a malformed event message: ${event.reason}`);
      else if (event.kind === 'ignored') context.info(`Ignored event: ${event.reason}`);
      else await processCommit(rt, event.commit, context);
    }
  };
}

export const processUploadEvent = processUploadEventHandler(getRuntime);
