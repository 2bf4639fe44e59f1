/**
 * directdrop's client library, for browsers and Node: ask the API for a create-only
 * upload URL, send the bytes straight to Blob Storage with the storage SDK, then poll
 * the status endpoint until the upload is processed, rejected or failed.
 *
 *   const result = await upload(file, { apiBaseUrl: '/api', onProgress: (p) => show(p.percent) });
 *   result.outputs; // [{ name: 'thumb', url, width, height, ... }, ...]
 */
import {
  AnonymousCredential,
  BlockBlobClient,
  type BlockBlobParallelUploadOptions,
  RestError,
  newPipeline,
} from '@azure/storage-blob';
import { DEFAULT_SETTINGS } from '../functions/core/settings';
import { DirectdropError, describeRejectReason, type UploadStage } from './errors';
import { contentTypeForName, normaliseContentType } from './media-types';
import { xhrHttpClient } from './xhr-http-client';

export * from './errors';
export { contentTypeForName } from './media-types';

/** Largest single Put Blob the service accepts, and the SDK's own upper bound. */
export const MAX_SINGLE_SHOT_BYTES = 256 * 1024 * 1024;

export interface UploadProgress {
  /** `requesting` an upload URL, `uploading` bytes, waiting for `processing`. */
  stage: 'requesting' | 'uploading' | 'processing';
  loadedBytes: number;
  totalBytes: number;
  /** Whole percent of bytes sent, 0–100. */
  percent: number;
  uploadId?: string;
}

export interface ApiOptions {
  /** Base URL of the API, e.g. `https://app.example.com/api` or `/api` in a page. */
  apiBaseUrl: string | URL;
  /** Extra headers for API calls only (e.g. `x-functions-key`); never sent to storage. */
  headers?: Record<string, string>;
  /** A bearer token for stacks with sign-in, sent as `Authorization: Bearer` to the API only. */
  token?: string;
  signal?: AbortSignal;
  /** A fetch implementation; defaults to the global one. */
  fetch?: typeof fetch;
}

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
  /** Called when a pending upload's server-side stage changes: malware scan, then processing. */
  onPendingStage?: (stage: 'scanning' | 'processing') => void;
}

export interface UploadOptions extends PollOptions {
  /** Name to report for data without one; a `File` brings its own. */
  fileName?: string;
  /** Overrides the type from `File.type` or the file name's extension. */
  contentType?: string;
  /** Local pre-check; the server's limit is the authority. Default 25 MiB. */
  maxBytes?: number;
  /** Local pre-check; the server's list is the authority. */
  allowedContentTypes?: readonly string[];
  /**
   * Files up to this size go as one Put Blob (the default, 256 MiB, is the service
   * maximum). Larger files go as parallel blocks, which a create-only SAS allows in
   * Azure from service version 2026-04-06 and Azurite does not allow at all.
   */
  singleShotMaxBytes?: number;
  /** Block size and parallel block count for files above `singleShotMaxBytes`. */
  blockSize?: number;
  concurrency?: number;
}

