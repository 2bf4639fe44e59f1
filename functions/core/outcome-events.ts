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

export interface UploadOutcomeData {
  uploadId: string;
  status: OutcomeStatus;
  reason?: RejectReason | FailReason;
  message?: string;
  outputs?: OutcomeEventOutput[];
  original?: { format: string; size: number; width: number; height: number };
  /** The caller's own claim, set when the URL was issued: authorize it against your data. */
  metadata: Record<string, string>;
  caller: CallerIdentity;
  dropZone?: string;
  issuedAt?: string;
  uploadedAt?: string;
  completedAt?: string;
  deletedAt?: string;
}

export interface UploadOutcomeEvent {
  specversion: '1.0';
  type: OutcomeEventType;
  source: string;
  id: string;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  data: UploadOutcomeData;
}

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

function envelope(
  status: OutcomeStatus,
  version: string,
  time: string,
  data: UploadOutcomeData,
  { source }: EventContext,
): UploadOutcomeEvent {
  const type = OUTCOME_EVENT_TYPES[status];
  return {
    specversion: '1.0',
    type,
    source,
    id: outcomeEventId(type, data.uploadId, version),
    subject: `uploads/${data.uploadId}`,
    time,
    datacontenttype: 'application/json',
    data,
  };
}

/** Fields that apply only sometimes are left out rather than sent empty. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** The event of a recorded outcome, from its manifest alone. */
export function outcomeEvent(manifest: UploadManifest, context: EventContext): UploadOutcomeEvent {
  const common = {
    uploadId: manifest.uploadId,
    status: manifest.status,
    metadata: manifest.metadata,
    caller: manifest.caller,
    dropZone: manifest.dropZone,
    issuedAt: manifest.issuedAt,
    uploadedAt: manifest.uploadedAt,
    completedAt: manifest.completedAt,
  };
  const data: UploadOutcomeData =
    manifest.status === 'processed'
      ? {
          ...common,
          outputs: manifest.outputs.map(({ name, contentType, size, width, height, blobName }) => ({
            name,
            contentType,
            size,
            width,
            height,
            blobPath: `${context.processedContainer}/${blobName}`,
          })),
          original: manifest.original,
        }
      : { ...common, reason: manifest.reason, message: manifest.message };
  return envelope(
    manifest.status,
    manifest.source.eTag,
    manifest.completedAt,
    defined(data),
    context,
  );
}

/** What a deletion's event tells: the upload as its record knew it. */
export interface DeletedUpload {
  uploadId: string;
  metadata: Record<string, string>;
  caller: CallerIdentity;
  dropZone?: string;
  issuedAt?: string;
  uploadedAt?: string;
  completedAt?: string;
}

/** The event of a deletion; `deletedAt` is chosen once, when the deletion starts, and carried. */
export function deletedEvent(
  upload: DeletedUpload,
  deletedAt: string,
  context: EventContext,
): UploadOutcomeEvent {
  const data = defined({
    uploadId: upload.uploadId,
    status: 'deleted' as const,
    metadata: upload.metadata,
    caller: upload.caller,
    dropZone: upload.dropZone,
    issuedAt: upload.issuedAt,
    uploadedAt: upload.uploadedAt,
    completedAt: upload.completedAt,
    deletedAt,
  });
  return envelope('deleted', 'deleted', deletedAt, data, context);
}
