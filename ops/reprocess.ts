/**
 * The operator's reprocessing command: selects processed uploads whose variants are not the
 * stack's current ones, estimates the cost, enqueues one work item per upload on the
 * reprocess queue and waits for the manifests to switch. Enqueueing again is harmless: a
 * work item is keyed by upload and variant set, and the worker skips uploads already current.
 */
import type { ContainerClient } from '@azure/storage-blob';
import type { QueueClient } from '@azure/storage-queue';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { readManifest } from '../functions/adapters/manifest-store';
import { isUploadId } from '../functions/core/upload-request';
import type { ReprocessFailReason, UploadManifest } from '../functions/core/manifest';
import { concurrencyLimit } from '../functions/core/concurrency-limit';
import {
  type ReprocessSkipReason,
  type ReprocessWorkItem,
  reprocessNeed,
  variantSetHash,
} from '../functions/core/reprocess';
import type { DirectdropSettings } from '../functions/core/settings';
import { usdPerThousand } from '../bench/cost-model';

export type Selection =
  | { kind: 'all' }
  /** Uploads whose first outcome was recorded at or after this instant. */
  | { kind: 'since'; since: Date }
  | { kind: 'ids'; ids: readonly string[] };

export interface ReprocessClients {
  processed: ContainerClient;
  reprocessQueue: QueueClient;
}

export interface PlannedUpload {
  uploadId: string;
  /** Megapixels of the original, for the estimate. */
  megapixels: number;
  format: string;
}

export interface SkippedUpload {
  uploadId: string;
  reason: ReprocessSkipReason | 'unknown-upload' | 'not-an-upload-id';
}

export interface ReprocessPlan {
  variantSet: string;
  /** This run's id, carried by its work items and recorded with any failure. */
  run: string;
  toReprocess: PlannedUpload[];
  skipped: SkippedUpload[];
}

export class ReprocessRefusedError extends Error {
  override name = 'ReprocessRefusedError';
}

const MANIFEST_NAME = /^([0-9a-f-]{36})\/manifest\.json$/;

/** Every upload id with a manifest, from one listing of the processed container. */
async function* allUploadIds(processed: ContainerClient): AsyncGenerator<string> {
  for await (const blob of processed.listBlobsFlat()) {
    const id = MANIFEST_NAME.exec(blob.name)?.[1];
    if (id && isUploadId(id)) yield id;
  }
}

/** Manifests read at once: enough to hide round trips, few enough to stay polite. */
const READ_CONCURRENCY = 16;
const READ_CHUNK = 256;

