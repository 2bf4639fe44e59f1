/**
 * directdrop's client library: ask the API for a create-only upload URL, PUT the bytes
 * straight to Blob Storage, then poll the status endpoint until the upload is
 * processed, rejected or failed. No storage SDK: one PUT, with progress, cancellation
 * and retries, over the transport the runtime offers (see transport.ts).
 *
 *   const result = await upload(file, { apiBaseUrl: '/api', onProgress: (p) => show(p.percent) });
 *   result.outputs; // [{ name: 'thumb', url, width, height, ... }, ...]
 */
import { DirectdropError, describeRejectReason, type UploadStage } from './errors.js';
import { contentTypeForName, normaliseContentType } from './media-types.js';
import {
  type PutResponse,
  type PutTransport,
  TransportError,
  type UploadBody,
  defaultTransport,
} from './transport.js';

export * from './errors.js';
export { contentTypeForName } from './media-types.js';
export type { PutRequest, PutResponse, PutTransport, UploadBody } from './transport.js';
export { TransportError, fetchTransport, xhrTransport } from './transport.js';

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
  /** Azure Functions key, sent as `x-functions-key` to the API only (not needed locally). */
  functionsKey?: string;
  /** Extra headers for API calls only; never sent to storage. */
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
  /**
   * The rules to check the file against before any upload; by default they are read
   * from the server's `GET /limits` (cached for a minute). The server still enforces its own.
   */
  limits?: Pick<UploadLimits, 'maxBytes' | 'allowedContentTypes'>;
  /** Attempts for the PUT when the network fails or storage answers 5xx. Default 4. */
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

/** The answer of `GET /limits`: the rules the server applies to every upload. */
export interface UploadLimits {
  maxBytes: number;
  allowedContentTypes: string[];
  maxFileNameLength: number;
  maxInputPixels: number;
  variants: { name: string; width: number; format: string }[];
  uploadUrlTtlSeconds: number;
  readUrlTtlSeconds: number;
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
  uploadAttempts: 4,
};
/** Attempts for `POST /uploads` when the API is unreachable or answers 429/5xx. */
const REQUEST_ATTEMPTS = 3;

const now = () => performance.now();

// ---------------------------------------------------------------------------
// Sources and local validation

function isUploadSource(data: UploadData): data is UploadSource {
  return (
    (data as UploadSource).body !== undefined && typeof (data as UploadSource).size === 'number'
  );
}

function toSource(data: UploadData, fileName: string | undefined): UploadSource {
  if (isUploadSource(data)) return data;
  if (typeof Blob !== 'undefined' && data instanceof Blob) {
    const name = fileName ?? (data as Partial<File>).name ?? 'upload';
    return { name, size: data.size, type: data.type, body: data };
  }
  const view = data as ArrayBuffer | ArrayBufferView;
  const bytes = ArrayBuffer.isView(view)
    ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
    : new Uint8Array(view);
  return { name: fileName ?? 'upload', size: bytes.byteLength, type: '', body: bytes };
}

const LIMITS_CACHE_MS = 60_000;
const limitsCache = new Map<string, { at: number; limits: Promise<UploadLimits | undefined> }>();

/**
 * The server's limits, or undefined when it does not say (an older API): it still enforces
 * them. Shared by every upload to one API, so no one caller's signal may cancel the request.
 */
async function cachedLimits(options: ApiOptions): Promise<UploadLimits | undefined> {
  const key = apiUrl(options, 'limits').href;
  let cached = limitsCache.get(key);
  if (!cached || Date.now() - cached.at >= LIMITS_CACHE_MS) {
    const limits = getLimits({ ...options, signal: undefined }).catch(() => {
      limitsCache.delete(key);
      return undefined;
    });
    limitsCache.set(key, (cached = { at: Date.now(), limits }));
  }
  const limits = await cached.limits;
  throwIfAborted(options.signal, 'validate');
  return limits;
}

