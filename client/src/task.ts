/**
 * One upload from start to finish: `upload()` as a promise, `startUpload()` as a task with
 * progress listeners and `cancel()`.
 */
import { throwIfAborted } from './abort.js';
import { DirectdropError } from './errors.js';
import { requestUpload } from './api.js';
import type { UploadData, UploadOptions, UploadProgress, UploadResult } from './models.js';
import { waitForProcessing } from './polling.js';
import { sendToStorage } from './storage-put.js';

const now = () => performance.now();

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
