/**
 * Stands in for Event Grid's BlobCreated → Storage Queue subscription, which Azurite
 * lacks. It polls the landing container, turns every newly committed blob version into
 * the exact queue message Event Grid would write, enqueues it, and only then records
 * the version as delivered (at-least-once). The record lives in a JSON file next to
 * Azurite's data, so a restart neither misses blobs committed meanwhile nor repeats old ones.
 *
 * With a malware scanner it also stands in for Defender for Storage's on-upload scan and
 * its results topic: each committed block blob is scanned and its
 * `Microsoft.Security.MalwareScanningResult` event enqueued before the version counts as
 * delivered, so scan results get the same restart safety and at-least-once delivery.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { BlobItem, ContainerClient } from '@azure/storage-blob';
import type { QueueClient } from '@azure/storage-queue';
import type { CommittedBlobApi } from '../functions/core/definitions';
import {
  type BlobCreatedEvent,
  type EventBlobType,
  type SubscriptionFilter,
  buildBlobCreatedEvent,
  encodeQueueMessage,
  landingSubscriptionFilter,
  matchesSubscription,
} from './event-grid-event';
import { type Logger, describeError } from './log';
import { buildScanResultEvent, encodeScanResultMessage } from './malware-scan-event';
import type { LocalMalwareScanner, ScanOutcome } from './malware-scanner';

export interface EventGridEmulatorOptions {
  /** The landing container, watched for commits. */
  container: ContainerClient;
  /** Where Event Grid's subscription delivers. */
  queue: QueueClient;
  accountName: string;
  /** The delivery record; keep it next to Azurite's data. */
  statePath: string;
  pollIntervalMs?: number;
  filter?: SubscriptionFilter;
  /**
   * Fraction (0 to 1) of events enqueued twice, spread evenly: Event Grid delivers at
   * least once, so handlers must shrug off duplicates; this makes them happen on demand.
   */
  duplicateFraction?: number;
  /** Scan each committed block blob and deliver Defender's result event to `queue`. */
  malwareScanning?: { scanner: LocalMalwareScanner; topic: string };
  /** How a blob that fails on its own is retried; tests shorten it. */
  blobRetry?: BlobRetryPolicy;
  log: Logger;
}

export interface EventGridEmulator {
  /** Events enqueued since start, duplicates not counted. */
  readonly delivered: number;
  /** Events enqueued a second time on purpose (see duplicateFraction). */
  readonly duplicated: number;
  /** Scan results enqueued since start, duplicates not counted. */
  readonly scanned: number;
  stop(): Promise<void>;
}

/** What was delivered for one blob: its version, and what told content changes from property changes. */
interface DeliveredVersion {
  eTag: string;
  createdOn: string;
}

interface EmulatorState {
  version: 1;
  /** Last sequencer value handed out. */
  sequence: string;
  /** Per container, per blob name. */
  delivered: Record<string, Record<string, DeliveredVersion>>;
}

const STATE_VERSION = 1;
/** Parallel enqueues per poll; a burst of uploads drains in a few round trips. */
const ENQUEUE_CONCURRENCY = 8;
/** Larger blobs get "Not scanned" locally; Defender's own limit is 50 GB. */
const MAX_LOCAL_SCAN_BYTES = 256 * 1024 * 1024;
/**
 * A blob the emulator cannot read (an Archive-tier blob the scanner cannot download, a
 * name the storage SDK cannot address) is retried on its own, after 1 s, 2 s, 4 s … up
 * to 30 s, and given up after this many attempts (about two minutes), so it never holds
 * up the blobs committed beside it.
 */
export interface BlobRetryPolicy {
  attempts: number;
  backoffMs: number;
  maxBackoffMs: number;
}
export const DEFAULT_BLOB_RETRY: BlobRetryPolicy = {
  attempts: 8,
  backoffMs: 1_000,
  maxBackoffMs: 30_000,
};

/** A failure of one blob's own reads: isolated to that blob, unlike a failure of the queue. */
class BlobReadError extends Error {
  constructor(
    readonly blobName: string,
    cause: unknown,
  ) {
    const { statusCode, code } = (cause ?? {}) as { statusCode?: number; code?: string };
    const status = [statusCode, code].filter((part) => part !== undefined).join(' ');
    const text = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    super(`${blobName}: ${status ? `${status}, ` : ''}${text}`, { cause });
    this.name = 'BlobReadError';
  }
}

async function readingBlob<T>(blobName: string, read: () => Promise<T> | T): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw new BlobReadError(blobName, error);
  }
}

