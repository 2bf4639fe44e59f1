/**
 * Waiting for the result: the status endpoint (`GET /uploads/{id}`, the ticket's
 * `statusUrl`) polled with growing, jittered delays until the upload is terminal.
 */
import { sleep } from './abort.js';
import { DirectdropError, describeFailReason, describeRejectReason } from './errors.js';
import {
  type ApiResponse,
  apiError,
  apiUrl,
  callApi,
  invalidResponse,
  isTransient,
} from './http.js';
import type {
  ApiOptions,
  PendingStage,
  PollOptions,
  UploadStatus,
  UploadTicket,
} from './models.js';

const DEFAULTS = {
  pollTimeoutMs: 120_000,
  pollIntervalMs: 250,
  maxPollIntervalMs: 2_000,
  notFoundGraceMs: 20_000,
};

const now = () => performance.now();

function parseStatus(body: unknown): UploadStatus | undefined {
  const s = body as Partial<Record<string, unknown>> | undefined;
  if (typeof s?.uploadId !== 'string') return undefined;
  switch (s.status) {
    case 'pending':
    case 'rejected':
    case 'failed':
      return s as unknown as UploadStatus;
    case 'processed':
      return Array.isArray(s.outputs) ? (s as unknown as UploadStatus) : undefined;
    default:
      return undefined;
  }
}

export function readStatus(
  response: ApiResponse,
  url: URL,
  uploadId?: string,
): UploadStatus | undefined {
  if (response.status === 404) return undefined;
  if (response.status !== 200) {
    throw apiError(response, 'processing', `GET ${url.pathname}`, uploadId);
  }
  const status = parseStatus(response.body);
  if (!status) throw invalidResponse('processing', `GET ${url.pathname}`, uploadId);
  return status;
}

/** One status request; `undefined` while the upload is not known (404). */
export async function getUploadStatus(
  statusUrl: string,
  options: ApiOptions,
): Promise<UploadStatus | undefined> {
  const url = new URL(statusUrl);
  return readStatus(await callApi(url, { method: 'GET' }, options, 'processing'), url);
}

/**
 * Where an issued upload's status is read: under the API base the client was given, with
 * the query of the `statusUrl` the server issued (an anonymous stack's `statusToken`). The
 * server builds `statusUrl` from its configured public URL, which a client reaching the API
 * by another name (a custom domain, 127.0.0.1 for localhost) would not share credentials with.
 */
export function ticketStatusUrl(
  ticket: Pick<UploadTicket, 'uploadId' | 'statusUrl'>,
  options: ApiOptions,
): URL {
  const url = apiUrl(options, `uploads/${encodeURIComponent(ticket.uploadId)}`);
  url.search = new URL(ticket.statusUrl).search;
  return url;
}

/** True once storage has the upload's bytes: the status is past `awaiting-upload`. */
export function hasLanded(status: UploadStatus | undefined): boolean {
  if (status === undefined) return false;
  if (status.status === 'pending') return status.stage !== 'awaiting-upload';
  return !(status.status === 'failed' && status.reason === 'not-uploaded');
}

/**
 * Polls `statusUrl` with growing, jittered delays until the upload is processed
 * (resolves) or rejected/failed (rejects). Network errors, 429 and 5xx count as
 * transient until the timeout; a 404 is tolerated for `notFoundGraceMs`, since servers
 * before the upload index only knew an upload once its blob existed.
 */
export async function waitForProcessing(
  ticket: Pick<UploadTicket, 'uploadId' | 'statusUrl'>,
  options: PollOptions,
): Promise<Extract<UploadStatus, { status: 'processed' }>> {
  const { uploadId } = ticket;
  const url = ticketStatusUrl(ticket, options);
  const timeoutMs = options.pollTimeoutMs ?? DEFAULTS.pollTimeoutMs;
  const graceMs = options.notFoundGraceMs ?? DEFAULTS.notFoundGraceMs;
  const maxDelay = options.maxPollIntervalMs ?? DEFAULTS.maxPollIntervalMs;
  const started = now();
  let delay = options.pollIntervalMs ?? DEFAULTS.pollIntervalMs;
  let lastProblem = 'the status stayed pending';
  let lastStage: PendingStage | undefined;

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
        if (status.stage === 'awaiting-upload') {
          lastProblem = 'the server had not seen the file arrive in storage';
        }
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
          message: status.message || describeFailReason(status.reason),
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
