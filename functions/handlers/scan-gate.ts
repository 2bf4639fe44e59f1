/**
 * The malware-scan gate on the events queue. A BlobCreated event waits (durably) for a
 * clean verdict on the same blob version, a verdict resumes a waiting event, and a
 * delayed check ends a wait no verdict ends. Every step is idempotent: records are
 * create-only, outcomes go through the manifest's conditional write.
 */
import type { InvocationContext } from '@azure/functions';
import type { BlobCommit } from '../core/blob-events';
import {
  type ManifestDecision,
  type UploadManifest,
  decideAgainstManifest,
} from '../core/manifest';
import {
  type GateDecision,
  type ScanTimeoutCheck,
  type ScanVerdict,
  SCAN_TIMEOUT_DECISION,
  decideGate,
  parseGateMessages,
  remainingWaitMs,
  verdictRecord,
} from '../core/scan-gate';
import { readManifest, writeManifest } from '../adapters/manifest-store';
import type { Runtime } from '../adapters/runtime';
import {
  createPending,
  createVerdict,
  readPending,
  readVerdict,
  scheduleTimeoutCheck,
} from '../adapters/scan-gate-store';
import { currentVersion, isTombstone } from '../adapters/landing-blob';
import { isStatus } from '../adapters/storage-errors';
import { admitUpload, finishOutcome, refuseUnadmitted } from './finish-outcome';
import { recordGaveUp } from './gave-up';
import { type UploadSource, uploadSourceOf, watchedContainers } from './upload-source';

type Resume = (commit: BlobCommit) => Promise<void>;
type GateOutcome = Extract<GateDecision, { action: 'reject' | 'fail' }>;

/** The gate waits on landing uploads and drop zone blobs alike. */
function requireSource(runtime: Runtime, commit: BlobCommit): UploadSource {
  const source = uploadSourceOf(runtime, commit);
  if (!source) throw new Error(`The gate holds a blob not named by directdrop: ${commit.blobName}`);
  return source;
}

/**
 * Records a refusal or failure decided by the gate, then finishes it as any outcome; only
 * for a version the blob still holds, of an upload that may still have an outcome.
 */
async function recordGateOutcome(
  runtime: Runtime,
  commit: BlobCommit,
  decision: GateOutcome,
  context: InvocationContext,
): Promise<void> {
  const source = requireSource(runtime, commit);
  const { uploadId } = source;
  const properties = await currentVersion(source.container, commit.blobName, commit.eTag);
  if (!properties) {
    context.info(`Upload ${uploadId}: ${commit.eTag} is no longer its blob; nothing recorded`);
    return;
  }
  const admission = await admitUpload(runtime, source, commit, properties);
  if (!admission.admitted)
    return refuseUnadmitted(source, commit.blobName, properties, admission.why, context);
  const base = {
    ...admission.base,
    message: decision.message,
    completedAt: new Date().toISOString(),
  };
  const manifest: UploadManifest =
    decision.action === 'reject'
      ? { ...base, status: 'rejected', reason: decision.reason }
      : { ...base, status: 'failed', reason: decision.reason };
  if (!(await writeManifest(runtime.processed, manifest, undefined))) {
    // Another delivery got there first; the retry re-decides against what it wrote.
    throw new Error(`Upload ${uploadId}: manifest changed concurrently; retrying`);
  }
  context.info(
    `Upload ${uploadId}: ${manifest.status} (${decision.reason}) by the malware scan gate`,
  );
  await finishOutcome(runtime, source, manifest, properties, context);
}

/**
 * The hook in processCommit, called once the blob is confirmed at this version (a version
 * that no longer exists is never waited for): true when it may be processed now. Otherwise the
 * event is left waiting (a verdict or the timeout check resumes it) or the gate has
 * recorded the outcome itself.
 */
