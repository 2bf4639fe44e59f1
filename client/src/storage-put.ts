/**
 * Sending the bytes: one PUT to the ticket's create-only upload URL over the runtime's
 * transport, with progress, retries (network failures, 5xx, 429) and typed refusals.
 */
import { abortedError, sleep, throwIfAborted } from './abort.js';
import { DirectdropError } from './errors.js';
import { callApi, isTransient } from './http.js';
import type { ApiOptions, UploadOptions, UploadSource, UploadTicket } from './models.js';
import { hasLanded, readStatus, ticketStatusUrl } from './polling.js';
import { type PutResponse, TransportError, defaultTransport } from './transport.js';

/** `uploadAttempts` when not given; docs/clients.md states it (a test compares). */
export const DEFAULT_UPLOAD_ATTEMPTS = 4;

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
  const attempts = Math.max(1, options.uploadAttempts ?? DEFAULT_UPLOAD_ATTEMPTS);
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
    // (measured in Azurite); the status endpoint tells "already there" (a status past
    // `awaiting-upload`) from a refused URL (404, or still awaiting the upload).
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

/** Whether the status endpoint knows the bytes arrived (so a refused PUT found them there). */
async function blobHasLanded(ticket: UploadTicket, options: ApiOptions): Promise<boolean> {
  const url = ticketStatusUrl(ticket, options);
  try {
    const response = await callApi(url, { method: 'GET' }, options, 'upload');
    return hasLanded(readStatus(response, url, ticket.uploadId));
  } catch (error) {
    if (error instanceof DirectdropError && error.code === 'aborted') throw error;
    return false;
  }
}
