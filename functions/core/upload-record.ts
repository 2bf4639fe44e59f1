/**
 * The upload record: what directdrop knows about one upload from the moment its URL is
 * issued, kept in the upload table (adapters/upload-table.ts) in the owner's partition.
 * Pure: types, row keys, the list cursor and the arithmetic around them.
 */

/** Who asked for the upload, from the server's own check of the caller; never from the client. */
export type CallerIdentity =
  | { kind: 'oidc'; issuer: string; subject: string }
  | { kind: 'functionKey'; keyName: string }
  | { kind: 'anonymous' }
  | { kind: 'dropZone'; zone: string };

export type RecordStatus = 'issued' | 'processed' | 'rejected' | 'failed' | 'deleted';
/** The statuses an outcome mirrors into a record. */
export type OutcomeStatus = 'processed' | 'rejected' | 'failed';

export interface RecordOutput {
  name: string;
  blobName: string;
  width: number;
  height: number;
  contentType: string;
  size: number;
}

export interface UploadRecord {
  uploadId: string;
  owner: string;
  /** 'issued' until an outcome is mirrored; 'deleted' while an erasure finishes. */
  status: RecordStatus;
  /** ISO; for drop zones the blob's creation time. */
  issuedAt: string;
  /** Absent for drop zones. */
  urlExpiresAt?: string;
  /** The landing container, or the zone's. */
  container: string;
  /** The landing (or zone) blob name. */
  blobName: string;
  fileName: string;
  /** As declared. */
  contentType: string;
  /** As declared; absent for drop zones. */
  size?: number;
  metadata: Record<string, string>;
  caller: CallerIdentity;
  dropZone?: string;
  /** Anonymous mode: SHA-256 (hex) of the status capability. */
  statusTokenHash?: string;
  // Mirrored from the manifest once an outcome is recorded:
  reason?: string;
  message?: string;
  completedAt?: string;
  /** The blob version's Last-Modified. */
  uploadedAt?: string;
  original?: { format: string; width: number; height: number; size: number };
  outputs?: RecordOutput[];
}

/** The fields an outcome sets on its record (the worker's `recordOutcome`). */
export interface OutcomeFields {
  status: OutcomeStatus;
  reason?: string;
  message?: string;
  completedAt: string;
  uploadedAt?: string;
  original?: UploadRecord['original'];
  outputs?: RecordOutput[];
  /**
   * A drop-zone upload has no record until its outcome: what its record is made of. When
   * given and no record exists, one is created.
   */
  dropZone?: {
    zone: string;
    container: string;
    blobName: string;
    fileName: string;
    contentType: string;
    /** The blob's creation time. */
    issuedAt: string;
  };
}

/** What a list entry copies of its record: everything but the outcome's details and the capability. */
export type ListedRecord = Omit<
  UploadRecord,
  'outputs' | 'original' | 'message' | 'statusTokenHash'
>;

const OUTCOME_KEYS = [
  'reason',
  'message',
  'completedAt',
  'uploadedAt',
  'original',
  'outputs',
] as const;

/**
 * The record after an outcome: the issued record with the outcome's fields (replacing any
 * earlier outcome's, as reprocessing does), or a drop zone's new record. Undefined when
 * there is no record to mirror into (an upload issued before records existed).
 */
export function withOutcome(
  record: UploadRecord | undefined,
  owner: string,
  uploadId: string,
  outcome: OutcomeFields,
): UploadRecord | undefined {
  const base: UploadRecord | undefined =
    record ??
    (outcome.dropZone && {
      uploadId,
      owner,
      status: 'issued',
      issuedAt: outcome.dropZone.issuedAt,
      container: outcome.dropZone.container,
      blobName: outcome.dropZone.blobName,
      fileName: outcome.dropZone.fileName,
      contentType: outcome.dropZone.contentType,
      metadata: {},
      caller: { kind: 'dropZone', zone: outcome.dropZone.zone },
      dropZone: outcome.dropZone.zone,
    });
  if (!base) return undefined;
  const next: UploadRecord = { ...base, status: outcome.status };
  for (const key of OUTCOME_KEYS) {
    if (outcome[key] === undefined) delete next[key];
    else (next as unknown as Record<string, unknown>)[key] = outcome[key];
  }
  return next;
}

export function listed(record: UploadRecord): ListedRecord {
  const entry: UploadRecord = { ...record };
  delete entry.outputs;
  delete entry.original;
  delete entry.message;
  delete entry.statusTokenHash;
  return entry;
}

// Row keys in the owner's partition. `list-` keys sort newest first: 13 digits of
// (9999999999999 - issued ms), so a new upload sorts before every page already read.
export const QUOTA_ROW = 'quota';
const RECORD_ROW_PREFIX = 'upload-';
export const LIST_ROW_PREFIX = 'list-';
/** The first string after every `list-` key: `.` follows `-` in code-point order. */
export const LIST_ROW_END = 'list.';
const LIST_KEY_MAX_MS = 9_999_999_999_999;
const LIST_ROW = /^list-\d{13}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function recordRowKey(uploadId: string): string {
  return `${RECORD_ROW_PREFIX}${uploadId}`;
}

export function listRowKey(issuedAt: string, uploadId: string): string {
  const inverted = LIST_KEY_MAX_MS - Date.parse(issuedAt);
  return `${LIST_ROW_PREFIX}${String(inverted).padStart(13, '0')}-${uploadId}`;
}

/** The opaque cursor after a list page: the last list key read, which new uploads never follow. */
export function encodeListCursor(rowKey: string): string {
  return Buffer.from(rowKey, 'utf8').toString('base64url');
}

/** The list key a cursor continues after, or undefined for anything this code did not make. */
export function decodeListCursor(cursor: string): string | undefined {
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(cursor)) return undefined;
  const rowKey = Buffer.from(cursor, 'base64url').toString('utf8');
  return LIST_ROW.test(rowKey) && encodeListCursor(rowKey) === cursor ? rowKey : undefined;
}

/**
 * An issued upload whose URL expired this long ago with nothing received reads `failed` /
 * `not-uploaded`: time for a PUT that began just before expiry to arrive and be noticed.
 */
export const NOT_UPLOADED_GRACE_MS = 5 * 60_000;

/** Whether an issued upload's URL can no longer bring its blob. */
export function uploadWindowClosed(record: UploadRecord | ListedRecord, nowMs: number): boolean {
  return (
    record.urlExpiresAt !== undefined &&
    Date.parse(record.urlExpiresAt) + NOT_UPLOADED_GRACE_MS < nowMs
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const RECORD_STATUSES: readonly string[] = ['issued', 'processed', 'rejected', 'failed', 'deleted'];

/** Parses a stored record (or list entry), tolerating nothing this code did not write. */
export function parseStoredRecord(text: string | undefined): UploadRecord | undefined {
  if (!text) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (
      !isObject(value) ||
      typeof value.uploadId !== 'string' ||
      typeof value.owner !== 'string' ||
      typeof value.status !== 'string' ||
      !RECORD_STATUSES.includes(value.status) ||
      typeof value.issuedAt !== 'string' ||
      Number.isNaN(Date.parse(value.issuedAt)) ||
      typeof value.container !== 'string' ||
      typeof value.blobName !== 'string' ||
      !isObject(value.metadata)
    )
      return undefined;
    return value as unknown as UploadRecord;
  } catch {
    return undefined;
  }
}
