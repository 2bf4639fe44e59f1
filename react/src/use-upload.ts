/**
 * `useUpload()`: one upload at a time as React state, on top of the client's `startUpload`.
 *
 *   const upload = useUpload({ apiBaseUrl: '/api' });
 *   <input type="file" onChange={(e) => upload.start(e.target.files![0])} />
 *   {upload.state === 'running' && <progress max={100} value={upload.progress?.percent ?? 0} />}
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { UploadData, UploadOptions, UploadTask } from '@directdrop/client';
import { IDLE, type UploadSnapshot, trackUpload } from './upload-state.js';

export interface UseUploadResult extends UploadSnapshot {
  /**
   * Starts uploading `data` with the hook's options, overridden by `options`, and returns
   * the client's task (await it for the result). A start cancels the upload before it.
   */
  start(data: UploadData, options?: Partial<UploadOptions>): UploadTask;
  /** Cancels the running upload, at whatever stage; `state` becomes `cancelled`. */
  cancel(): void;
  /** Cancels any running upload and goes back to `idle`. */
  reset(): void;
}

/**
 * `options` are `startUpload`'s (`apiBaseUrl`, `token`, `functionsKey`, `limits`, …), read
 * when `start` is called, so a new object on every render is fine. Unmounting cancels the
 * running upload.
 */
export function useUpload(options: UploadOptions): UseUploadResult {
  const [snapshot, setSnapshot] = useState<UploadSnapshot>(IDLE);
  const latestOptions = useRef(options);
  // Only the latest start may update the state; an older one's late events are dropped.
  const current = useRef<{ task?: UploadTask } | undefined>(undefined);

  useEffect(() => {
    latestOptions.current = options;
  });
  useEffect(
    () => () => {
      current.current?.task?.cancel();
      current.current = undefined;
    },
    [],
  );

  const start = useCallback((data: UploadData, overrides?: Partial<UploadOptions>) => {
    current.current?.task?.cancel();
    const run: { task?: UploadTask } = {};
    current.current = run;
    run.task = trackUpload(data, { ...latestOptions.current, ...overrides }, (next) => {
      if (current.current === run) setSnapshot(next);
    });
    return run.task;
  }, []);
  const cancel = useCallback(() => current.current?.task?.cancel(), []);
  const reset = useCallback(() => {
    current.current?.task?.cancel();
    current.current = undefined;
    setSnapshot(IDLE);
  }, []);

  return { ...snapshot, start, cancel, reset };
}
