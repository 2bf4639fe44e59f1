/**
 * What both hooks know about one upload, and how a client task's events become it:
 * one place maps the client's progress and pending stages to `state` and `stage`.
 */
import {
  DirectdropError,
  type UploadData,
  type UploadOptions,
  type UploadProgress,
  type UploadResult,
  type UploadTask,
  isDirectdropError,
  startUpload,
} from '@directdrop/client';

/** `idle` before the first start; `queued` waits for a slot (useUploadMany only). */
export type UploadState = 'idle' | 'queued' | 'running' | 'processed' | 'failed' | 'cancelled';

/**
 * Where a running upload is: checking the file against the server's limits, asking for an
 * upload URL, sending the bytes, `uploaded` until the server says what it is doing, then
 * its malware scan (where a stack has one) and processing.
 */
export type UploadStage =
  'validating' | 'requesting' | 'uploading' | 'uploaded' | 'scanning' | 'processing';

export interface UploadSnapshot {
  state: UploadState;
  /** Set while `running`; the last stage reached once settled. */
  stage?: UploadStage;
  /** The latest progress event; `percent` is 0–100 of the bytes sent. */
  progress?: UploadProgress;
  /** Set once `processed`: the outputs with their read URLs. */
  result?: UploadResult;
  /** Set once `failed`, never for `cancelled`: `code`, `reason`, `stage`, `retryable`. */
  error?: DirectdropError;
}

/** The client rejects with DirectdropErrors; anything else is a bug worth showing as one. */
function asDirectdropError(error: unknown): DirectdropError {
  if (isDirectdropError(error)) return error;
  return new DirectdropError({
    code: 'unexpected',
    stage: 'validate',
    message: error instanceof Error ? error.message : String(error),
    cause: error,
  });
}

export const IDLE: UploadSnapshot = { state: 'idle' };

/**
 * Starts an upload and calls `update` with each change (a patch of the snapshot), the
 * last one when it settles. The returned task's `result` never rejects unhandled.
 */
export function trackUpload(
  data: UploadData,
  options: UploadOptions,
  update: (patch: UploadSnapshot) => void,
): UploadTask {
  let snapshot: UploadSnapshot = { state: 'running', stage: 'validating' };
  const set = (patch: Partial<UploadSnapshot>) => update((snapshot = { ...snapshot, ...patch }));
  set({});
  const task = startUpload(data, {
    ...options,
    onProgress: (progress) => {
      options.onProgress?.(progress);
      // The client's `processing` starts when the PUT ends, before the server's first word
      // (a scan may come first): `uploaded` keeps the stages in order.
      set({ progress, stage: progress.stage === 'processing' ? 'uploaded' : progress.stage });
    },
    onPendingStage: (stage) => {
      options.onPendingStage?.(stage);
      // The server has not seen the bytes yet (its event is on the way): still `uploaded`.
      set({ stage: stage === 'awaiting-upload' ? 'uploaded' : stage });
    },
  });
  task.result.then(
    (result) => set({ state: 'processed', result }),
    (error: unknown) => {
      if (task.state === 'cancelled') set({ state: 'cancelled' });
      else set({ state: 'failed', error: asDirectdropError(error) });
    },
  );
  return task;
}