export async function passesScanGate(
  runtime: Runtime,
  commit: BlobCommit,
  uploadId: string,
  context: InvocationContext,
): Promise<boolean> {
  const { processed, settings } = runtime;
  // Waiting is written before the verdict is read, and a verdict is written before the
  // waiting record is read: whichever arrives second sees the first.
  if (!(await readPending(processed, uploadId, commit.eTag))) {
    await scheduleTimeoutCheck(
      runtime.eventsQueue,
      uploadId,
      commit.eTag,
      settings.scanVerdictTimeoutSeconds,
    );
    await createPending(processed, uploadId, {
      version: 1,
      commit,
      waitingSince: new Date().toISOString(),
    });
  }
  const decision = decideGate(
    await readVerdict(processed, uploadId, commit.eTag),
    settings.scanUnverifiedPolicy,
  );
  if (decision.action === 'process') return true;
  if (decision.action === 'wait') {
    context.info(`Upload ${uploadId}: waiting for the malware scan of ${commit.eTag}`);
    return false;
  }
  await recordGateOutcome(runtime, commit, decision, context);
  return false;
}

/**
 * What the manifest says of a waiting upload. `already-done` is resumed too, not dropped:
 * its BlobCreated message was done once it waited, so when a crash or failed publish cut
 * the steps after the manifest short, only a gate message's return can finish them.
 */
async function decideWaiting(
  runtime: Runtime,
  uploadId: string,
  commit: BlobCommit,
): Promise<ManifestDecision> {
  const existing = await readManifest(runtime.processed, uploadId);
  return decideAgainstManifest(existing?.manifest, commit);
}

async function acceptVerdict(
  runtime: Runtime,
  verdict: ScanVerdict,
  context: InvocationContext,
  resume: Resume,
): Promise<void> {
  const source = uploadSourceOf(runtime, verdict);
  if (!source) {
    context.warn(`Ignored a scan result for a blob not named by directdrop (${verdict.eventId})`);
    return;
  }
  const { uploadId } = source;
  // The verdict is a claim: it counts only for a version that exists right now.
  try {
    const properties = await source.container
      .getBlobClient(verdict.blobName)
      .getProperties({ conditions: { ifMatch: verdict.eTag } });
    // Defender scans every write, the worker's own tombstones included: nothing waits on those.
    if (isTombstone(properties)) {
      context.info(
        `Upload ${uploadId}: scan result ${verdict.eventId} is for a tombstone; ignored`,
      );
      return;
    }
  } catch (error) {
    if (!isStatus(error, 404, 412)) throw error;
    context.info(
      `Upload ${uploadId}: scan result ${verdict.eventId} is for ${verdict.eTag}, which is not the blob's current version; ignored`,
    );
    return;
  }
  const found = verdict.malwareNames.length > 0 ? ` found ${verdict.malwareNames.join(', ')}` : '';
  const reason = verdict.notScannedReason ? ` (${verdict.notScannedReason})` : '';
  const line = `Upload ${uploadId}: malware scan of ${verdict.eTag}: ${verdict.resultType}${found}${reason}; sha256 ${verdict.sha256 ?? 'n/a'}, correlation ${verdict.correlationId}`;
  if (verdict.result === 'clean') context.info(line);
  else context.warn(line);

  const isNew = await createVerdict(
    runtime.processed,
    uploadId,
    verdictRecord(verdict, new Date()),
  );
  if (!isNew) context.info(`Upload ${uploadId}: verdict for ${verdict.eTag} already recorded`);
  const pending = await readPending(runtime.processed, uploadId, verdict.eTag);
  if (!pending) return; // Its BlobCreated event has not arrived; it will find the verdict.
  if ((await decideWaiting(runtime, uploadId, pending.commit)) === 'later-version') return;
  await resume(pending.commit);
}

