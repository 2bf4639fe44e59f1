/**
 * Queue trigger on `<events queue>-poison`: the host moved an event here after
 * maxDequeueCount failed attempts. Records `failed` so the client learns about it, then
 * tombstones the landing blob; never overrides an outcome that was reached after all (it
 * finishes one a crash left unfinished), and records nothing for a blob version that does
 * not exist. A poison queue has no poison queue of its own, so a message that keeps
 * failing here is logged and dropped.
 */
import type { InvocationContext } from '@azure/functions';
import { type BlobCommit, parseBlobEvents } from '../core/blob-events';
import { POISON_RECORD_ATTEMPTS } from '../core/definitions';
import { decideAgainstManifest } from '../core/manifest';
import { readManifest } from '../adapters/manifest-store';
import { inspectLandingBlob, isTombstone } from '../adapters/landing-blob';
import { describeStorageError } from '../adapters/storage-errors';
import { type Runtime, getRuntime } from '../adapters/runtime';
import { recordPoisonedGateMessage } from './scan-gate';
import { recordGaveUp } from './gave-up';
import { processCommit } from './process-upload';
import { uploadSourceOf, watchedContainers } from './upload-source';

async function recordFailure(
  runtime: Runtime,
  commit: BlobCommit,
  context: InvocationContext,
): Promise<void> {
  const source = uploadSourceOf(runtime, commit);
  if (!source) return;
  const { uploadId } = source;
  // Two attempts cover one concurrent writer; losing both means an outcome now exists.
  for (let attempt = 0; attempt < 2; attempt++) {
    const existing = await readManifest(runtime.processed, uploadId);
    const decision = decideAgainstManifest(existing?.manifest, commit);
    if (decision === 'later-version') return;
    // Recorded, but its event, tombstone or quota release kept failing: finish those.
    if (decision === 'already-done') return processCommit(runtime, commit, context);
    const landed = await inspectLandingBlob(source.container, commit.blobName, commit.eTag);
    if (landed.state !== 'current' || isTombstone(landed.properties)) {
      context.info(
        `Upload ${uploadId}: the blob version of poisoned event ${commit.eventId} is ${landed.state === 'current' ? 'a tombstone' : landed.state}; nothing recorded`,
      );
      return;
    }
    if (await recordGaveUp(runtime, source, commit, landed.properties, context)) {
      context.warn(
        `Upload ${uploadId}: recorded as failed after its retries (event ${commit.eventId})`,
      );
      return;
    }
  }
}

/** The host's count of deliveries of this message, 1 on the first. */
function dequeueCountOf(context: InvocationContext): number {
  const count = Number(context.triggerMetadata?.dequeueCount);
  return Number.isFinite(count) && count > 0 ? count : 1;
}

export function recordPoisonedEventHandler(runtime: () => Runtime) {
  return async function recordPoisonedEvent(
    message: unknown,
    context: InvocationContext,
  ): Promise<void> {
    const rt = runtime();
    const resume = (commit: BlobCommit) => processCommit(rt, commit, context);
    if (await recordPoisonedGateMessage(rt, message, context, resume)) return;
    for (const event of parseBlobEvents(message, watchedContainers(rt))) {
      if (event.kind !== 'commit') {
        context.warn(`Poisoned message holds no upload to mark failed: ${event.reason}`);
        continue;
      }
      try {
        await recordFailure(rt, event.commit, context);
      } catch (error) {
        if (dequeueCountOf(context) < POISON_RECORD_ATTEMPTS) throw error;
        // The upload stays pending until the status endpoint's deadline calls it failed.
        context.error(
          `Upload blob ${event.commit.blobName}: could not record failed after ${POISON_RECORD_ATTEMPTS} attempts (${describeStorageError(error)}); dropped event ${event.commit.eventId}`,
        );
      }
    }
  };
}

export const recordPoisonedEvent = recordPoisonedEventHandler(getRuntime);