/** Progress on one blob version that failed, so a retry redoes only what is left. */
interface FailingVersion {
  eTag: string;
  attempts: number;
  nextAttemptAt: number;
  /** The BlobCreated event (and its duplicate) is already on the queue. */
  eventSent: boolean;
}

async function loadState(path: string): Promise<EmulatorState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      return { version: STATE_VERSION, sequence: '0', delivered: {} };
    throw error;
  }
  const state = JSON.parse(text) as Partial<EmulatorState>;
  if (state.version !== STATE_VERSION || typeof state.sequence !== 'string' || !state.delivered) {
    throw new Error(`${path} is not an Event Grid emulator state file (version ${STATE_VERSION})`);
  }
  return state as EmulatorState;
}

async function saveState(path: string, state: EmulatorState): Promise<void> {
  // Write-then-rename, so a crash mid-write leaves the previous record intact.
  const temporary = `${path}.tmp`;
  await writeFile(temporary, JSON.stringify(state));
  await rename(temporary, path);
}

function blobTypeOf(item: BlobItem): EventBlobType | undefined {
  const type = item.properties.blobType;
  // Event Grid's schema knows block and page blobs; append blobs raise no BlobCreated on append.
  return type === 'BlockBlob' || type === 'PageBlob' ? type : undefined;
}

/**
 * Azurite keeps a blob's creation time across metadata and property changes but resets
 * it when content is written, and writes stamp Last-Modified equal to it (both to the
 * second). So a new ETag means a content commit unless creation time is unchanged and
 * older than the last modification. An ambiguous same-second change counts as a commit:
 * a duplicate event is allowed (at-least-once), a lost one is not.
 */
function isContentCommit(item: BlobItem, previous: DeliveredVersion | undefined): boolean {
  const { etag, createdOn, lastModified } = item.properties;
  if (!previous) return true;
  if (previous.eTag === etag) return false;
  if (!createdOn || createdOn.toISOString() !== previous.createdOn) return true;
  return lastModified.getTime() <= createdOn.getTime();
}

async function apiOf(container: ContainerClient, item: BlobItem): Promise<CommittedBlobApi> {
  if (item.properties.copyId) return 'CopyBlob';
  if (item.properties.blobType !== 'BlockBlob') return 'PutBlob';
  // Put Blob leaves no committed block list; Put Block List does.
  const list = await container.getBlockBlobClient(item.name).getBlockList('committed');
  return (list.committedBlocks?.length ?? 0) > 0 ? 'PutBlockList' : 'PutBlob';
}

/**
 * Runs `size` at a time. A blob's own failure is handed to `onBlobFailure` and the rest go
 * on; any other failure (the queue, storage unreachable) stops later batches once its own
 * batch has settled, and is retried on the next poll.
 */
async function inBatches<T>(
  items: T[],
  size: number,
  run: (item: T) => Promise<void>,
  onBlobFailure: (item: T, error: BlobReadError) => void,
): Promise<void> {
  for (let i = 0; i < items.length; i += size) {
    const batch = items.slice(i, i + size);
    const results = await Promise.allSettled(batch.map(run));
    let other: unknown;
    results.forEach((result, j) => {
      if (result.status === 'fulfilled') return;
      if (result.reason instanceof BlobReadError) onBlobFailure(batch[j], result.reason);
      else other ??= result.reason;
    });
    if (other !== undefined) throw other;
  }
}