async function validateLocally(
  source: UploadSource,
  contentType: string,
  options: UploadOptions,
): Promise<void> {
  const fail = (code: string, message: string) => {
    throw new DirectdropError({ code, stage: 'validate', message });
  };
  if (source.name.trim() === '') fail('invalid-file-name', 'The file needs a name.');
  if (source.size <= 0) fail('invalid-size', `${source.name} is empty.`);
  const limits = options.limits ?? (await cachedLimits(options));
  if (!limits) return;
  if (source.size > limits.maxBytes) {
    fail(
      'file-too-large',
      `${source.name} is ${formatBytes(source.size)}; the limit is ${formatBytes(limits.maxBytes)}.`,
    );
  }
  if (!limits.allowedContentTypes.includes(contentType)) {
    fail(
      'content-type-not-allowed',
      `${source.name} is ${contentType}; accepted types are ${limits.allowedContentTypes.join(', ')}.`,
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

/** Every header an API call sends, built in this one place; storage never sees them. */
function apiHeaders(
  options: ApiOptions,
  requestHeaders: Record<string, string> = {},
): Record<string, string> {
  return {
    accept: 'application/json',
    ...requestHeaders,
    ...(options.functionsKey ? { 'x-functions-key': options.functionsKey } : {}),
    ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    ...options.headers,
  };
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
      headers: apiHeaders(options, init.headers as Record<string, string> | undefined),
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
  await validateLocally(source, contentType, options);
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

function retryDelayMs(attempt: number, response: PutResponse | undefined): number {
  const retryAfter = Number(response?.header('retry-after'));
  if (Number.isFinite(retryAfter) && retryAfter > 0) return Math.min(retryAfter * 1000, 30_000);
  return Math.min(500 * 2 ** (attempt - 1), 8_000) * (0.8 + Math.random() * 0.4);
}

/**
 * PUTs the bytes to the ticket's upload URL, never overwriting (see sasMayOverwrite),
 * retrying network failures, 5xx and 429 with backoff (or Retry-After). A refusal
 * because the blob already exists means an earlier attempt landed (its response was
 * lost), so it resolves with `alreadyUploaded: true`.
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
  const transport = options.transport ?? defaultTransport();
  const attempts = Math.max(1, options.uploadAttempts ?? DEFAULTS.uploadAttempts);
  const headers: Record<string, string> = {
    'x-ms-blob-type': 'BlockBlob',
    'Content-Type': contentType,
    ...ticket.headers,
    ...(sasMayOverwrite(ticket.uploadUrl) ? { 'If-None-Match': '*' } : {}),
  };
  const storageOrigin = new URL(ticket.uploadUrl).origin;
  let loaded = 0;

  for (let attempt = 1; ; attempt++) {
    let response: PutResponse | undefined;
    let failure: TransportError | undefined;
    try {
      response = await transport({
        url: ticket.uploadUrl,
        headers,
        body: source.body,
        size: source.size,
        path: source.path,
        signal: options.signal,
        // A retry starts over; the bar holds its place rather than going backwards.
        onProgress: (bytes) => {
          if (bytes > loaded) report((loaded = bytes));
        },
      });
    } catch (error) {
      if (
        options.signal?.aborted ||
        (error instanceof TransportError && error.kind === 'aborted')
      ) {
        throw abortedError('upload', uploadId, error);
      }
      // Anything but a transport's own failure is a bug or a typed refusal: no retry.
      if (!(error instanceof TransportError)) throw error;
      failure = error;
    }
    if (response && response.status >= 200 && response.status < 300) {
      report(source.size);
      return { alreadyUploaded: false };
    }
    const transient =
      failure !== undefined || (response !== undefined && isTransient(response.status));
    if (transient && attempt < attempts) {
      await sleep(retryDelayMs(attempt, response), options.signal, 'upload', uploadId);
      continue;
    }
    if (failure) {
      throw new DirectdropError({
        code: 'network-error',
        stage: 'upload',
        uploadId,
        retryable: true,
        message:
          `Could not reach storage at ${storageOrigin} (${failure.message})` +
          (typeof location === 'undefined' ? '.' : '; or its CORS rules do not allow this page.'),
        cause: failure,
      });
    }
    return refusal(ticket, source, response!, options, report);
  }
}

/** What a final non-2xx answer from storage means: already there, or a typed refusal. */
async function refusal(
  ticket: UploadTicket,
  source: UploadSource,
  response: PutResponse,
  options: UploadOptions,
  report: (loadedBytes: number) => void,
): Promise<{ alreadyUploaded: boolean }> {
  const { uploadId } = ticket;
  const { status } = response;
  const storageCode = response.header('x-ms-error-code') ?? undefined;
  if (status === 409 || status === 403) {
    // An existing blob gets 409 under If-None-Match and 403 under a create-only SAS
    // (measured in Azurite); the status endpoint tells "already there" (200) from a
    // refused URL (404).
    if (!response.stagedBlocks && (await blobHasLanded(ticket, options))) {
      report(source.size);
      return { alreadyUploaded: true };
    }
  }
  if (status === 403 && response.stagedBlocks) {
    throw new DirectdropError({
      code: 'block-upload-forbidden',
      stage: 'upload',
      status,
      uploadId,
      retryable: false,
      message:
        'Storage refused to stage blocks with this create-only upload URL (Azurite never allows it; ' +
        'Azure allows it from service version 2026-04-06). Send the file as one PUT: raise singleShotMaxBytes.',
    });
  }
  if (status === 403) {
    // A new upload gets a fresh URL, which helps when this one expired, by our clock or the
    // service's (AuthenticationFailed also covers a revoked signing key); a permission or
    // network-rule refusal (AuthorizationPermissionMismatch, AuthorizationFailure) would recur.
    const expired = Date.parse(ticket.expiresOn) <= Date.now();
    const retryable = expired || storageCode === 'AuthenticationFailed';
    throw new DirectdropError({
      code: 'upload-forbidden',
      stage: 'upload',
      status,
      uploadId,
      retryable,
      message: expired
        ? 'The upload URL expired before the file was sent. Start a new upload.'
        : `Storage refused the upload (${storageCode ?? status}); ` +
          (retryable
            ? 'the upload URL was not accepted. Start a new upload.'
            : 'the upload URL does not allow this kind of write.'),
    });
  }
  throw new DirectdropError({
    code: 'upload-failed',
    stage: 'upload',
    status,
    uploadId,
    retryable: isTransient(status) || status === 409,
    message: `Storage failed the upload with HTTP ${status} (${storageCode ?? 'no code'}).`,
  });
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

/** The server's upload rules (`GET /limits`): max bytes, accepted types, variants, URL lifetimes. */
export async function getLimits(options: ApiOptions): Promise<UploadLimits> {
  const url = apiUrl(options, 'limits');
  const response = await callApi(url, { method: 'GET' }, options, 'validate');
  if (response.status !== 200) throw apiError(response, 'validate', `GET ${url.pathname}`);
  const limits = response.body as Partial<UploadLimits> | undefined;
  if (typeof limits?.maxBytes !== 'number' || !Array.isArray(limits.allowedContentTypes)) {
    throw invalidResponse('validate', `GET ${url.pathname}`);
  }
  return limits as UploadLimits;
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
 * any stage. Node callers with a path can use `uploadFile` from the Node entry.
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

// ---------------------------------------------------------------------------
// Upload tasks and several files

export type UploadTaskState = 'running' | 'processed' | 'failed' | 'cancelled';

/**
 * One upload in flight, as Firebase's `uploadBytesResumable` hands out: progress events,
 * `cancel()`, and the outcome. Awaiting the task awaits `result`.
 */
export interface UploadTask extends PromiseLike<UploadResult> {
  readonly result: Promise<UploadResult>;
  readonly state: UploadTaskState;
  /** The latest progress; `undefined` until the first event. */
  readonly progress: UploadProgress | undefined;
  /** Calls `listener` on every progress event; returns a function that unsubscribes. */
  onProgress(listener: (progress: UploadProgress) => void): () => void;
  /** Cancels at whatever stage the upload is; `result` rejects with code `aborted`. */
  cancel(): void;
}

/** Starts uploading and returns at once; see UploadTask. */
export function startUpload(data: UploadData, options: UploadOptions): UploadTask {
  const controller = new AbortController();
  const outer = options.signal;
  const cancelFromOuter = () => controller.abort(outer?.reason);
  if (outer?.aborted) cancelFromOuter();
  else outer?.addEventListener('abort', cancelFromOuter, { once: true });
  const listeners = new Set<(progress: UploadProgress) => void>();
  let state: UploadTaskState = 'running';
  let latest: UploadProgress | undefined;

  const result = upload(data, {
    ...options,
    signal: controller.signal,
    onProgress: (progress) => {
      latest = progress;
      options.onProgress?.(progress);
      for (const listener of listeners) listener(progress);
    },
  }).then(
    (value) => {
      state = 'processed';
      return value;
    },
    (error: unknown) => {
      state = error instanceof DirectdropError && error.code === 'aborted' ? 'cancelled' : 'failed';
      throw error;
    },
  );
  result.finally(() => outer?.removeEventListener('abort', cancelFromOuter)).catch(() => undefined);
  return {
    result,
    get state() {
      return state;
    },
    get progress() {
      return latest;
    },
    onProgress(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    cancel: () => controller.abort(),
    then: (onFulfilled, onRejected) => result.then(onFulfilled, onRejected),
  };
}

/** How one file of several went. */
export type UploadOutcome =
  | { index: number; ok: true; result: UploadResult }
  | { index: number; ok: false; error: DirectdropError };

export interface UploadManyOptions extends Omit<UploadOptions, 'onProgress' | 'fileName'> {
  /** Files uploading at once; the rest wait their turn. Default 3. */
  concurrency?: number;
  /** Progress of the file at `index`. */
  onProgress?: (progress: UploadProgress, index: number) => void;
  /** Called as each file settles, in the order they settle. */
  onOutcome?: (outcome: UploadOutcome) => void;
}

/** An item, or a function producing it when its turn comes (e.g. opening a file). */
export type UploadItem = UploadData | (() => UploadData | Promise<UploadData>);

function asDirectdropError(error: unknown): DirectdropError {
  if (error instanceof DirectdropError) return error;
  return new DirectdropError({
    code: 'unexpected',
    stage: 'validate',
    message: error instanceof Error ? error.message : String(error),
    cause: error,
  });
}

/**
 * Uploads several files with at most `concurrency` in flight and resolves with one
 * outcome per file, in input order; one file failing never stops the others.
 * `signal` cancels every upload still running or waiting.
 */
export async function uploadMany(
  items: readonly UploadItem[],
  options: UploadManyOptions,
): Promise<UploadOutcome[]> {
  const { concurrency = 3, onProgress, onOutcome, ...rest } = options;
  const outcomes = new Array<UploadOutcome>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      let outcome: UploadOutcome;
      try {
        throwIfAborted(rest.signal, 'validate');
        const item = items[index];
        const data = typeof item === 'function' ? await item() : item;
        const result = await upload(data, {
          ...rest,
          onProgress: onProgress && ((progress) => onProgress(progress, index)),
        });
        outcome = { index, ok: true, result };
      } catch (error) {
        outcome = { index, ok: false, error: asDirectdropError(error) };
      }
      outcomes[index] = outcome;
      onOutcome?.(outcome);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, concurrency), items.length) }, lane));
  return outcomes;
}
