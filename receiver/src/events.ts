/**
 * The outcome events directdrop publishes (CloudEvents 1.0, structured JSON), as this package
 * hands them to you. This is the package's own copy of the server's `UploadOutcomeEvent`; a
 * test keeps the two equal, so nothing of the server's code is needed here.
 */

/** Every event type, in the order the upload lifecycle reaches them. */
export const OUTCOME_EVENT_TYPES = [
  'directdrop.upload.processed',
  'directdrop.upload.rejected',
  'directdrop.upload.failed',
  'directdrop.upload.deleted',
] as const;

export type OutcomeEventType = (typeof OUTCOME_EVENT_TYPES)[number];

/** `data.status`: the last segment of the event's `type`. */
export type OutcomeStatus = 'processed' | 'rejected' | 'failed' | 'deleted';

/** Why an upload was refused: the caller's file is not acceptable. */
export type RejectReason =
  | 'too-large'
  | 'size-mismatch'
  | 'not-an-image'
  | 'type-not-allowed'
  | 'too-many-pixels'
  | 'too-much-memory'
  | 'corrupt'
  | 'unsupported-codec'
  | 'unprocessable'
  | 'not-a-plain-upload'
  | 'malware'
  | 'not-scanned';

/** Why processing gave up on an upload. */
export type FailReason = 'processing-failed' | 'scan-timeout' | 'scan-failed' | 'not-uploaded';

/**
 * Who asked for the upload URL, from the server's own check of the request (never from
 * anything the client sent): the token's issuer and subject, the function key's name, a drop
 * zone, or nobody in particular.
 */
export type CallerIdentity =
  | { kind: 'oidc'; issuer: string; subject: string }
  | { kind: 'functionKey'; keyName: string }
  | { kind: 'anonymous' }
  | { kind: 'dropZone'; zone: string };

/** One processed variant. `blobPath` is its path in the processed container; never a URL. */
export interface OutcomeOutput {
  name: string;
  contentType: string;
  size: number;
  width: number;
  height: number;
  blobPath: string;
}

/** What the uploaded file turned out to be. */
export interface OutcomeOriginal {
  format: string;
  size: number;
  width: number;
  height: number;
}

interface OutcomeDataBase {
  uploadId: string;
  /**
   * What the caller attached when it asked for the upload URL: its claim, not a fact. Check
   * it against your own data before acting on it (docs/events.md shows how).
   */
  metadata: Record<string, string>;
  caller: CallerIdentity;
  /** Set only for uploads that came through a drop zone. */
  dropZone?: string;
  /** When the upload URL was issued (for drop zones, when the blob was created). ISO 8601. */
  issuedAt: string;
  /** The uploaded blob version's Last-Modified, when one was uploaded. */
  uploadedAt?: string;
}

export interface ProcessedData extends OutcomeDataBase {
  status: 'processed';
  outputs: OutcomeOutput[];
  original: OutcomeOriginal;
  completedAt: string;
}

export interface RejectedData extends OutcomeDataBase {
  status: 'rejected';
  /** A reason newer than this package arrives as sent. */
  reason: RejectReason | (string & {});
  message?: string;
  completedAt: string;
}

export interface FailedData extends OutcomeDataBase {
  status: 'failed';
  /** A reason newer than this package arrives as sent. */
  reason: FailReason | (string & {});
  message?: string;
  completedAt: string;
}

export interface DeletedData extends OutcomeDataBase {
  status: 'deleted';
  /** Set when the upload had reached an outcome before it was deleted. */
  completedAt?: string;
  deletedAt: string;
}

export type UploadOutcomeData = ProcessedData | RejectedData | FailedData | DeletedData;

interface CloudEventEnvelope<Type extends OutcomeEventType, Data extends UploadOutcomeData> {
  specversion: '1.0';
  type: Type;
  /** The stack that published it: `urn:directdrop:<stack>`. */
  source: string;
  /** The same for every delivery of the same outcome: deduplicate by it. */
  id: string;
  /** `uploads/<uploadId>` */
  subject: string;
  /** When the outcome happened (completedAt or deletedAt), stable across redeliveries. */
  time: string;
  datacontenttype: 'application/json';
  data: Data;
}

export type UploadProcessedEvent = CloudEventEnvelope<'directdrop.upload.processed', ProcessedData>;
export type UploadRejectedEvent = CloudEventEnvelope<'directdrop.upload.rejected', RejectedData>;
export type UploadFailedEvent = CloudEventEnvelope<'directdrop.upload.failed', FailedData>;
export type UploadDeletedEvent = CloudEventEnvelope<'directdrop.upload.deleted', DeletedData>;

/** Narrow on `type` (or `data.status`) to reach each kind's own fields. */
export type UploadOutcomeEvent =
  UploadProcessedEvent | UploadRejectedEvent | UploadFailedEvent | UploadDeletedEvent;

/**
 * Which `data` fields each type carries, required and optional: what the parser checks,
 * what docs/events.md documents and what the equality test compares with the server.
 */
export const OUTCOME_DATA_FIELDS = {
  'directdrop.upload.processed': {
    required: [
      'uploadId',
      'status',
      'metadata',
      'caller',
      'issuedAt',
      'outputs',
      'original',
      'completedAt',
    ],
    optional: ['dropZone', 'uploadedAt'],
  },
  'directdrop.upload.rejected': {
    required: ['uploadId', 'status', 'metadata', 'caller', 'issuedAt', 'reason', 'completedAt'],
    optional: ['dropZone', 'uploadedAt', 'message'],
  },
  'directdrop.upload.failed': {
    required: ['uploadId', 'status', 'metadata', 'caller', 'issuedAt', 'reason', 'completedAt'],
    optional: ['dropZone', 'uploadedAt', 'message'],
  },
  'directdrop.upload.deleted': {
    required: ['uploadId', 'status', 'metadata', 'caller', 'issuedAt', 'deletedAt'],
    optional: ['dropZone', 'uploadedAt', 'completedAt'],
  },
} as const satisfies Record<
  OutcomeEventType,
  { required: readonly string[]; optional: readonly string[] }
>;
