/**
 * Queue trigger on the events queue: turns one committed upload into its variants and
 * manifest. Rejections are outcomes, not errors; only infrastructure failures throw,
 * so the host retries them and finally moves the message to the poison queue.
 */
import type { InvocationContext } from '@azure/functions';
import { type BlobCommit, parseBlobEvents } from '../core/blob-events';
import { processImage } from '../core/image-pipeline';
import {
  type RejectReason,
  type UploadManifest,
  decideAgainstManifest,
  outputFolder,
} from '../core/manifest';
import { readManifest, writeManifest } from '../adapters/manifest-store';
import { isStatus } from '../adapters/storage-errors';
import { BodyTooLargeError, readBody } from '../adapters/read-body';
import { type Runtime, getRuntime } from '../adapters/runtime';
import { releaseOutstandingUpload } from './release-quota';
import { type UploadSource, uploadSourceOf, watchedContainers } from './upload-source';

type Outcome =
  | { status: 'processed'; manifest: UploadManifest; folder: string }
  | { status: 'rejected'; manifest: UploadManifest }
  | { status: 'stale' };

async function produceOutcome(
  runtime: Runtime,
  commit: BlobCommit,
  { container, owner, uploadId, declaredSize, dropZone }: UploadSource,
): Promise<Outcome> {
  const { settings, processed } = runtime;
  const { eTag } = commit;
  const base = {
    version: 1 as const,
    uploadId,
    owner,
    ...(dropZone ? { dropZone } : {}),
    source: { blobName: commit.blobName, eTag, sequencer: commit.sequencer },
  };
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

  // The declared length is untrusted for acceptance but sufficient for refusal.
  if (commit.contentLength > settings.maxUploadBytes) return tooLarge();
  if (declaredSize !== undefined && commit.contentLength !== declaredSize)
    return sizeMismatch(String(commit.contentLength));

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
    // A changed blob has a newer event on its way; a vanished one fails through the retries.
    if (isStatus(error, 412) && (await blob.exists())) return { status: 'stale' };
    throw error;
  }
  // The event's length is not the blob's: only the bytes read settle it.
  if (declaredSize !== undefined && bytes.length !== declaredSize)
    return sizeMismatch(String(bytes.length));

  const result = await processImage(bytes, settings.variants, settings);
  if (!result.ok) return rejected(result.reason, result.message);

  const folder = outputFolder(uploadId, eTag);
  const outputs = await Promise.all(
    result.variants.map(async (variant) => {
      const blobName = `${folder}/${variant.name}.${variant.extension}`;
      await processed.getBlockBlobClient(blobName).uploadData(variant.data, {
        blobHTTPHeaders: {
          blobContentType: variant.contentType,
          // Each blob version gets its own folder, so outputs never change once written.
          blobCacheControl: 'private, max-age=31536000, immutable',
        },
      });
      const { name, width, height, contentType } = variant;
      return { name, blobName, width, height, contentType, size: variant.data.length };
    }),
  );
  return {
    status: 'processed',
    folder,
    manifest: {
      ...base,
      status: 'processed',
      original: result.original,
      outputs,
      completedAt: completedAt(),
    },
  };
}

async function deleteFolder(runtime: Runtime, folder: string): Promise<void> {
  for await (const blob of runtime.processed.listBlobsFlat({ prefix: `${folder}/` })) {
    await runtime.processed.deleteBlob(blob.name).catch((error) => {
      if (!isStatus(error, 404)) throw error;
    });
  }
}

async function processCommit(
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
  const existing = await readManifest(runtime.processed, uploadId);
  const decision = decideAgainstManifest(existing?.manifest, commit);
  if (decision !== 'process') {
    context.info(`Upload ${uploadId}: event ${commit.eventId} is ${decision}; nothing to do`);
    return;
  }

  const outcome = await produceOutcome(runtime, commit, source);
  if (outcome.status === 'stale') {
    context.info(
      `Upload ${uploadId}: blob changed since event ${commit.eventId}; a newer event follows`,
    );
    return;
  }
  if (await writeManifest(runtime.processed, outcome.manifest, existing)) {
    const detail = outcome.manifest.status === 'rejected' ? ` (${outcome.manifest.reason})` : '';
    context.info(`Upload ${uploadId}: ${outcome.manifest.status}${detail}`);
    await releaseOutstandingUpload(runtime, source, context);
    return;
  }

  // Another delivery wrote the manifest meanwhile: keep whichever describes the newer version.
  const current = await readManifest(runtime.processed, uploadId);
  if (decideAgainstManifest(current?.manifest, commit) === 'process') {
    throw new Error(`Upload ${uploadId}: manifest changed concurrently; retrying`);
  }
  const currentFolder =
    current?.manifest.status === 'processed'
      ? outputFolder(uploadId, current.manifest.source.eTag)
      : undefined;
  if (outcome.status === 'processed' && outcome.folder !== currentFolder)
    await deleteFolder(runtime, outcome.folder);
  context.info(`Upload ${uploadId}: a concurrent delivery already recorded the outcome`);
}

export function processUploadEventHandler(runtime: () => Runtime) {
  return async function processUploadEvent(
    message: unknown,
    context: InvocationContext,
  ): Promise<void> {
    const rt = runtime();
    for (const event of parseBlobEvents(message, watchedContainers(rt))) {
      if (event.kind === 'malformed')
        context.warn(`Dropped a malformed event message: ${event.reason}`);
      else if (event.kind === 'ignored') context.info(`Ignored event: ${event.reason}`);
      else await processCommit(rt, event.commit, context);
    }
  };
}

export const processUploadEvent = processUploadEventHandler(getRuntime);
