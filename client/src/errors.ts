/**
 * The one error type the client rejects with. `code` says what went wrong in a form a
 * program can switch on; `message` is a sentence a person can read.
 */

/**
 * Why the processor turned a file down (the status endpoint's `reason`). The package
 * ships on its own, so this copies the server's list; a test keeps the two equal.
 */
export type RejectReason =
  | 'too-large'
  | 'not-an-image'
  | 'type-not-allowed'
  | 'too-many-pixels'
  | 'corrupt'
  | 'unsupported-codec'
  | 'size-mismatch'
  | 'not-a-plain-upload'
  | 'too-much-memory'
  | 'unprocessable'
  | 'malware'
  | 'not-scanned';

/** Why an upload ended `failed` (the status endpoint's `reason`); copied like RejectReason. */
export type FailReason = 'processing-failed' | 'scan-timeout' | 'scan-failed' | 'not-uploaded';

/** Where in the upload an error happened. */
export type UploadStage = 'validate' | 'request' | 'upload' | 'processing';

/** Codes the client produces itself. */
export type ClientErrorCode =
  /** The options were unusable, e.g. `apiBaseUrl` is not an http(s) URL. */
  | 'invalid-options'
  /** Checked locally before any request: same meaning as the server's codes. */
  | 'invalid-size'
  | 'file-too-large'
  | 'content-type-not-allowed'
  | 'invalid-file-name'
  | 'invalid-metadata'
  /** The `token` function threw or rejected; see `cause`. */
  | 'token-unavailable'
  /** The API or storage could not be reached (DNS, refused, reset, offline). */
  | 'network-error'
  /** The caller's AbortSignal fired. */
  | 'aborted'
  /** The API answered with something that is not the documented contract. */
  | 'invalid-response'
  /** The API answered an error without a `{ error: { code } }` body. */
  | 'http-error'
  /** Storage refused the upload (expired or invalid upload URL). */
  | 'upload-forbidden'
  /** The upload URL does not allow staging blocks (Azurite; Azure before 2026-04-06). */
  | 'block-upload-forbidden'
  /** Storage failed the upload for another reason. */
  | 'upload-failed'
  /** The file was processed and rejected; see `reason`. */
  | 'rejected'
  /** The upload ended `failed` on the server (see `reason`); uploading again may help. */
  | 'processing-failed'
  /** No terminal status within `pollTimeoutMs`. */
  | 'timeout'
  /** The status endpoint never found the upload after it was sent. */
  | 'upload-not-found'
  /** Node entry: the path given is missing, or not a file. */
  | 'file-not-found'
  | 'not-a-file'
  /** `uploadMany`: an item (or the function producing it) threw something else. */
  | 'unexpected';

/**
 * The codes the API answers in `{ error: { code } }`, exactly those its OpenAPI document
 * (`GET /api/openapi.json`) lists; a test keeps the two equal.
 */
export type ApiErrorCode =
  // 400
  | 'invalid-json'
  | 'invalid-body'
  | 'invalid-file-name'
  | 'invalid-content-type'
  | 'invalid-size'
  | 'invalid-metadata'
  | 'invalid-upload-id'
  | 'invalid-query'
  // 401 and 403
  | 'unauthorized'
  | 'invalid-token'
  | 'insufficient-scope'
  | 'listing-unavailable'
  // 404
  | 'upload-not-found'
  // 413 and 415
  | 'file-too-large'
  | 'body-too-large'
  | 'unsupported-media-type'
  | 'content-type-not-allowed'
  // 429 (with `limit`, `max`, `resetsAt`) and 503 (with `retryAfterMs`)
  | 'quota-exceeded'
  | 'storage-unavailable'
  | 'identity-provider-unavailable'
  | 'quota-busy';

/**
 * Every code an error can carry. A newer server may answer a code this version does not
 * know yet; it is passed through as sent, so also look at `status` (4xx or 5xx).
 */
export type DirectdropErrorCode = ClientErrorCode | ApiErrorCode;

/** Which quota a 429 `quota-exceeded` ran into. */
export type QuotaLimit =
  'urls-per-minute' | 'outstanding-uploads' | 'bytes-per-day' | 'global-urls-per-minute';

export interface DirectdropErrorInit {
  code: DirectdropErrorCode;
  stage: UploadStage;
  message: string;
  /** HTTP status of the response that caused the error, if any. */
  status?: number;
  reason?: RejectReason | FailReason;
  uploadId?: string;
  /**
   * True only when uploading the same file again (a new `upload()` call) can succeed:
   * a network failure, a 5xx or 429, an expired upload URL, a timeout. A refusal that
   * would recur (a rejected file, a URL that cannot allow this kind of write) is false.
   */
  retryable?: boolean;
  /** From the response's `Retry-After` (429, 503): wait this long before trying again. */
  retryAfterMs?: number;
  /** A 429's quota: which limit, its value and when it resets (ISO 8601). */
  limit?: QuotaLimit;
  max?: number;
  resetsAt?: string;
  cause?: unknown;
}

export class DirectdropError extends Error {
  readonly code: DirectdropErrorCode;
  readonly stage: UploadStage;
  readonly status?: number;
  readonly reason?: RejectReason | FailReason;
  readonly uploadId?: string;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  readonly limit?: QuotaLimit;
  readonly max?: number;
  readonly resetsAt?: string;

  constructor(init: DirectdropErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'DirectdropError';
    this.code = init.code;
    this.stage = init.stage;
    this.status = init.status;
    this.reason = init.reason;
    this.uploadId = init.uploadId;
    this.retryable = init.retryable ?? false;
    this.retryAfterMs = init.retryAfterMs;
    this.limit = init.limit;
    this.max = init.max;
    this.resetsAt = init.resetsAt;
  }
}

export function isDirectdropError(value: unknown): value is DirectdropError {
  return value instanceof DirectdropError;
}

/** Sentences for people, used when the server sends a reason without a message. */
export const REJECT_REASON_MESSAGES: Readonly<Record<RejectReason, string>> = {
  'too-large': 'The file is larger than the upload limit.',
  'not-an-image': 'The file is not an image.',
  'type-not-allowed': 'This image format is not accepted.',
  'too-many-pixels': 'The image has too many pixels to process.',
  corrupt: 'The image is damaged and cannot be read.',
  'unsupported-codec': 'The image uses an encoding that cannot be decoded.',
  'size-mismatch':
    'The file sent is not the size announced for it; it may have changed while uploading.',
  malware: 'The malware scan found a threat in the file.',
  'not-scanned': 'The malware scan could not check the file.',
  'not-a-plain-upload': 'Only a file uploaded through its upload URL is accepted.',
  'too-much-memory': 'The image is too large to decode.',
  unprocessable: 'The image could be read but not converted.',
};

export const FAIL_REASON_MESSAGES: Readonly<Record<FailReason, string>> = {
  'processing-failed': 'Processing failed on the server.',
  'scan-timeout': 'The malware scan gave no verdict in time.',
  'scan-failed': 'The malware scan could not check the file.',
  'not-uploaded': 'The upload URL expired before any file arrived. Start a new upload.',
};

export function describeRejectReason(reason: string | undefined): string {
  return (
    REJECT_REASON_MESSAGES[reason as RejectReason] ??
    `The file was rejected${reason ? ` (${reason})` : ''}.`
  );
}

export function describeFailReason(reason: string | undefined): string {
  return (
    FAIL_REASON_MESSAGES[reason as FailReason] ??
    `Processing failed on the server${reason ? ` (${reason})` : ''}.`
  );
}
