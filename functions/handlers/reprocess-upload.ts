/**
 * Queue trigger on the reprocess queue: rebuilds one processed upload's variants from its
 * kept original, writes them to a new folder beside the current one, switches the manifest
 * with If-Match on the ETag it read, then deletes the replaced folder. It reads the
 * originals container and writes only the processed container, which no Event Grid
 * subscription watches, so nothing it does can raise an event that triggers processing.
 * Repeats, items for another variant set and uploads already current are no-ops.
 */
import type { InvocationContext } from '@azure/functions';
import type { ContainerClient } from '@azure/storage-blob';
import { concurrencyLimit } from '../core/concurrency-limit';
import { processImage } from '../core/image-pipeline';
import { type ReprocessFailReason, type UploadManifest, noLongerNamed } from '../core/manifest';
import {
  type ReprocessWorkItem,
  parseReprocessWorkItem,
  reprocessNeed,
  reprocessedOutputPrefix,
  variantSetHash,
} from '../core/reprocess';
import type { DirectdropSettings } from '../core/settings';
import { type StoredManifest, readManifest, writeManifest } from '../adapters/manifest-store';
import { deleteOutputs, writeOutputs } from '../adapters/processed-outputs';
import { BodyTooLargeError, readBody } from '../adapters/read-body';
import { isStatus } from '../adapters/storage-errors';
import { type Runtime, getRuntime } from '../adapters/runtime';

type ProcessedManifest = Extract<UploadManifest, { status: 'processed' }>;

/** What reprocessing may touch: never the landing container. */
interface ReprocessStorage {
  settings: DirectdropSettings;
  processed: ContainerClient;
  originals: ContainerClient;
}

async function readOriginal(
  { settings, originals }: ReprocessStorage,
  blobName: string,
): Promise<Buffer | ReprocessFailReason> {
  try {
    const response = await originals
      .getBlobClient(blobName)
      .download(0, settings.maxUploadBytes + 1);
    return await readBody(
      response.readableStreamBody,
      settings.maxUploadBytes,
      response.contentLength,
    );
  } catch (error) {
    if (error instanceof BodyTooLargeError) return 'too-large';
    // Expired by the originals' retention, or removed by hand.
    if (isStatus(error, 404)) return 'original-missing';
    throw error;
  }
}

/** Records why this variant set could not be made; the current outputs stay as they are. */
async function recordFailure(
  storage: ReprocessStorage,
  stored: StoredManifest,
  { variantSet, run }: ReprocessWorkItem,
  reason: ReprocessFailReason,
  message: string,
  context: InvocationContext,
): Promise<void> {
  const manifest = stored.manifest as ProcessedManifest;
  const next: ProcessedManifest = {
    ...manifest,
    reprocessFailure: { variantSet, ...(run && { run }), reason, message },
  };
  if (!(await writeManifest(storage.processed, next, stored)))
    throw new Error(`Upload ${manifest.uploadId}: manifest changed concurrently; retrying`);
  context.warn(`Upload ${manifest.uploadId}: reprocessing failed (${reason}): ${message}`);
}

/** Every folder and original the old manifest named and the new one does not. */
async function deleteReplaced(
  { processed, originals }: ReprocessStorage,
  previous: ProcessedManifest,
  next: ProcessedManifest,
): Promise<void> {
  const stale = noLongerNamed(previous, next);
  for (const folder of stale.folders) await deleteOutputs(processed, previous.uploadId, folder);
  for (const original of stale.originals)
    await originals.deleteBlob(original).catch((error) => {
      if (!isStatus(error, 404)) throw error;
    });
}

async function reprocess(
  storage: ReprocessStorage,
  item: ReprocessWorkItem,
  context: InvocationContext,
): Promise<void> {
  const { uploadId, variantSet } = item;
  const { settings, processed } = storage;
  const stored = await readManifest(processed, uploadId);
  const need = reprocessNeed(stored?.manifest, variantSet);
  if (need === 'current') {
    // A repeat after a crash between the switch and the clean-up finishes the clean-up.
    const replaced = (stored?.manifest as ProcessedManifest).replacedOutputPrefix;
    if (replaced) await deleteOutputs(processed, uploadId, replaced);
    context.info(`Upload ${uploadId}: variant set ${variantSet} is current; nothing to do`);
    return;
  }
  if (need !== 'reprocess' || !stored) {
    context.info(`Upload ${uploadId}: skipped (${need})`);
    return;
  }
  // An earlier failure is tried again: the operator reran the command, perhaps after a fix.
  const manifest = stored.manifest as ProcessedManifest;

  const bytes = await readOriginal(storage, manifest.originalBlobName as string);
  if (typeof bytes === 'string') {
    const message =
      bytes === 'original-missing'
        ? 'The kept original is gone (expired by retention or deleted).'
        : `The original is larger than ${settings.maxUploadBytes} bytes.`;
    return recordFailure(storage, stored, item, bytes, message, context);
  }
  context.info(`Upload ${uploadId}: reprocessing to variant set ${variantSet}`);
  const result = await processImage(bytes, settings.variants, settings);
  if (!result.ok)
    return recordFailure(storage, stored, item, result.reason, result.message, context);

  const folder = reprocessedOutputPrefix(uploadId, manifest.source.eTag, variantSet);
  const outputs = await writeOutputs(processed, uploadId, folder, result.variants);
  const next: ProcessedManifest = {
    ...manifest,
    outputPrefix: folder,
    outputs,
    original: { ...result.original, size: bytes.length },
    variantSet,
    reprocessedAt: new Date().toISOString(),
    replacedOutputPrefix: manifest.outputPrefix,
  };
  // An earlier failure no longer applies.
  delete next.reprocessFailure;
  if (await writeManifest(processed, next, stored)) {
    await deleteReplaced(storage, manifest, next);
    context.info(`Upload ${uploadId}: reprocessed to variant set ${variantSet}`);
    return;
  }

  // Someone wrote the manifest since we read it.
  const current = (await readManifest(processed, uploadId))?.manifest;
  if (current?.status === 'processed' && current.outputPrefix === folder) {
    context.info(`Upload ${uploadId}: a concurrent delivery already reprocessed it`);
    return;
  }
  if (current?.source.eTag !== manifest.source.eTag) {
    // A newer upload version was processed, with the stack's current variants.
    await deleteOutputs(processed, uploadId, folder);
    context.info(`Upload ${uploadId}: replaced by a newer upload meanwhile; nothing to do`);
    return;
  }
  throw new Error(`Upload ${uploadId}: manifest changed concurrently; retrying`);
}

export function reprocessUploadHandler(runtime: () => Runtime) {
  let limit: ReturnType<typeof concurrencyLimit> | undefined;
  return async function reprocessUpload(
    message: unknown,
    context: InvocationContext,
  ): Promise<void> {
    const { settings, processed, originals } = runtime();
    const item = parseReprocessWorkItem(message);
    if (!item) {
      context.warn('Dropped a malformed reprocess work item');
      return;
    }
    const current = variantSetHash(settings.variants);
    if (item.variantSet !== current) {
      // Enqueued before the variants changed again: its run is over, and it must not undo the new one.
      context.info(
        `Upload ${item.uploadId}: work item for variant set ${item.variantSet}, but the stack's is ${current}; skipped`,
      );
      return;
    }
    limit ??= concurrencyLimit(settings.reprocessConcurrency);
    await limit(() => reprocess({ settings, processed, originals }, item, context));
  };
}

export const reprocessUpload = reprocessUploadHandler(getRuntime);
