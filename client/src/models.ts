/**
 * The library's options and the API's answers, as types. The API's own description is
 * `GET /api/openapi.json`; these follow it.
 */
import type { FailReason, RejectReason } from './errors.js';
import type { PutTransport, UploadBody } from './transport.js';

export interface UploadProgress {
  /** `requesting` an upload URL, `uploading` bytes, waiting for `processing`. */
  stage: 'requesting' | 'uploading' | 'processing';
  loadedBytes: number;
  totalBytes: number;
  /** Whole percent of bytes sent, 0–100. */
  percent: number;
  uploadId?: string;
}

/**
 * A bearer token, or a function giving one (or a promise of one), called before each API
 * request so that expiring tokens are refreshed without rebuilding anything. After a 401
 * it is called once more with `forceRefresh: true` and the request is sent again.
 *
 *   token: ({ forceRefresh }) => auth.currentUser!.getIdToken(forceRefresh) // Firebase
 */
export type TokenSource =
  | string
  | ((context: { forceRefresh: boolean }) => string | undefined | Promise<string | undefined>);

export interface ApiOptions {
  /** Base URL of the API, e.g. `https://app.example.com/api` or `/api` in a page. */
  apiBaseUrl: string | URL;
  /** Azure Functions key, sent as `x-functions-key` to the API's origin only (not needed locally). */
  functionsKey?: string;
  /** Extra headers for API calls to the API's origin only; never sent to storage. */
  headers?: Record<string, string>;
  /** Sign-in for stacks with it, sent as `Authorization: Bearer` to the API's origin only. */
  token?: TokenSource;
  signal?: AbortSignal;
  /** A fetch implementation; defaults to the global one. */
  fetch?: typeof fetch;
}

/** A pending upload's server-side stage: nothing received yet, the malware scan, processing. */
export type PendingStage = 'awaiting-upload' | 'scanning' | 'processing';

export interface PollOptions extends ApiOptions {
  /** Give up waiting for a terminal status after this long. Default 120 s. */
  pollTimeoutMs?: number;
  /** First delay between status polls; it grows by half each time. Default 250 ms. */
  pollIntervalMs?: number;
  /** Longest delay between status polls. Default 2 s. */
  maxPollIntervalMs?: number;
  /** How long a 404 from the status endpoint is tolerated after the upload. Default 20 s. */
  notFoundGraceMs?: number;
  onProgress?: (progress: UploadProgress) => void;
  /** Called when a pending upload's server-side stage changes, e.g. `scanning`, then `processing`. */
  onPendingStage?: (stage: PendingStage) => void;
}

export interface UploadOptions extends PollOptions {
  /** Name to report for data without one; a `File` brings its own. */
  fileName?: string;
  /** Overrides the type from `File.type` or the file name's extension. */
  contentType?: string;
  /**
   * The app's own facts about the upload (e.g. `{ postId: '42' }`), stored by the server at
   * issuance and carried into the status and every outcome event. The caller's claim:
   * a backend authorizes it against its own data.
   */
  metadata?: Record<string, string>;
  /**
   * The rules to check the file against before any upload; by default they are read
   * from the server's `GET /limits` (cached for a minute). The server still enforces its own.
   */
  limits?: Pick<UploadLimits, 'maxBytes' | 'allowedContentTypes' | 'metadata'>;
  /** Attempts for the PUT when the network fails or storage answers 5xx or 429. Default 4. */
  uploadAttempts?: number;
  /** How the PUT is sent; defaults to XMLHttpRequest in browsers, node:http in Node. */
  transport?: PutTransport;
}

/** Bytes to upload with their facts; see `fileSource` in the Node entry. */
export interface UploadSource {
  name: string;
  size: number;
  /** Media type, or '' when unknown. */
  type: string;
  body: UploadBody;
  /** Set for a file on disk. */
  path?: string;
}

/** What `metadata` may hold, when the server states it. */
export interface MetadataLimits {
  /** Most entries. */
  maxEntries: number;
  /** Most bytes of UTF-8 in all keys and values together. */
  maxBytes: number;
  /** A regular expression every key matches, e.g. `^[a-zA-Z][a-zA-Z0-9_.-]{0,63}$`. */
  keyPattern: string;
}

/** The answer of `GET /limits`: the rules the server applies to every upload. */
export interface UploadLimits {
  maxBytes: number;
  allowedContentTypes: string[];
  maxFileNameLength: number;
  maxInputPixels: number;
  variants: { name: string; width: number; format: string }[];
  uploadUrlTtlSeconds: number;
  readUrlTtlSeconds: number;
  /** Absent from servers without upload metadata. */
  metadata?: MetadataLimits;
}

export type UploadData = Blob | ArrayBuffer | ArrayBufferView | UploadSource;

/** The answer of `POST /uploads`. */
export interface UploadTicket {
  uploadId: string;
  uploadUrl: string;
  method: 'PUT';
  headers: Record<string, string>;
  expiresOn: string;
  maxBytes: number;
  /** Where to poll; in anonymous mode it carries the upload's `statusToken`. */
  statusUrl: string;
}

export interface ProcessedOutput {
  name: string;
  width: number;
  height: number;
  contentType: string;
  size: number;
  /** Read URL, valid until `urlsExpireOn`; poll the status again for fresh ones. */
  url: string;
}

/** Fields every status answer may carry besides its own. */
interface StatusCommon {
  uploadId: string;
  /** The app's metadata, as given when the upload URL was issued. */
  metadata?: Record<string, string>;
  issuedAt?: string;
}

export type UploadStatus =
  | (StatusCommon & {
      status: 'pending';
      /** `awaiting-upload` until the file arrives, `scanning` while the malware scan runs, then `processing`. */
      stage?: PendingStage;
    })
  | (StatusCommon & {
      status: 'processed';
      outputs: ProcessedOutput[];
      original?: { format: string; width: number; height: number };
      urlsExpireOn?: string;
      completedAt?: string;
    })
  | (StatusCommon & {
      status: 'rejected';
      reason?: RejectReason;
      message?: string;
      completedAt?: string;
    })
  | (StatusCommon & {
      status: 'failed';
      reason?: FailReason;
      message?: string;
      completedAt?: string;
    });

export interface UploadResult {
  uploadId: string;
  status: 'processed';
  fileName: string;
  outputs: ProcessedOutput[];
  original?: { format: string; width: number; height: number };
  urlsExpireOn?: string;
  statusUrl: string;
  /** True when storage already held the blob: an earlier attempt's PUT had landed. */
  alreadyUploaded: boolean;
  timings: { requestMs: number; uploadMs: number; processingMs: number; totalMs: number };
}

/** One of the caller's uploads, as `GET /uploads` lists them. */
export interface UploadSummary {
  uploadId: string;
  status: UploadStatus['status'];
  stage?: PendingStage;
  reason?: RejectReason | FailReason;
  fileName: string;
  contentType: string;
  size?: number;
  metadata: Record<string, string>;
  issuedAt: string;
  completedAt?: string;
  dropZone?: string;
}

/** One page of `GET /uploads`: newest first; `nextCursor` when there are more. */
export interface UploadPage {
  uploads: UploadSummary[];
  nextCursor?: string;
}
