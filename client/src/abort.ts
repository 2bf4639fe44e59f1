/** Cancellation shared by every stage: the caller's AbortSignal becomes code `aborted`. */
import { DirectdropError, type UploadStage } from './errors.js';

export function abortedError(
  stage: UploadStage,
  uploadId?: string,
  cause?: unknown,
): DirectdropError {
  return new DirectdropError({
    code: 'aborted',
    stage,
    uploadId,
    message: 'The upload was cancelled.',
    cause,
  });
}

export function throwIfAborted(
  signal: AbortSignal | undefined,
  stage: UploadStage,
  uploadId?: string,
) {
  if (signal?.aborted) throw abortedError(stage, uploadId, signal.reason);
}

export function sleep(
  ms: number,
  signal: AbortSignal | undefined,
  stage: UploadStage,
  uploadId?: string,
) {
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
