/**
 * Queue trigger on `<events queue>-poison`: the host moved an event here after
 * maxDequeueCount failed attempts. Records `failed` so the client learns about it;
 * never overrides an outcome that was reached after all.
 */
import type { InvocationContext } from '@azure/functions';
import { type BlobCommit, parseBlobEvents } from '../core/blob-events';
import { decideAgainstManifest } from '../core/manifest';
import { readManifest, writeManifest } from '../adapters/manifest-store';
import { type Runtime, getRuntime } from '../adapters/runtime';
import { releaseOutstandingUpload } from './release-quota';
import { uploadSourceOf, watchedContainers } from './upload-source';

async function recordFailure(
  runtime: Runtime,
  commit: BlobCommit,
  context: InvocationContext,
): Promise<void> {
  const source = uploadSourceOf(runtime, commit);
  if (!source) return;
  const { owner, uploadId, dropZone } = source;
  // Two attempts cover one concurrent writer; losing both means an outcome now exists.
  for (let attempt = 0; attempt < 2; attempt++) {
    const existing = await readManifest(runtime.processed, uploadId);
    const decision = decideAgainstManifest(existing?.manifest, commit);
    if (decision !== 'process' || existing?.manifest.status === 'failed') return;
    const written = await writeManifest(
      runtime.processed,
      {
        version: 1,
        uploadId,
        owner,
        ...(dropZone ? { dropZone } : {}),
        status: 'failed',
        reason: 'processing-failed',
        message: 'Processing gave up after repeated failures.',
        source: { blobName: commit.blobName, eTag: commit.eTag, sequencer: commit.sequencer },
        completedAt: new Date().toISOString(),
      },
      existing,
    );
    if (written) {
      context.warn(
        `Upload ${uploadId}: recorded as failed after its retries (event ${commit.eventId})`,
      );
      await releaseOutstandingUpload(runtime, source, context);
      return;
    }
  }
}

export function recordPoisonedEventHandler(runtime: () => Runtime) {
  return async function recordPoisonedEvent(
    message: unknown,
    context: InvocationContext,
  ): Promise<void> {
    const rt = runtime();
    for (const event of parseBlobEvents(message, watchedContainers(rt))) {
      if (event.kind === 'commit') await recordFailure(rt, event.commit, context);
      else context.warn(`Poisoned message holds no upload to mark failed: ${event.reason}`);
    }
  };
}

export const recordPoisonedEvent = recordPoisonedEventHandler(getRuntime);
