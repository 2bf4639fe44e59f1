/**
 * The names and event filters every part of directdrop shares: the Pulumi program
 * provisions these, the functions read them back from app settings, and local mode
 * creates them in Azurite. Change a name here and all three follow.
 */

export const STORAGE_NAMES = {
  /** Private container clients upload into, through a create-only SAS. */
  landingContainer: 'uploads',
  /** Private container holding processed variants and each upload's manifest. */
  processedContainer: 'processed',
  /** Private, never-served container of validated originals, for stacks that keep them. */
  originalsContainer: 'originals',
  /** Where Event Grid dead-letters events it could not deliver to the queue. */
  deadLetterContainer: 'event-deadletters',
  /** Queue Event Grid delivers BlobCreated events into. */
  eventsQueue: 'upload-events',
  /**
   * Table of uploads: per owner partition, the quota counters, each upload's record and its
   * list entry; plus the global cap's shards (table names allow letters and digits only).
   */
  uploadTable: 'directdropuploads',
  /**
   * Queue of reprocessing work items (one per upload), fed only by the operator's
   * `reprocess` command; Event Grid never delivers into it.
   */
  reprocessQueue: 'upload-reprocess',
} as const;

/** The Functions queue extension moves a message here after maxDequeueCount failures. */
export function poisonQueueName(queueName: string): string {
  return `${queueName}-poison`;
}

/**
 * Deliveries of one poisoned message before its handler logs and drops it: a poison queue
 * has no poison queue of its own (the queue extension's CreatePoisonQueueReference returns
 * none for names ending in `-poison`), so the host would otherwise retry it until it expires.
 */
export const POISON_RECORD_ATTEMPTS = 5;

/**
 * An upload still without an outcome this long after it landed reports `failed`: its events
 * and retries are long spent (the poison handler may have dropped one it could not record),
 * and the landing lifecycle, which runs a day or more after, would otherwise make it unknown.
 */
export const PENDING_DEADLINE_MS = 12 * 60 * 60 * 1000;

/**
 * App-setting prefix of the storage connection the functions use. In Azure it
 * resolves to `<prefix>__blobServiceUri` / `__queueServiceUri` (managed identity),
 * locally to a connection string under the bare name.
 */
export const STORAGE_CONNECTION = 'DirectdropStorage';

/**
 * Environment the function app's worker process starts with: infra sets it as app settings,
 * and the processing bench starts its workers with it, so the bench measures what runs.
 * Fewer glibc malloc arenas gave sharp 6-21 % more images/s and 4-28 % less peak memory
 * (docs/performance.md, pipeline options); glibc reads it at process start only.
 */
export const WORKER_PROCESS_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

export const BLOB_CREATED_EVENT_TYPE = 'Microsoft.Storage.BlobCreated';

/**
 * What Defender for Storage sends to its results topic after each on-upload scan.
 * Source: learn.microsoft.com/azure/defender-for-cloud/defender-for-storage-configure-malware-scan.
 */
export const MALWARE_SCANNING_RESULT_EVENT_TYPE = 'Microsoft.Security.MalwareScanningResult';

/**
 * Storage APIs whose BlobCreated event means a blob is fully committed, which the Event
 * Grid subscription delivers. PutBlock raises no event; FlushWithClose only occurs on
 * hierarchical-namespace accounts. CopyBlob is delivered so the worker can refuse and
 * delete a copied blob rather than leave it pending until lifecycle.
 * Source: learn.microsoft.com/azure/storage/blobs/storage-blob-event-overview.
 */
export const COMMITTED_BLOB_APIS = [
  'PutBlob',
  'PutBlockList',
  'CopyBlob',
  'FlushWithClose',
] as const;
export type CommittedBlobApi = (typeof COMMITTED_BLOB_APIS)[number];

/**
 * What the worker writes over a landing (or zone) blob once its outcome is recorded: zero
 * bytes of this type, with this metadata key naming the outcome. A create-only SAS cannot
 * overwrite an existing blob, so the upload URL can never create the blob again; the Event
 * Grid subscription filters out the tombstone's own BlobCreated by its content type.
 */
export const TOMBSTONE_CONTENT_TYPE = 'application/vnd.directdrop.tombstone';
export const TOMBSTONE_METADATA_KEY = 'directdroptombstone';

/**
 * Content types the BlobCreated subscriptions drop (advanced filter `data.contentType`
 * StringNotIn), so a tombstone causes no delivery, scan or invocation. Infra and local
 * mode's emulator both read this list.
 */
export const EXCLUDED_BLOB_CONTENT_TYPES: readonly string[] = [TOMBSTONE_CONTENT_TYPE];

/** The APIs by which an upload URL's holder uploads: the bytes came over the wire. */
export const UPLOAD_BLOB_APIS: readonly CommittedBlobApi[] = ['PutBlob', 'PutBlockList'];

/** Event Grid subject prefix matching every blob of one container and nothing else. */
export function blobSubjectPrefix(containerName: string): string {
  return `/blobServices/default/containers/${containerName}/blobs/`;
}

/**
 * The header every webhook delivery of outcome events carries the subscriber's secret in: an
 * Event Grid delivery attribute marked secret in Azure, set by local mode's delivery too.
 */
export const WEBHOOK_SECRET_HEADER = 'X-Directdrop-Webhook-Secret';

/** Name of the per-upload manifest in the processed container; written last. */
export function manifestBlobName(uploadId: string): string {
  return `${uploadId}/manifest.json`;
}

/**
 * A zero-byte pointer from an upload to one of its output folders, written before the
 * folder, so the sweep can tell whose a folder is without the upload id in the outputs'
 * own metadata, which read URLs expose.
 */
export function outputFolderPointerName(uploadId: string, folder: string): string {
  return `${uploadId}/folders/${folder}`;
}

/** Blob CORS rule letting browsers PUT straight to storage from the given origins. */
export interface BlobCorsRule {
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposedHeaders: string[];
  maxAgeInSeconds: number;
}

export function uploadCorsRule(allowedOrigins: readonly string[]): BlobCorsRule {
  return {
    allowedOrigins: [...allowedOrigins],
    // GET/HEAD let pages display processed variants through their read SAS.
    allowedMethods: ['PUT', 'OPTIONS', 'GET', 'HEAD'],
    allowedHeaders: [
      'content-type',
      'content-length',
      'x-ms-blob-type',
      'x-ms-blob-content-type',
      'x-ms-client-request-id',
      'x-ms-version',
      'x-ms-date',
      // The storage SDK's telemetry header, and the client's no-overwrite guard for write SASs.
      'x-ms-useragent',
      'if-none-match',
    ],
    exposedHeaders: ['etag', 'x-ms-request-id', 'x-ms-version', 'x-ms-error-code'],
    maxAgeInSeconds: 3600,
  };
}

/**
 * Wall-clock limit of one HEIC decode (libheif in WebAssembly, in a worker thread that is
 * terminated when it passes). A 12 MP iPhone photo decodes in about a second.
 */
export const HEIC_DECODE_TIMEOUT_MS = 30_000;

/**
 * libheif's memory cap for one HEIC, per pixel of the image. Measured needs: 5 bytes for
 * 8-bit 4:2:0 (iPhone photos), 8 for 10-bit, 12 for 10-bit with alpha; this leaves room.
 */
export const HEIC_DECODE_BYTES_PER_PIXEL = 16;