async function checkTimeout(
  runtime: Runtime,
  check: ScanTimeoutCheck,
  context: InvocationContext,
  resume: Resume,
): Promise<void> {
  const { processed, settings } = runtime;
  const { uploadId, eTag } = check;
  // The check names a version; only the stored waiting record says when the wait began.
  const pending = await readPending(processed, uploadId, eTag);
  if (!pending) {
    context.info(`Upload ${uploadId}: no upload waits for a scan of ${eTag}; check ignored`);
    return;
  }
  const decision = await decideWaiting(runtime, uploadId, pending.commit);
  if (decision === 'later-version') return;
  if (decision === 'already-done' || (await readVerdict(processed, uploadId, eTag))) {
    await resume(pending.commit);
    return;
  }
  const remaining = remainingWaitMs(
    pending.waitingSince,
    new Date(),
    settings.scanVerdictTimeoutSeconds,
  );
  if (remaining > 0) {
    await scheduleTimeoutCheck(runtime.eventsQueue, uploadId, eTag, remaining / 1000);
    return;
  }
  context.warn(
    `Upload ${uploadId}: no malware-scan result for ${eTag} after ${settings.scanVerdictTimeoutSeconds} s`,
  );
  await recordGateOutcome(runtime, pending.commit, SCAN_TIMEOUT_DECISION, context);
}

/** Verdicts count only from the configured topic, for this account's watched containers. */
function gateExpectations(runtime: Runtime) {
  return {
    topic: runtime.settings.scanResultsTopic,
    containers: watchedContainers(runtime).map((name) => ({
      name,
      url: runtime.container(name).url,
    })),
  };
}

/**
 * Handles a queue message holding scan results or timeout checks; false when it holds
 * neither, so the caller treats it as BlobCreated events.
 */
export async function handleScanGateMessage(
  runtime: Runtime,
  message: unknown,
  context: InvocationContext,
  resume: Resume,
): Promise<boolean> {
  const messages = parseGateMessages(message, gateExpectations(runtime));
  if (!messages) return false;
  for (const item of messages) {
    if (!runtime.settings.malwareScanning) context.info('Ignored a scan message: scanning is off');
    else if (item.kind === 'malformed')
      context.warn(`Dropped a malformed scan message: ${item.reason}`);
    else if (item.kind === 'ignored') context.warn(`Ignored a scan message: ${item.reason}`);
    else if (item.kind === 'verdict') await acceptVerdict(runtime, item.verdict, context, resume);
    else await checkTimeout(runtime, item.check, context, resume);
  }
  return true;
}

/**
 * The poison-queue side: a verdict or timeout check that kept failing would leave its
 * upload waiting for good, so the waiting upload is recorded `failed`, as a poisoned
 * BlobCreated event's is. False when the message holds no gate message.
 */
export async function recordPoisonedGateMessage(
  runtime: Runtime,
  message: unknown,
  context: InvocationContext,
  resume: Resume,
): Promise<boolean> {
  const messages = parseGateMessages(message, gateExpectations(runtime));
  if (!messages) return false;
  for (const item of messages) {
    const version =
      item.kind === 'timeout-check'
        ? { uploadId: item.check.uploadId, eTag: item.check.eTag }
        : item.kind === 'verdict'
          ? { uploadId: uploadSourceOf(runtime, item.verdict)?.uploadId, eTag: item.verdict.eTag }
          : undefined;
    const pending =
      version?.uploadId && (await readPending(runtime.processed, version.uploadId, version.eTag));
    if (!version?.uploadId || !pending) {
      context.warn('Poisoned scan message has no waiting upload to mark failed');
      continue;
    }
    const decision = await decideWaiting(runtime, version.uploadId, pending.commit);
    if (decision === 'later-version') continue;
    if (decision === 'already-done') {
      await resume(pending.commit);
      continue;
    }
    const { commit } = pending;
    const source = requireSource(runtime, commit);
    const properties = await currentVersion(source.container, commit.blobName, commit.eTag);
    if (!properties) {
      context.info(`Upload ${version.uploadId}: its waiting version is gone; nothing recorded`);
      continue;
    }
    if (await recordGaveUp(runtime, source, commit, properties, context))
      context.warn(
        `Upload ${version.uploadId}: recorded as failed after its scan message's retries`,
      );
  }
  return true;
}
