/**
 * Every request to the API goes through `callApi`: the caller's credentials and headers
 * (sent to the API's own origin and nowhere else), a token function asked again after a
 * 401, JSON bodies, and the `{ error: { code, message } }` answers as DirectdropErrors.
 */
import { abortedError, throwIfAborted } from './abort.js';
import {
  DirectdropError,
  type DirectdropErrorCode,
  type QuotaLimit,
  type UploadStage,
} from './errors.js';
import type { ApiOptions } from './models.js';

function apiBase(options: ApiOptions): URL {
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
  return base;
}

export function apiUrl(options: ApiOptions, path: string): URL {
  const base = apiBase(options);
  return new URL(path, base.href.endsWith('/') ? base.href : `${base.href}/`);
}

/** Node's fetch hides the reason (ECONNREFUSED, ENOTFOUND) in `cause`. */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message ?? String(error);
}

async function bearerToken(
  options: ApiOptions,
  forceRefresh: boolean,
  stage: UploadStage,
  uploadId?: string,
): Promise<string | undefined> {
  if (typeof options.token !== 'function') return options.token;
  try {
    return await options.token({ forceRefresh });
  } catch (error) {
    throw new DirectdropError({
      code: 'token-unavailable',
      stage,
      uploadId,
      message: `The token function failed: ${error instanceof Error ? error.message : String(error)}`,
      cause: error,
    });
  }
}

/**
 * Every header an API call sends, built in this one place; storage never sees them. The
 * caller's key, token and extra headers go only to the API's own origin: a status URL
 * naming another origin gets none of them (as fetch drops Authorization on a
 * cross-origin redirect).
 */
async function apiHeaders(
  url: URL,
  options: ApiOptions,
  requestHeaders: Record<string, string>,
  forceRefresh: boolean,
  stage: UploadStage,
  uploadId?: string,
): Promise<Record<string, string>> {
  const base = { accept: 'application/json', ...requestHeaders };
  if (url.origin !== apiBase(options).origin) return base;
  const token = await bearerToken(options, forceRefresh, stage, uploadId);
  return {
    ...base,
    ...(options.functionsKey ? { 'x-functions-key': options.functionsKey } : {}),
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    ...options.headers,
  };
}

export interface ApiResponse {
  status: number;
  body: unknown;
  retryAfterMs?: number;
}

/** `Retry-After` in seconds (what the API sends) or as an HTTP date. */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  // Zero or a date in the past says nothing to wait for: the caller's own backoff applies.
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now();
  return ms > 0 ? ms : undefined;
}

export async function callApi(
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
  const send = async (forceRefresh: boolean) => {
    const headers = await apiHeaders(
      url,
      options,
      (init.headers as Record<string, string> | undefined) ?? {},
      forceRefresh,
      stage,
      uploadId,
    );
    try {
      return await fetchImpl(url, { ...init, headers, signal: options.signal, cache: 'no-store' });
    } catch (error) {
      throw networkFailure(
        error,
        `Could not reach the directdrop API at ${url.origin} (${networkReason(error)}).`,
      );
    }
  };
  let response = await send(false);
  if (response.status === 401 && typeof options.token === 'function') {
    // The token may have expired since it was handed out: ask for a fresh one, once.
    await response.body?.cancel().catch(() => undefined);
    response = await send(true);
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
  return {
    status: response.status,
    body,
    retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
  };
}

export function isTransient(status: number): boolean {
  return status === 429 || status >= 500;
}

interface ErrorBody {
  code?: unknown;
  message?: unknown;
  limit?: unknown;
  max?: unknown;
  resetsAt?: unknown;
}

/** The `{ error: { code, message } }` body as a DirectdropError, keeping a 429's quota fields. */
export function apiError(
  response: ApiResponse,
  stage: UploadStage,
  what: string,
  uploadId?: string,
): DirectdropError {
  const error = (response.body as { error?: ErrorBody } | undefined)?.error;
  const common = {
    stage,
    status: response.status,
    uploadId,
    retryable: isTransient(response.status),
    retryAfterMs: response.retryAfterMs,
  };
  if (typeof error?.code === 'string') {
    return new DirectdropError({
      ...common,
      code: error.code as DirectdropErrorCode,
      message: typeof error.message === 'string' ? error.message : `${what} failed: ${error.code}.`,
      limit: typeof error.limit === 'string' ? (error.limit as QuotaLimit) : undefined,
      max: typeof error.max === 'number' ? error.max : undefined,
      resetsAt: typeof error.resetsAt === 'string' ? error.resetsAt : undefined,
    });
  }
  const hint =
    response.status === 404 ? ' Is the API base URL right? It usually ends in /api.' : '';
  return new DirectdropError({
    ...common,
    code: 'http-error',
    message: `${what} answered HTTP ${response.status}.${hint}`,
  });
}

export function invalidResponse(
  stage: UploadStage,
  what: string,
  uploadId?: string,
): DirectdropError {
  return new DirectdropError({
    code: 'invalid-response',
    stage,
    uploadId,
    message: `${what} answered something that is not the directdrop API's response.`,
  });
}
