/**
 * The API's operations besides polling: ask for an upload URL (`POST /uploads`), list the
 * caller's uploads (`GET /uploads`) and delete one (`DELETE /uploads/{id}`).
 */
import { sleep } from './abort.js';
import { DirectdropError } from './errors.js';
import {
  type ApiResponse,
  apiError,
  apiUrl,
  callApi,
  invalidResponse,
  isTransient,
} from './http.js';
import { validateLocally } from './limits.js';
import { ticketStatusUrl } from './polling.js';
import { contentTypeForName, normaliseContentType } from './media-types.js';
import type {
  ApiOptions,
  UploadData,
  UploadOptions,
  UploadPage,
  UploadSource,
  UploadSummary,
  UploadTicket,
} from './models.js';

/** Attempts for `POST /uploads` when the API is unreachable or answers 429/5xx. */
const REQUEST_ATTEMPTS = 3;
/** Longest wait between those attempts; a 429 asking for longer is answered at once. */
const MAX_REQUEST_BACKOFF_MS = 5_000;

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
  const metadata =
    options.metadata && Object.keys(options.metadata).length > 0 ? options.metadata : undefined;
  const init: RequestInit = {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    // Sent only when there is some, so servers from before metadata still take the request.
    body: JSON.stringify({ fileName: source.name, contentType, size: source.size, metadata }),
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
    const wait = response.retryAfterMs ?? 300 * 3 ** (attempt - 1);
    if (
      !isTransient(response.status) ||
      attempt >= REQUEST_ATTEMPTS ||
      wait > MAX_REQUEST_BACKOFF_MS
    ) {
      throw apiError(response, 'request', `POST ${url.pathname}`);
    }
    await sleep(wait, options.signal, 'request');
  }
}

/** Page size and position for `GET /uploads`. */
export interface PageSettings {
  /** Uploads per page, 1–100; the server's default is 20. */
  limit?: number;
  /** `nextCursor` of the previous page; none for the first (newest) page. */
  cursor?: string;
}

function parsePage(body: unknown): UploadPage | undefined {
  const page = body as Partial<UploadPage> | undefined;
  if (!Array.isArray(page?.uploads)) return undefined;
  if (page.nextCursor !== undefined && typeof page.nextCursor !== 'string') return undefined;
  const valid = page.uploads.every(
    (u: Partial<UploadSummary>) => typeof u?.uploadId === 'string' && typeof u.status === 'string',
  );
  return valid ? (page as UploadPage) : undefined;
}

/** One page of the caller's uploads, newest first (`GET /uploads?limit=&cursor=`). */
export async function listUploadsPage(
  options: ApiOptions,
  settings: PageSettings = {},
): Promise<UploadPage> {
  const url = apiUrl(options, 'uploads');
  if (settings.limit !== undefined) url.searchParams.set('limit', String(settings.limit));
  if (settings.cursor !== undefined) url.searchParams.set('cursor', settings.cursor);
  const what = `GET ${url.pathname}`;
  const response = await callApi(url, { method: 'GET' }, options, 'request');
  if (response.status !== 200) throw apiError(response, 'request', what);
  const page = parsePage(response.body);
  if (!page) throw invalidResponse('request', what);
  return page;
}

/** Every upload, one at a time, fetched page by page; `byPage()` hands out the pages. */
export interface PagedUploads extends AsyncIterableIterator<UploadSummary> {
  byPage(settings?: PageSettings): AsyncIterableIterator<UploadPage>;
}

/**
 * The caller's uploads, newest first, as the Azure SDK lists things:
 *
 *   for await (const u of listUploads({ apiBaseUrl, token })) console.log(u.uploadId, u.status);
 *   for await (const page of listUploads(options).byPage({ limit: 50 })) show(page.uploads);
 *
 * Uploads issued while listing never shift the pages (they come before the first).
 */
export function listUploads(options: ApiOptions & { pageSize?: number }): PagedUploads {
  const { pageSize, ...apiOptions } = options;
  async function* byPage(settings: PageSettings = {}): AsyncIterableIterator<UploadPage> {
    let cursor = settings.cursor;
    const limit = settings.limit ?? pageSize;
    do {
      const page = await listUploadsPage(apiOptions, { limit, cursor });
      yield page;
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  }
  async function* all(): AsyncIterableIterator<UploadSummary> {
    for await (const page of byPage()) yield* page.uploads;
  }
  const items = all();
  return Object.assign(items, { byPage, [Symbol.asyncIterator]: () => items });
}

/**
 * Erases one of the caller's uploads: outputs, manifest, kept original, any landing blob
 * and its record (`DELETE /uploads/{id}`, 204); read URLs handed out before answer 404 from
 * then on. Another caller's or an unknown id, and one already deleted, reject with code
 * `upload-not-found` (404). Pass the ticket or result (anything with `uploadId` and
 * `statusUrl`) on an anonymous stack: its `statusUrl` carries the capability that proves
 * the upload is yours.
 */
export async function deleteUpload(
  upload: string | Pick<UploadTicket, 'uploadId' | 'statusUrl'>,
  options: ApiOptions,
): Promise<void> {
  const uploadId = typeof upload === 'string' ? upload : upload.uploadId;
  const url =
    typeof upload === 'string'
      ? apiUrl(options, `uploads/${encodeURIComponent(uploadId)}`)
      : ticketStatusUrl(upload, options);
  const response = await callApi(url, { method: 'DELETE' }, options, 'request', uploadId);
  if (response.status !== 204 && response.status !== 200) {
    throw apiError(response, 'request', `DELETE ${url.pathname}`, uploadId);
  }
}
