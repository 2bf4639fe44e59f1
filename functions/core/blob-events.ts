/**
 * Turns what Event Grid writes to the queue into a committed-blob fact, or says why
 * the message is ignored. Accepts EventGridSchema and CloudEvents 1.0, one event or
 * an array, as an object or as JSON text (the Functions library parses JSON for us).
 */
import {
  BLOB_CREATED_EVENT_TYPE,
  COMMITTED_BLOB_APIS,
  type CommittedBlobApi,
  blobSubjectPrefix,
} from './definitions';

/** Event Grid reports eTags with or without quotes; storage conditions want them quoted. */
export function quotedETag(eTag: string): string {
  return eTag.startsWith('"') ? eTag : `"${eTag}"`;
}

export interface BlobCommit {
  eventId: string;
  container: string;
  blobName: string;
  api: CommittedBlobApi;
  /** Always quoted, as storage's If-Match and the manifests carry it. */
  eTag: string;
  sequencer: string;
  /** As declared by the uploader; untrusted. */
  contentLength: number;
  contentType: string;
  /** `BlockBlob` or `PageBlob` as the event says; the blob's own properties decide. */
  blobType: string;
}

export type ParsedEvent =
  | { kind: 'commit'; commit: BlobCommit }
  | { kind: 'ignored'; reason: string }
  | { kind: 'malformed'; reason: string };

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Subjects carry the blob name as stored; some producers percent-encode it. Decoding is
 * safe for names directdrop chooses (no `%`), and a name that is not valid encoding is
 * taken as it stands.
 */
function blobNameFromSubject(name: string): string {
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}

function parseOne(event: unknown, containers: readonly string[]): ParsedEvent {
  if (!isObject(event)) return { kind: 'malformed', reason: 'event is not an object' };
  // EventGridSchema uses eventType, CloudEvents 1.0 uses type.
  const eventType = event.eventType ?? event.type;
  if (typeof eventType !== 'string') return { kind: 'malformed', reason: 'event has no eventType' };
  if (eventType !== BLOB_CREATED_EVENT_TYPE)
    return { kind: 'ignored', reason: `event type ${eventType.slice(0, 80)}` };

  const { subject, data, id } = event;
  if (typeof subject !== 'string' || !isObject(data) || typeof id !== 'string') {
    return { kind: 'malformed', reason: 'BlobCreated event lacks subject, data or id' };
  }
  const container = containers.find((name) => subject.startsWith(blobSubjectPrefix(name)));
  if (container === undefined)
    return { kind: 'ignored', reason: 'blob outside the landing container and drop zones' };
  const prefix = blobSubjectPrefix(container);
  const blobName = blobNameFromSubject(subject.slice(prefix.length));
  if (!blobName) return { kind: 'malformed', reason: 'subject has no blob name' };

  const { api, eTag, sequencer, contentLength, contentType, blobType } = data;
  if (typeof api !== 'string') return { kind: 'malformed', reason: 'data.api missing' };
  if (!(COMMITTED_BLOB_APIS as readonly string[]).includes(api)) {
    return { kind: 'ignored', reason: `api ${api.slice(0, 40)} does not commit a blob` };
  }
  if (
    typeof eTag !== 'string' ||
    eTag === '' ||
    typeof sequencer !== 'string' ||
    sequencer === ''
  ) {
    return { kind: 'malformed', reason: 'data.eTag or data.sequencer missing' };
  }
  if (
    typeof contentLength !== 'number' ||
    !Number.isSafeInteger(contentLength) ||
    contentLength < 0
  ) {
    return { kind: 'malformed', reason: 'data.contentLength is not a byte count' };
  }
  return {
    kind: 'commit',
    commit: {
      eventId: id,
      container,
      blobName,
      api: api as CommittedBlobApi,
      eTag: quotedETag(eTag),
      sequencer,
      contentLength,
      contentType: typeof contentType === 'string' ? contentType : '',
      blobType: typeof blobType === 'string' ? blobType : '',
    },
  };
}

/**
 * Parses one queue message into events; a message is normally one event, arrays are
 * tolerated. Blobs count in `containers` only (the landing container, and drop zones').
 */
export function parseBlobEvents(
  message: unknown,
  containers: string | readonly string[],
): ParsedEvent[] {
  const watched = typeof containers === 'string' ? [containers] : containers;
  let payload = message;
  if (typeof payload === 'string' || Buffer.isBuffer(payload)) {
    try {
      payload = JSON.parse(payload.toString());
    } catch {
      return [{ kind: 'malformed', reason: 'message is not JSON' }];
    }
  }
  const events = Array.isArray(payload) ? payload : [payload];
  if (events.length === 0) return [{ kind: 'malformed', reason: 'message holds an empty array' }];
  return events.map((event) => parseOne(event, watched));
}
