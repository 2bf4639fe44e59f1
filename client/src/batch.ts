/** Several files with bounded concurrency, one outcome each (`uploadMany`). */
import { throwIfAborted } from './abort.js';
import { DirectdropError } from './errors.js';
import type { UploadData, UploadOptions, UploadProgress, UploadResult } from './models.js';
import { upload } from './task.js';

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
 * `signal` cancels every upload still running or waiting; `metadata` goes with each.
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