async function* chunksOf<T>(items: Iterable<T> | AsyncIterable<T>, size: number) {
  let chunk: T[] = [];
  for await (const item of items) {
    chunk.push(item);
    if (chunk.length === size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

/** The manifests of these uploads, by id; absent ones are missing from the map. */
async function readManifests(
  processed: ContainerClient,
  uploadIds: readonly string[],
): Promise<Map<string, UploadManifest>> {
  const limit = concurrencyLimit(READ_CONCURRENCY);
  const found = new Map<string, UploadManifest>();
  await Promise.all(
    uploadIds.map((uploadId) =>
      limit(async () => {
        const stored = await readManifest(processed, uploadId);
        if (stored) found.set(uploadId, stored.manifest);
      }),
    ),
  );
  return found;
}

/**
 * Reads the selection's manifests and sorts them into work and skips. Refuses outright on
 * a stack that keeps no originals: there is nothing to rebuild variants from.
 */
export async function planReprocess(
  { processed }: ReprocessClients,
  settings: DirectdropSettings,
  selection: Selection,
  max = Infinity,
): Promise<ReprocessPlan> {
  if (!settings.keepOriginals) {
    throw new ReprocessRefusedError(
      'This stack does not keep originals (keepOriginals / DIRECTDROP_KEEP_ORIGINALS is false), ' +
        'so there is nothing to rebuild variants from. Turn keepOriginals on; uploads processed ' +
        'from then on can be reprocessed.',
    );
  }
  const variantSet = variantSetHash(settings.variants);
  const run = randomBytes(8).toString('hex');
  const plan: ReprocessPlan = { variantSet, run, toReprocess: [], skipped: [] };
  const ids =
    selection.kind === 'ids'
      ? selection.ids.map((id) => id.toLowerCase())
      : allUploadIds(processed);
  for await (const chunk of chunksOf(ids, READ_CHUNK)) {
    const manifests = await readManifests(processed, chunk.filter(isUploadId));
    for (const uploadId of chunk) {
      if (plan.toReprocess.length >= max) return plan;
      if (!isUploadId(uploadId)) {
        plan.skipped.push({ uploadId, reason: 'not-an-upload-id' });
        continue;
      }
      const manifest = manifests.get(uploadId);
      if (!manifest) {
        plan.skipped.push({ uploadId, reason: 'unknown-upload' });
        continue;
      }
      if (selection.kind === 'since' && new Date(manifest.completedAt) < selection.since) continue;
      const need = reprocessNeed(manifest, variantSet);
      if (need !== 'reprocess' || manifest.status !== 'processed') {
        plan.skipped.push({ uploadId, reason: need === 'reprocess' ? 'not-processed' : need });
        continue;
      }
      const { width, height, format } = manifest.original;
      plan.toReprocess.push({ uploadId, megapixels: (width * height) / 1e6, format });
    }
  }
  return plan;
}

/**
 * Busy milliseconds per megapixel: the handler's 12 MP JPEG at batch 1 in docs/performance.md
 * (3.69 images/s, 271 ms). HEIC decodes about six times slower (issue 16's HEIC benchmark).
 */
const BUSY_MS_PER_MEGAPIXEL = 271 / 12;
const FORMAT_FACTOR: Record<string, number> = { 'image/heic': 6, 'image/heif': 6 };

export interface CostEstimate {
  uploads: number;
  busySeconds: number;
  /** USD, one item per instance at a time (the reprocess cap's default). */
  usd: number;
}

/** An estimate, not a quote: compute only, from the benchmark's figures and list prices. */
export function estimateCost(plan: ReprocessPlan): CostEstimate {
  const busyMs = plan.toReprocess.reduce(
    (sum, u) => sum + u.megapixels * BUSY_MS_PER_MEGAPIXEL * (FORMAT_FACTOR[u.format] ?? 1),
    0,
  );
  const uploads = plan.toReprocess.length;
  const usd = uploads === 0 ? 0 : (usdPerThousand(busyMs / uploads, 1) * uploads) / 1000;
  return { uploads, busySeconds: busyMs / 1000, usd };
}

/** The queue service's longest initial visibility delay: seven days. */
export const MAX_VISIBILITY_DELAY_SECONDS = 7 * 24 * 3600;

/**
 * One work item per upload, as the queue extension reads them (Base64 JSON). With a rate,
 * item i stays invisible for ⌊i / rate⌋ minutes, so at most `rate` items become visible per
 * minute: the queue's visible length, which drives Flex's per-function scale-out, stays small
 * and the reprocess function cannot take the instances live uploads need.
 */
export async function enqueueReprocess(
  { reprocessQueue }: ReprocessClients,
  plan: ReprocessPlan,
  { ratePerMinute, onEnqueued = () => undefined }: EnqueueOptions = {},
): Promise<void> {
  const delayOf = (index: number) => (ratePerMinute ? Math.floor(index / ratePerMinute) * 60 : 0);
  const lastDelay = delayOf(plan.toReprocess.length - 1);
  if (lastDelay > MAX_VISIBILITY_DELAY_SECONDS) {
    throw new ReprocessRefusedError(
      `At ${ratePerMinute} per minute the last of ${plan.toReprocess.length} items would wait longer than the queue's seven-day limit; raise --rate or select fewer (--max).`,
    );
  }
  for (const [index, { uploadId }] of plan.toReprocess.entries()) {
    const item: ReprocessWorkItem = { uploadId, variantSet: plan.variantSet, run: plan.run };
    await reprocessQueue.sendMessage(Buffer.from(JSON.stringify(item)).toString('base64'), {
      visibilityTimeout: delayOf(index),
      // Never expires before it is due: a delayed item must outlive its delay.
      messageTimeToLive: -1,
    });
    onEnqueued(index + 1);
  }
}

export interface EnqueueOptions {
  /** Items made visible per minute; unset makes them all visible at once. */
  ratePerMinute?: number;
  onEnqueued?: (count: number) => void;
}

export interface ReprocessReport {
  processed: string[];
  failed: Array<{ uploadId: string; reason: ReprocessFailReason | 'not-processed' }>;
  /** Still on the old variants when the wait ended. */
  unfinished: string[];
}

/** Polls the planned uploads' manifests until each has the new variant set or a failure. */
export async function waitForReprocess(
  { processed }: ReprocessClients,
  plan: ReprocessPlan,
  {
    timeoutMs,
    pollMs = 1000,
    onProgress = () => undefined,
  }: { timeoutMs: number; pollMs?: number; onProgress?: (done: number) => void },
): Promise<ReprocessReport> {
  const report: ReprocessReport = { processed: [], failed: [], unfinished: [] };
  let pending = plan.toReprocess.map((u) => u.uploadId);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const still: string[] = [];
    const manifests = await readManifests(processed, pending);
    for (const uploadId of pending) {
      const manifest = manifests.get(uploadId);
      if (manifest?.status !== 'processed') {
        // Replaced meanwhile by an outcome that is not a success: nothing left to reprocess.
        report.failed.push({ uploadId, reason: 'not-processed' });
      } else if (manifest.variantSet === plan.variantSet) report.processed.push(uploadId);
      // Only this run's failure counts: an earlier run's is being tried again.
      else if (manifest.reprocessFailure?.run === plan.run)
        report.failed.push({ uploadId, reason: manifest.reprocessFailure.reason });
      else still.push(uploadId);
    }
    pending = still;
    onProgress(plan.toReprocess.length - pending.length);
    if (pending.length === 0 || Date.now() >= deadline) break;
    await sleep(pollMs);
  }
  report.unfinished = pending;
  return report;
}
