/**
 * The CloudEvents 1.0 event the app's backend receives after each upload's outcome and
 * after its deletion. Pure: built from the manifest (and, for deletions, the upload record)
 * alone, so every republication of the same outcome is byte-for-byte the same event, with
 * the same `id` for receivers to deduplicate by and the same `time`.
 * Spec: github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md.
 */
import { createHash } from 'node:crypto';
import type { FailReason, RejectReason, UploadManifest } from './manifest';
import type { CallerIdentity } from './upload-record';

export const OUTCOME_EVENT_TYPES = {
  processed: 'directdrop.upload.processed',
  rejected: 'directdrop.upload.rejected',
  failed: 'directdrop.upload.failed',
  deleted: 'directdrop.upload.deleted',
} as const;

export type OutcomeStatus = keyof typeof OUTCOME_EVENT_TYPES;
export type OutcomeEventType = (typeof OUTCOME_EVENT_TYPES)[OutcomeStatus];

export interface OutcomeEventOutput {
  name: string;
  contentType: string;
  size: number;
  width: number;
  height: number;
  /** `<processed container>/<folder>/<name>.<ext>`: where it is, never a URL to it. */
  blobPath: string;
}

interface OutcomeDataBase {
  uploadId: string;
  /** The caller's own claim, set when the URL was issued: authorize it against your data. */
  metadata: Record<string, string>;
  caller: CallerIdentity;
  dropZone?: string;
  /** When the upload URL was issued (for drop zones, when the blob was created). */
  issuedAt: string;
  /** The uploaded blob version's Last-Modified, when one was uploaded. */
  uploadedAt?: string;
}

export interface ProcessedData extends OutcomeDataBase {
  status: 'processed';
  outputs: OutcomeEventOutput[];
  original: { format: string; size: number; width: number; height: number };
  completedAt: string;
}

export interface RejectedData extends OutcomeDataBase {
  status: 'rejected';
  reason: RejectReason;
  message?: string;
  completedAt: string;
}

export interface FailedData extends OutcomeDataBase {
  status: 'failed';
  reason: FailReason;
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

interface OutcomeEnvelope<Status extends OutcomeStatus, Data extends UploadOutcomeData> {
  specversion: '1.0';
  type: (typeof OUTCOME_EVENT_TYPES)[Status];
  source: string;
  id: string;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  data: Data;
}

/**
 * One type per kind, so a receiver narrowing on `type` reaches each kind's own fields; the
 * receiver package declares the same union, and a test keeps the two equal.
 */
export type UploadOutcomeEvent =
  | OutcomeEnvelope<'processed', ProcessedData>
  | OutcomeEnvelope<'rejected', RejectedData>
  | OutcomeEnvelope<'failed', FailedData>
  | OutcomeEnvelope<'deleted', DeletedData>;

/** What every event of one stack shares. */
export interface EventContext {
  /** The CloudEvents source, `urn:directdrop:<stack>`. */
  source: string;
  /** The processed container's name, the first segment of each output's blobPath. */
  processedContainer: string;
}

/**
 * The same for every publication of one outcome of one blob version (or of one deletion):
 * 128 bits of SHA-256 over the type, the upload id and the version.
 */
export function outcomeEventId(type: OutcomeEventType, uploadId: string, version: string): string {
  return createHash('sha256').update(`${type}\n${uploadId}\n${version}`).digest('hex').slice(0, 32);
}

function envelope<Data extends UploadOutcomeData>(
  data: Data,
  version: string,
  time: string,
  { source }: EventContext,
): OutcomeEnvelope<Data['status'], Data> {
  const type = OUTCOME_EVENT_TYPES[data.status as Data['status']];
  return {
    specversion: '1.0',
    type,
    source,
    id: outcomeEventId(type, data.uploadId, version),
    subject: `uploads/${data.uploadId}`,
    time,
    datacontenttype: 'application/json',
    // Fields that apply only sometimes are left out rather than sent empty.
    data: Object.fromEntries(
      Object.entries(data).filter(([, value]) => value !== undefined),
    ) as Data,
  };
}

/** The event of a recorded outcome, from its manifest alone. */
export function outcomeEvent(manifest: UploadManifest, context: EventContext): UploadOutcomeEvent {
  const common = {
    uploadId: manifest.uploadId,
    metadata: manifest.metadata,
    caller: manifest.caller,
    dropZone: manifest.dropZone,
    issuedAt: manifest.issuedAt,
    uploadedAt: manifest.uploadedAt,
    completedAt: manifest.completedAt,
  };
  const { eTag } = manifest.source;
  switch (manifest.status) {
    case 'processed':
      return envelope<ProcessedData>(
        {
          ...common,
          status: 'processed',
          outputs: manifest.outputs.map(({ name, contentType, size, width, height, blobName }) => ({
            name,
            contentType,
            size,
            width,
            height,
            blobPath: `${context.processedContainer}/${blobName}`,
          })),
          original: manifest.original,
        },
        eTag,
        manifest.completedAt,
        context,
      );
    case 'rejected':
    case 'failed':
      return envelope<RejectedData | FailedData>(
        {
          ...common,
          status: manifest.status,
          reason: manifest.reason,
          message: manifest.message,
        } as RejectedData | FailedData,
        eTag,
        manifest.completedAt,
        context,
      ) as UploadOutcomeEvent;
  }
}

/** What a deletion's event tells: the upload as its record knew it. */
export interface DeletedUpload {
  uploadId: string;
  metadata: Record<string, string>;
  caller: CallerIdentity;
  dropZone?: string;
  issuedAt: string;
  uploadedAt?: string;
  completedAt?: string;
}

/** The event of a deletion; `deletedAt` is chosen once, when the deletion starts, and carried. */
export function deletedEvent(
  upload: DeletedUpload,
  deletedAt: string,
  context: EventContext,
): UploadOutcomeEvent {
  const { uploadId, metadata, caller, dropZone, issuedAt, uploadedAt, completedAt } = upload;
  return envelope<DeletedData>(
    {
      uploadId,
      status: 'deleted',
      metadata,
      caller,
      dropZone,
      issuedAt,
      uploadedAt,
      completedAt,
      deletedAt,
    },
    'deleted',
    deletedAt,
    context,
  );
}