export async function startEventGridEmulator(
  options: EventGridEmulatorOptions,
): Promise<EventGridEmulator> {
  const { container, queue, accountName, statePath, log } = options;
  const pollIntervalMs = options.pollIntervalMs ?? 100;
  const filter = options.filter ?? landingSubscriptionFilter(container.containerName);
  await mkdir(dirname(statePath), { recursive: true });
  const state = await loadState(statePath);
  const known = (state.delivered[container.containerName] ??= {});
  const duplicateFraction = options.duplicateFraction ?? 0;
  const retry = options.blobRetry ?? DEFAULT_BLOB_RETRY;
  let delivered = 0;
  let duplicated = 0;
  let scanned = 0;
  let stopping = false;
  let lastFailure = '';

  /** Versions that failed on their own reads, by blob name; in memory, so a restart retries them afresh. */
  const failing = new Map<string, FailingVersion>();

  async function deliver(item: BlobItem, sequence: bigint): Promise<void> {
    const eTag = item.properties.etag ?? '';
    const progress = failing.get(item.name);
    if (!progress?.eventSent) {
      const event: BlobCreatedEvent = buildBlobCreatedEvent({
        accountName,
        containerName: container.containerName,
        blobName: item.name,
        // The SDK refuses names it cannot address (`../../x.jpg`): that blob's failure alone.
        url: await readingBlob(item.name, () => container.getBlobClient(item.name).url),
        api: await readingBlob(item.name, () => apiOf(container, item)),
        eTag,
        contentType: item.properties.contentType ?? 'application/octet-stream',
        contentLength: item.properties.contentLength ?? 0,
        blobType: blobTypeOf(item) ?? 'BlockBlob',
        sequence,
        eventTime: new Date(),
      });
      if (matchesSubscription(event, filter)) {
        // Event Grid's subscription in infra sets no expiry on queue messages (-1 = never).
        const message = encodeQueueMessage(event);
        await queue.sendMessage(message, { messageTimeToLive: -1 });
        delivered++;
        if (Math.floor(delivered * duplicateFraction) > duplicated) {
          duplicated++;
          await queue.sendMessage(message, { messageTimeToLive: -1 });
          log.info(
            `Event Grid emulator: delivered event ${event.id} twice (duplicate ${duplicated})`,
          );
        }
      }
      if (progress) progress.eventSent = true;
      else failing.set(item.name, { eTag, attempts: 0, nextAttemptAt: 0, eventSent: true });
    }
    // Defender scans block blobs only; the verdict goes before the version counts as delivered.
    if (options.malwareScanning && item.properties.blobType === 'BlockBlob') {
      const verdict = await scanVersion(item, options.malwareScanning);
      if (verdict) await sendVerdict(item.name, verdict);
    }
    failing.delete(item.name);
    known[item.name] = { eTag, createdOn: item.properties.createdOn?.toISOString() ?? '' };
  }

  async function sendVerdict(blobName: string, verdict: string): Promise<void> {
    await queue.sendMessage(verdict, { messageTimeToLive: -1 });
    scanned++;
    if (Math.floor(scanned * duplicateFraction) > Math.floor((scanned - 1) * duplicateFraction)) {
      await queue.sendMessage(verdict, { messageTimeToLive: -1 });
      log.info(`Event Grid emulator: delivered scan result of ${blobName} twice`);
    }
  }

  function verdictMessage(
    item: BlobItem,
    topic: string,
    outcome: ScanOutcome,
    bytes: Buffer,
  ): string {
    return encodeScanResultMessage(
      buildScanResultEvent({
        accountName,
        containerName: container.containerName,
        blobName: item.name,
        url: container.getBlobClient(item.name).url,
        eTag: item.properties.etag ?? '',
        ...outcome,
        sha256: createHash('sha256').update(bytes).digest(),
        scanFinishedTime: new Date(),
        topic,
      }),
    );
  }

  /** The result message for this exact version, or undefined if it changed meanwhile (a new commit follows). */
  async function scanVersion(
    item: BlobItem,
    { scanner, topic }: NonNullable<EventGridEmulatorOptions['malwareScanning']>,
  ): Promise<string | undefined> {
    const eTag = item.properties.etag ?? '';
    const size = item.properties.contentLength ?? 0;
    let bytes: Buffer = Buffer.alloc(0);
    if (size <= MAX_LOCAL_SCAN_BYTES) {
      try {
        bytes = await container
          .getBlobClient(item.name)
          .downloadToBuffer(0, undefined, { conditions: { ifMatch: eTag } });
      } catch (error) {
        const status = (error as { statusCode?: number }).statusCode;
        if (status === 404 || status === 412) return undefined;
        // An Archive-tier blob answers 409 BlobArchived: this blob's problem, nobody else's.
        if (
          status !== undefined &&
          status >= 400 &&
          status < 500 &&
          status !== 408 &&
          status !== 429
        )
          throw new BlobReadError(item.name, error);
        throw error;
      }
    }
    const outcome =
      size <= MAX_LOCAL_SCAN_BYTES
        ? await scanner.scan(bytes)
        : {
            resultType: 'Not scanned' as const,
            malwareNamesFound: [],
            notScannedReason: `Not scanned - blob exceeded the local scanner's ${MAX_LOCAL_SCAN_BYTES} bytes.`,
          };
    if (outcome.resultType === 'Malicious') {
      log.warn(
        `Malware scanner: ${item.name} is malicious (${outcome.malwareNamesFound.join(', ')})`,
      );
    }
    return verdictMessage(item, topic, outcome, bytes);
  }

  /** Schedules a failed version's retry; past the last attempt it is given up, with an `Error` verdict if one was due. */
  async function onBlobFailure(item: BlobItem, error: BlobReadError): Promise<void> {
    const eTag = item.properties.etag ?? '';
    const previous = failing.get(item.name);
    const progress: FailingVersion =
      previous && previous.eTag === eTag
        ? previous
        : { eTag, attempts: 0, nextAttemptAt: 0, eventSent: previous?.eventSent ?? false };
    progress.attempts++;
    failing.set(item.name, progress);
    if (progress.attempts < retry.attempts) {
      const backoff = Math.min(retry.backoffMs * 2 ** (progress.attempts - 1), retry.maxBackoffMs);
      progress.nextAttemptAt = Date.now() + backoff;
      log.warn(
        `Event Grid emulator: ${error.message}; retrying this blob in ${backoff / 1000} s ` +
          `(attempt ${progress.attempts} of ${retry.attempts}), the others go on`,
      );
      return;
    }
    // Given up: Defender reports a scan it could not finish as `Error`, so the gate need not wait it out.
    if (progress.eventSent && options.malwareScanning && item.properties.blobType === 'BlockBlob') {
      await sendVerdict(
        item.name,
        verdictMessage(
          item,
          options.malwareScanning.topic,
          {
            resultType: 'Error',
            malwareNamesFound: [],
            notScannedReason: `Error - the local scanner could not read the blob: ${error.message}`,
          },
          Buffer.alloc(0),
        ),
      );
    }
    log.error(
      `Event Grid emulator: gave up on ${error.message} after ${progress.attempts} attempts` +
        (progress.eventSent ? ' (its BlobCreated event was delivered)' : '; no event delivered'),
    );
    failing.delete(item.name);
    known[item.name] = { eTag, createdOn: item.properties.createdOn?.toISOString() ?? '' };
  }

  /** One pass: list, deliver what is new, forget deleted blobs, save the record if it changed. */
  async function poll(): Promise<void> {
    const commits: BlobItem[] = [];
    const seen = new Set<string>();
    let changed = false;
    for await (const item of container.listBlobsFlat({ includeCopy: true })) {
      seen.add(item.name);
      const copyStatus = item.properties.copyStatus;
      if (!blobTypeOf(item) || (copyStatus !== undefined && copyStatus !== 'success')) continue;
      const previous = known[item.name];
      const retry = failing.get(item.name);
      if (retry && retry.eTag === item.properties.etag && retry.nextAttemptAt > Date.now())
        continue;
      if (isContentCommit(item, previous)) commits.push(item);
      else if (previous && previous.eTag !== item.properties.etag) {
        known[item.name] = { ...previous, eTag: item.properties.etag ?? '' };
        changed = true;
      }
    }
    for (const name of Object.keys(known)) {
      if (!seen.has(name)) {
        delete known[name];
        changed = true;
      }
    }
    for (const name of failing.keys()) if (!seen.has(name)) failing.delete(name);
    // Oldest first, so sequencers follow commit order as far as the listing can tell.
    commits.sort(
      (a, b) => a.properties.lastModified.getTime() - b.properties.lastModified.getTime(),
    );
    let sequence = BigInt(state.sequence);
    const numbered = commits.map((item) => ({ item, sequence: ++sequence }));
    try {
      const givingUp: Array<Promise<void>> = [];
      try {
        await inBatches(
          numbered,
          ENQUEUE_CONCURRENCY,
          ({ item, sequence: n }) => deliver(item, n),
          ({ item }, error) => givingUp.push(onBlobFailure(item, error)),
        );
      } finally {
        await Promise.all(givingUp);
      }
    } finally {
      if (numbered.length > 0) {
        state.sequence = sequence.toString();
        changed = true;
      }
      if (changed) await saveState(statePath, state);
    }
  }

  async function loop(): Promise<void> {
    while (!stopping) {
      const started = Date.now();
      try {
        await poll();
        if (lastFailure) log.info('Event Grid emulator: storage reachable again');
        lastFailure = '';
      } catch (error) {
        // Undelivered blobs stay unrecorded and are retried on the next pass.
        const text = describeError(error).split('\n')[0];
        if (text !== lastFailure) log.warn(`Event Grid emulator: poll failed, retrying: ${text}`);
        lastFailure = text;
      }
      const wait = Math.max(0, pollIntervalMs - (Date.now() - started));
      if (!stopping) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  const running = loop();
  return {
    get delivered() {
      return delivered;
    },
    get duplicated() {
      return duplicated;
    },
    get scanned() {
      return scanned;
    },
    async stop() {
      stopping = true;
      await running;
    },
  };
}
