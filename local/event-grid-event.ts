/**
 * The pure half of the Event Grid emulator: turns a committed blob into the exact
 * queue message Event Grid's Storage Queue delivery writes (Base64 of one
 * EventGridSchema JSON event), and applies the subscription's filters. Shared by the
 * emulator, its tests and the benchmark.
 *
 * Shape source: learn.microsoft.com/azure/event-grid/event-schema-blob-storage
 * (EventGridSchema tab, BlobCreated example), field order included.
 */
import { createHash } from 'node:crypto';
import {
  BLOB_CREATED_EVENT_TYPE,
  COMMITTED_BLOB_APIS,
  type CommittedBlobApi,
  EXCLUDED_BLOB_CONTENT_TYPES,
  blobSubjectPrefix,
} from '../functions/core/definitions';
import { quotedETag } from '../functions/core/blob-events';

export type EventBlobType = 'BlockBlob' | 'PageBlob';

/** What the emulator knows about one committed blob version. */
export interface BlobCommit {
  accountName: string;
  containerName: string;
  blobName: string;
  /** The blob's URL as the storage service spells it (percent-encoded path). */
  url: string;
  api: CommittedBlobApi;
  /** The blob's ETag, with or without surrounding quotes. */
  eTag: string;
  contentType: string;
  contentLength: number;
  blobType: EventBlobType;
  /** Monotonic per emulator data folder; becomes `data.sequencer`. */
  sequence: bigint;
  eventTime: Date;
}

export interface BlobCreatedEventData {
  api: CommittedBlobApi;
  clientRequestId: string;
  requestId: string;
  eTag: string;
  contentType: string;
  contentLength: number;
  blobType: EventBlobType;
  url: string;
  sequencer: string;
  storageDiagnostics: { batchId: string };
}

export interface BlobCreatedEvent {
  topic: string;
  subject: string;
  eventType: typeof BLOB_CREATED_EVENT_TYPE;
  eventTime: string;
  id: string;
  data: BlobCreatedEventData;
  dataVersion: string;
  metadataVersion: string;
}

/** The filters directdrop's Event Grid subscription sets (see infra): one container, committed blobs. */
export interface SubscriptionFilter {
  subjectBeginsWith: string;
  includedEventTypes: readonly string[];
  /** Advanced filter `data.api` StringIn. */
  apis: readonly string[];
  /** Advanced filter `data.contentType` StringNotIn (tombstones). */
  excludedContentTypes: readonly string[];
}

export function landingSubscriptionFilter(landingContainer: string): SubscriptionFilter {
  return {
    subjectBeginsWith: blobSubjectPrefix(landingContainer),
    includedEventTypes: [BLOB_CREATED_EVENT_TYPE],
    apis: COMMITTED_BLOB_APIS,
    excludedContentTypes: EXCLUDED_BLOB_CONTENT_TYPES,
  };
}

export function matchesSubscription(event: BlobCreatedEvent, filter: SubscriptionFilter): boolean {
  return (
    event.subject.startsWith(filter.subjectBeginsWith) &&
    filter.includedEventTypes.includes(event.eventType) &&
    filter.apis.includes(event.data.api) &&
    // Event Grid compares strings case-insensitively (learn.microsoft.com/azure/event-grid/event-filtering).
    !filter.excludedContentTypes.some(
      (type) => type.toLowerCase() === event.data.contentType.toLowerCase(),
    )
  );
}

/** A stable, ARM-shaped topic for the development account (there is no subscription locally). */
export function storageAccountTopic(accountName: string): string {
  return (
    '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/directdrop-local' +
    `/providers/Microsoft.Storage/storageAccounts/${accountName}`
  );
}

/** Azure's BlobCreated sequencers are 32 hex digits, ordered by plain string comparison. */
export function formatSequencer(sequence: bigint): string {
  if (sequence < 0n || sequence >= 1n << 128n) throw new RangeError('sequence out of range');
  return sequence.toString(16).toUpperCase().padStart(32, '0');
}

/** Event Grid writes eventTime with 7 fractional digits (.NET ticks). */
export function formatEventTime(time: Date): string {
  return time.toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

function guidFrom(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Ids derive from the blob version, so re-delivering an event after a crash carries the
 * same id, as Event Grid's own retries do. Like Azure, the event id extends the storage
 * request id, which ends in zeros.
 */
function idsFor(commit: BlobCommit) {
  const digest = createHash('sha256')
    .update(
      `${commit.accountName}/${commit.containerName}/${commit.blobName}\n${quotedETag(commit.eTag)}`,
    )
    .digest('hex');
  const requestHex = digest.slice(0, 26);
  return {
    requestId: guidFrom(`${requestHex}000000`),
    id: guidFrom(`${requestHex}${digest.slice(26, 32)}`),
    clientRequestId: guidFrom(digest.slice(32, 64)),
    batchId: guidFrom(createHash('sha256').update(digest).digest('hex')),
  };
}

export function buildBlobCreatedEvent(commit: BlobCommit): BlobCreatedEvent {
  const { requestId, id, clientRequestId, batchId } = idsFor(commit);
  return {
    topic: storageAccountTopic(commit.accountName),
    // Subjects carry the blob name as stored, not percent-encoded; only `url` is a URL.
    subject: `${blobSubjectPrefix(commit.containerName)}${commit.blobName}`,
    eventType: BLOB_CREATED_EVENT_TYPE,
    eventTime: formatEventTime(commit.eventTime),
    id,
    data: {
      api: commit.api,
      clientRequestId,
      requestId,
      // Event Grid's current schema shows the ETag as the HTTP header carries it: quoted.
      eTag: quotedETag(commit.eTag),
      contentType: commit.contentType,
      contentLength: commit.contentLength,
      blobType: commit.blobType,
      url: commit.url,
      sequencer: formatSequencer(commit.sequence),
      storageDiagnostics: { batchId },
    },
    dataVersion: '',
    metadataVersion: '1',
  };
}

/** The queue message text: Event Grid Base64-encodes each event's UTF-8 JSON. */
export function encodeQueueMessage(event: BlobCreatedEvent): string {
  return Buffer.from(JSON.stringify(event), 'utf8').toString('base64');
}