/** Bytes to upload plus how to hand them to the SDK; see `fileSource` in `client/node`. */
export interface UploadSource {
  name: string;
  size: number;
  /** Media type, or '' when unknown. */
  type: string;
  send(client: BlockBlobClient, options: BlockBlobParallelUploadOptions): Promise<unknown>;
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

export type UploadStatus =
  | {
      uploadId: string;
      status: 'pending';
      /** `scanning` while the malware scan runs, then `processing`. */
      stage?: 'scanning' | 'processing';
    }
  | {
      uploadId: string;
      status: 'processed';
      outputs: ProcessedOutput[];
      original?: { format: string; width: number; height: number };
      urlsExpireOn?: string;
      completedAt?: string;
    }
  | { uploadId: string; status: 'rejected' | 'failed'; reason?: string; message?: string };

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

const DEFAULTS = {
  pollTimeoutMs: 120_000,
  pollIntervalMs: 250,
  maxPollIntervalMs: 2_000,
  notFoundGraceMs: 20_000,
  concurrency: 4,
};
/** Attempts for `POST /uploads` when the API is unreachable or answers 429/5xx. */
const REQUEST_ATTEMPTS = 3;

const now = () => performance.now();

// ---------------------------------------------------------------------------
// Sources and local validation

function isUploadSource(data: UploadData): data is UploadSource {
  return typeof (data as UploadSource).send === 'function';
}

const IS_NODE = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

function toSource(data: UploadData, fileName: string | undefined): UploadSource {
  if (isUploadSource(data)) return data;
  if (typeof Blob !== 'undefined' && data instanceof Blob) {
    const name = fileName ?? (data as Partial<File>).name ?? 'upload';
    return {
      name,
      size: data.size,
      type: data.type,
      // The SDK's Node build takes bytes, not Blobs; its browser build slices Blobs.
      send: async (client, options) =>
        client.uploadData(IS_NODE ? new Uint8Array(await data.arrayBuffer()) : data, options),
    };
  }
  const bytes = data as ArrayBuffer | ArrayBufferView;
  return {
    name: fileName ?? 'upload',
    size: bytes.byteLength,
    type: '',
    send: (client, options) => client.uploadData(bytes, options),
  };
}

function validateLocally(source: UploadSource, contentType: string, options: UploadOptions): void {
  const maxBytes = options.maxBytes ?? DEFAULT_SETTINGS.maxUploadBytes;
  const allowed = options.allowedContentTypes ?? DEFAULT_SETTINGS.allowedContentTypes;
  const fail = (code: string, message: string) => {
    throw new DirectdropError({ code, stage: 'validate', message });
  };
  if (source.name.trim() === '') fail('invalid-file-name', 'The file needs a name.');
  if (source.size <= 0) fail('invalid-size', `${source.name} is empty.`);
  if (source.size > maxBytes) {
    fail(
      'file-too-large',
      `${source.name} is ${formatBytes(source.size)}; the limit is ${formatBytes(maxBytes)}.`,
    );
  }
  if (!allowed.includes(contentType)) {
    fail(
      'content-type-not-allowed',
      `${source.name} is ${contentType}; accepted types are ${allowed.join(', ')}.`,
    );
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

// ---------------------------------------------------------------------------
// Calling the API

function apiUrl(options: ApiOptions, path: string): URL {
  let base: URL;
  try {
    // Relative bases (`/api`) resolve against the page in browsers.
    const origin = typeof location === 'undefined' ? undefined : location.href;
    base = new URL(String(options.apiBaseUrl), origin);
  } catch {
    throw new DirectdropError({
      code: 'invalid-options',
      stage: 'request',
      message: `apiBaseUrl "${String(options.apiBaseUrl)}" is not a URL; expected e.g. http://localhost:7071/api.`,
    });
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new DirectdropError({
      code: 'invalid-options',
      stage: 'request',
      message: `apiBaseUrl "${String(options.apiBaseUrl)}" must start with http:// or https://.`,
    });
  }
  return new URL(path, base.href.endsWith('/') ? base.href : `${base.href}/`);
}

function abortedError(stage: UploadStage, uploadId?: string, cause?: unknown): DirectdropError {
  return new DirectdropError({
    code: 'aborted',
    stage,
    uploadId,
    message: 'The upload was cancelled.',
    cause,
  });
}

function throwIfAborted(signal: AbortSignal | undefined, stage: UploadStage, uploadId?: string) {
  if (signal?.aborted) throw abortedError(stage, uploadId, signal.reason);
}

function sleep(ms: number, signal: AbortSignal | undefined, stage: UploadStage, uploadId?: string) {
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError(stage, uploadId, signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Node's fetch hides the reason (ECONNREFUSED, ENOTFOUND) in `cause`. */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message ?? String(error);
}

interface ApiResponse {
  status: number;
  body: unknown;
  retryAfterMs?: number;
}

async function callApi(
  url: URL,
  init: RequestInit,
  options: ApiOptions,
  stage: UploadStage,
  uploadId?: string,
): Promise<ApiResponse> {
  const fetchImpl = options.fetch ?? fetch;
  throwIfAborted(options.signal, stage, uploadId);
  // A failed fetch or body read is either our own abort or a retryable network error.
  const networkFailure = (error: unknown, message: string) =>
    options.signal?.aborted
      ? abortedError(stage, uploadId, error)
      : new DirectdropError({
          code: 'network-error',
          stage,
          uploadId,
          retryable: true,
          message,
          cause: error,
        });
  let response: Response;
  try {
    response = await fetchImpl(url, {
      ...init,
      headers: {
        accept: 'application/json',
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...init.headers,
        ...options.headers,
      },
      signal: options.signal,
      cache: 'no-store',
    });
  } catch (error) {
    throw networkFailure(
      error,
      `Could not reach the directdrop API at ${url.origin} (${networkReason(error)}).`,
    );
  }
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw networkFailure(
      error,
      `The connection to ${url.origin} broke while reading the response.`,
    );
  }
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  const retryAfter = Number(response.headers.get('retry-after'));
  return {
    status: response.status,
    body,
    retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
  };
}

function isTransient(status: number): boolean {
  return status === 429 || status >= 500;
}

/** The `{ error: { code, message } }` body as a DirectdropError. */
function apiError(
  response: ApiResponse,
  stage: UploadStage,
  what: string,
  uploadId?: string,
): DirectdropError {
  const error = (response.body as { error?: { code?: unknown; message?: unknown } } | undefined)
    ?.error;
  if (typeof error?.code === 'string') {
    return new DirectdropError({
      code: error.code,
      stage,
      status: response.status,
      uploadId,
      retryable: isTransient(response.status),
      message: typeof error.message === 'string' ? error.message : `${what} failed: ${error.code}.`,
    });
  }
  const hint =
    response.status === 404 ? ' Is the API base URL right? It usually ends in /api.' : '';
  return new DirectdropError({
    code: 'http-error',
    stage,
    status: response.status,
    uploadId,
    retryable: isTransient(response.status),
    message: `${what} answered HTTP ${response.status}.${hint}`,
  });
}

function invalidResponse(stage: UploadStage, what: string, uploadId?: string): DirectdropError {
  return new DirectdropError({
    code: 'invalid-response',
    stage,
    uploadId,
    message: `${what} answered something that is not the directdrop API's response.`,
  });
}

function isHttpUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

function parseTicket(body: unknown): UploadTicket | undefined {
  const t = body as Partial<UploadTicket> | undefined;
  if (
    typeof t?.uploadId !== 'string' ||
    !isHttpUrl(t.uploadUrl) ||
    !isHttpUrl(t.statusUrl) ||
    typeof t.headers !== 'object' ||
    t.headers === null
  ) {
    return undefined;
  }
  if (t.headers['x-ms-blob-type'] !== undefined && t.headers['x-ms-blob-type'] !== 'BlockBlob') {
    return undefined;
  }
  return t as UploadTicket;
}

/**
 * Validates the file locally, then asks the API for a create-only upload URL.
 * Retries a couple of times when the API is unreachable or overloaded: an unused
 * upload URL costs nothing and expires on its own.
 */
export async function requestUpload(
  data: UploadData,
  options: UploadOptions,
): Promise<{ ticket: UploadTicket; source: UploadSource; contentType: string }> {
  const source = toSource(data, options.fileName);
  const contentType = normaliseContentType(
    options.contentType || source.type || contentTypeForName(source.name),
  );
  validateLocally(source, contentType, options);
  options.onProgress?.({
    stage: 'requesting',
    loadedBytes: 0,
    totalBytes: source.size,
    percent: 0,
  });
  const url = apiUrl(options, 'uploads');
  const init: RequestInit = {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ fileName: source.name, contentType, size: source.size }),
  };

  for (let attempt = 1; ; attempt++) {
    let response: ApiResponse;
    try {
      response = await callApi(url, init, options, 'request');
    } catch (error) {
      const retry =
        error instanceof DirectdropError &&
        error.code === 'network-error' &&
        attempt < REQUEST_ATTEMPTS;
      if (!retry) throw error;
      await sleep(300 * 3 ** (attempt - 1), options.signal, 'request');
      continue;
    }
    if (response.status === 201 || response.status === 200) {
      const ticket = parseTicket(response.body);
      if (!ticket) throw invalidResponse('request', `POST ${url.pathname}`);
      return { ticket, source, contentType };
    }
    if (!isTransient(response.status) || attempt >= REQUEST_ATTEMPTS) {
      throw apiError(response, 'request', `POST ${url.pathname}`);
    }
    const backoff = 300 * 3 ** (attempt - 1);
    await sleep(Math.min(response.retryAfterMs ?? backoff, 5_000), options.signal, 'request');
  }
}

// ---------------------------------------------------------------------------
// Sending the bytes to storage

const IN_BROWSER = typeof XMLHttpRequest !== 'undefined';

/** One pipeline per environment: XHR in browsers for byte-level progress. */
function storagePipeline() {
  return newPipeline(new AnonymousCredential(), {
    httpClient: IN_BROWSER ? xhrHttpClient : undefined,
    // Interactive uploads: retry transient failures for seconds, not minutes.
    retryOptions: { maxTries: 4, retryDelayInMs: 1_000, maxRetryDelayInMs: 8_000 },
  });
}

/**
 * A create-only SAS (`sp=c`) already refuses overwrites. Any SAS that may write (`w`)
 * or whose permissions we cannot see (a stored access policy) gets `If-None-Match: *`
 * instead; sending it only then keeps browsers' CORS preflight to the headers
 * a create-only upload needs.
 */
function sasMayOverwrite(uploadUrl: string): boolean {
  const permissions = new URL(uploadUrl).searchParams.get('sp');
  return permissions === null || permissions.includes('w');
}

/**
 * PUTs the bytes to the ticket's upload URL, never overwriting (see sasMayOverwrite).
 * A refusal because the blob already exists means an earlier attempt landed (e.g. an
 * SDK retry after a lost response), so it resolves with `alreadyUploaded: true`.
 */
export async function sendToStorage(
  ticket: UploadTicket,
  source: UploadSource,
  contentType: string,
  options: UploadOptions,
): Promise<{ alreadyUploaded: boolean }> {
  const { uploadId } = ticket;
  throwIfAborted(options.signal, 'upload', uploadId);
  const report = (loadedBytes: number) =>
    options.onProgress?.({
      stage: 'uploading',
      loadedBytes,
      totalBytes: source.size,
      percent:
        source.size === 0 ? 100 : Math.min(100, Math.floor((loadedBytes / source.size) * 100)),
      uploadId,
    });
  report(0);
  const client = new BlockBlobClient(ticket.uploadUrl, storagePipeline());
  try {
    await source.send(client, {
      abortSignal: options.signal,
      blobHTTPHeaders: { blobContentType: ticket.headers['Content-Type'] ?? contentType },
      conditions: sasMayOverwrite(ticket.uploadUrl) ? { ifNoneMatch: '*' } : undefined,
      maxSingleShotSize: options.singleShotMaxBytes ?? MAX_SINGLE_SHOT_BYTES,
      blockSize: options.blockSize,
      concurrency: options.concurrency ?? DEFAULTS.concurrency,
      onProgress: (progress) => report(progress.loadedBytes),
    });
    report(source.size);
    return { alreadyUploaded: false };
  } catch (error) {
    if (options.signal?.aborted || (error as Error)?.name === 'AbortError') {
      throw abortedError('upload', uploadId, error);
    }
    const restError = asRestError(error);
    if (!restError) throw error;
    if (restError.statusCode === 409 || restError.statusCode === 403) {
      // An existing blob gets 409 under If-None-Match and 403 under a create-only SAS
      // (measured in Azurite); the status endpoint tells "already there" (200) from a
      // refused URL (404).
      if (await blobHasLanded(ticket, options)) {
        report(source.size);
        return { alreadyUploaded: true };
      }
      throw new DirectdropError({
        code: 'upload-forbidden',
        stage: 'upload',
        status: restError.statusCode,
        uploadId,
        retryable: true,
        message:
          `Storage refused the upload (${restError.code ?? restError.statusCode}); the upload URL may have expired ` +
          'or not allow this kind of write. Start a new upload.',
        cause: restError,
      });
    }
    if (restError.statusCode === undefined) {
      throw new DirectdropError({
        code: 'network-error',
        stage: 'upload',
        uploadId,
        retryable: true,
        message:
          `Could not reach storage at ${new URL(ticket.uploadUrl).origin} (${restError.code ?? restError.message})` +
          // Browsers report a refused CORS preflight as a plain network failure.
          (IN_BROWSER ? '; or its CORS rules do not allow this page.' : '.'),
        cause: restError,
      });
    }
    throw new DirectdropError({
      code: 'upload-failed',
      stage: 'upload',
      status: restError.statusCode,
      uploadId,
      retryable: restError.statusCode >= 500,
      message: `Storage failed the upload with HTTP ${restError.statusCode} (${restError.code ?? 'no code'}).`,
      cause: restError,
    });
  }
}

/** The browser build of the SDK does not export `isRestError`; this is its test. */
function asRestError(error: unknown): RestError | undefined {
  return error instanceof RestError || (error as Error | undefined)?.name === 'RestError'
    ? (error as RestError)
    : undefined;
}

async function blobHasLanded(ticket: UploadTicket, options: ApiOptions): Promise<boolean> {
  try {
    const response = await callApi(new URL(ticket.statusUrl), { method: 'GET' }, options, 'upload');
    return response.status === 200;
  } catch (error) {
    if (error instanceof DirectdropError && error.code === 'aborted') throw error;
    return false;
  }
}

// ---------------------------------------------------------------------------
// Waiting for the result

function parseStatus(body: unknown): UploadStatus | undefined {
  const s = body as Partial<Record<string, unknown>> | undefined;
  if (typeof s?.uploadId !== 'string') return undefined;
  switch (s.status) {
    case 'pending':
    case 'rejected':
    case 'failed':
      return s as UploadStatus;
    case 'processed':
      return Array.isArray(s.outputs) ? (s as UploadStatus) : undefined;
    default:
      return undefined;
  }
}

function readStatus(response: ApiResponse, url: URL, uploadId?: string): UploadStatus | undefined {
  if (response.status === 404) return undefined;
  if (response.status !== 200) {
    throw apiError(response, 'processing', `GET ${url.pathname}`, uploadId);
  }
  const status = parseStatus(response.body);
  if (!status) throw invalidResponse('processing', `GET ${url.pathname}`, uploadId);
  return status;
}

/** One status request; `undefined` while the upload is not known yet (404). */
export async function getUploadStatus(
  statusUrl: string,
  options: ApiOptions,
): Promise<UploadStatus | undefined> {
  const url = new URL(statusUrl);
  return readStatus(await callApi(url, { method: 'GET' }, options, 'processing'), url);
}

/**
 * Polls `statusUrl` with growing, jittered delays until the upload is processed
 * (resolves) or rejected/failed (rejects). Network errors, 429 and 5xx count as
 * transient until the timeout; a 404 is tolerated for `notFoundGraceMs`, since the
 * status endpoint only knows an upload once its blob exists.
 */
export async function waitForProcessing(
  ticket: Pick<UploadTicket, 'uploadId' | 'statusUrl'>,
  options: PollOptions,
): Promise<Extract<UploadStatus, { status: 'processed' }>> {
  const { uploadId } = ticket;
  const url = new URL(ticket.statusUrl);
  const timeoutMs = options.pollTimeoutMs ?? DEFAULTS.pollTimeoutMs;
  const graceMs = options.notFoundGraceMs ?? DEFAULTS.notFoundGraceMs;
  const maxDelay = options.maxPollIntervalMs ?? DEFAULTS.maxPollIntervalMs;
  const started = now();
  let delay = options.pollIntervalMs ?? DEFAULTS.pollIntervalMs;
  let lastProblem = 'the status stayed pending';
  let lastStage: string | undefined;

  for (;;) {
    let retryAfterMs: number | undefined;
    try {
      const response = await callApi(url, { method: 'GET' }, options, 'processing', uploadId);
      retryAfterMs = response.retryAfterMs;
      const status = readStatus(response, url, uploadId);
      if (status === undefined) {
        lastProblem = 'the status endpoint did not know the upload';
        if (now() - started > graceMs) {
          throw new DirectdropError({
            code: 'upload-not-found',
            stage: 'processing',
            status: 404,
            uploadId,
            message: `The API still does not know upload ${uploadId} ${Math.round(graceMs / 1000)} s after it was sent.`,
          });
        }
      } else if (status.status === 'pending') {
        if (status.stage && status.stage !== lastStage) options.onPendingStage?.(status.stage);
        lastStage = status.stage ?? lastStage;
      } else if (status.status === 'processed') {
        return status;
      } else if (status.status === 'rejected') {
        throw new DirectdropError({
          code: 'rejected',
          stage: 'processing',
          uploadId,
          reason: status.reason,
          message: status.message || describeRejectReason(status.reason),
        });
      } else if (status.status === 'failed') {
        throw new DirectdropError({
          code: 'processing-failed',
          stage: 'processing',
          uploadId,
          reason: status.reason,
          retryable: true,
          message: status.message || 'Processing failed on the server.',
        });
      }
    } catch (error) {
      const transient =
        error instanceof DirectdropError &&
        (error.code === 'network-error' ||
          (error.status !== undefined && isTransient(error.status)));
      if (!transient) throw error;
      lastProblem = error.message;
    }

    const remaining = timeoutMs - (now() - started);
    if (remaining <= 0) {
      throw new DirectdropError({
        code: 'timeout',
        stage: 'processing',
        uploadId,
        retryable: true,
        message: `No result for upload ${uploadId} after ${Math.round(timeoutMs / 1000)} s (${lastProblem}).`,
      });
    }
    // Jitter keeps many clients that started together from polling in lockstep.
    const jittered = delay * (0.8 + Math.random() * 0.4);
    await sleep(
      Math.min(retryAfterMs ?? jittered, remaining),
      options.signal,
      'processing',
      uploadId,
    );
    delay = Math.min(delay * 1.5, maxDelay);
  }
}

// ---------------------------------------------------------------------------
// All together

/**
 * Uploads one file and resolves once it is processed, with its outputs; rejects with
 * a DirectdropError (see `code`, `reason`, `stage`) otherwise. `signal` cancels at
 * any stage. Node callers with a path can use `uploadFile` from `client/node`.
 */
export async function upload(data: UploadData, options: UploadOptions): Promise<UploadResult> {
  const t0 = now();
  throwIfAborted(options.signal, 'validate');
  const { ticket, source, contentType } = await requestUpload(data, options);
  const t1 = now();
  const { alreadyUploaded } = await sendToStorage(ticket, source, contentType, options);
  const t2 = now();
  options.onProgress?.({
    stage: 'processing',
    loadedBytes: source.size,
    totalBytes: source.size,
    percent: 100,
    uploadId: ticket.uploadId,
  });
  const processed = await waitForProcessing(ticket, options);
  const t3 = now();
  return {
    uploadId: ticket.uploadId,
    status: 'processed',
    fileName: source.name,
    outputs: processed.outputs,
    original: processed.original,
    urlsExpireOn: processed.urlsExpireOn,
    statusUrl: ticket.statusUrl,
    alreadyUploaded,
    timings: {
      requestMs: Math.round(t1 - t0),
      uploadMs: Math.round(t2 - t1),
      processingMs: Math.round(t3 - t2),
      totalMs: Math.round(t3 - t0),
    },
  };
}
