/**
 * Reprocessing: rebuilding a processed upload's variants from its kept original when the
 * stack's variants change. A work item names one upload and the variant set it is for, so
 * a repeat, a stale item from an older run and a second run of the command are all no-ops.
 */
import { createHash } from 'node:crypto';
import type { VariantSpec } from './settings';
import { isUploadId } from './upload-request';
import type { UploadManifest } from './manifest';

/**
 * 64 bits of a SHA-256 of the variant specs in a canonical form (fields in a fixed order),
 * so the same variants give the same hash wherever they were written down.
 */
export function variantSetHash(variants: readonly VariantSpec[]): string {
  const canonical = variants.map(({ name, width, format, quality }) => [
    name,
    width,
    format,
    quality,
  ]);
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 16);
}

export interface ReprocessWorkItem {
  uploadId: string;
  /** The variant set the item was enqueued for (variantSetHash). */
  variantSet: string;
  /** The command run that enqueued it, so a failure can be told from an earlier run's. */
  run?: string;
}

const VARIANT_SET = /^[0-9a-f]{16}$/;
const RUN = /^[0-9a-f]{16}$/;

/** A queue message is a claim: only a well-formed item is acted on. */
export function parseReprocessWorkItem(message: unknown): ReprocessWorkItem | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const { uploadId, variantSet, run } = message as Record<string, unknown>;
  if (typeof uploadId !== 'string' || !isUploadId(uploadId)) return undefined;
  if (typeof variantSet !== 'string' || !VARIANT_SET.test(variantSet)) return undefined;
  if (run === undefined) return { uploadId, variantSet };
  if (typeof run !== 'string' || !RUN.test(run)) return undefined;
  return { uploadId, variantSet, run };
}

/**
 * The folder of a reprocessed upload's outputs: like outputPrefix, 128 bits of a hash, here of
 * the upload id, the source version and the variant set, so it never collides with the folder
 * being replaced and a repeat of the same item rewrites the same folder.
 */
export function reprocessedOutputPrefix(uploadId: string, eTag: string, variantSet: string) {
  return createHash('sha256')
    .update(`${uploadId}\n${eTag}\n${variantSet}`)
    .digest('hex')
    .slice(0, 32);
}

export type ReprocessSkipReason =
  /** Nothing was ever processed: rejected, failed or no manifest. */
  | 'not-processed'
  /** Processed before the stack kept originals, or its original has expired. */
  | 'no-original'
  /** Already has this variant set. */
  | 'current';

/** Whether an upload needs reprocessing to reach `variantSet`, and why not when it doesn't. */
export function reprocessNeed(
  manifest: UploadManifest | undefined,
  variantSet: string,
): 'reprocess' | ReprocessSkipReason {
  if (manifest?.status !== 'processed') return 'not-processed';
  // Manifests written before variant sets were recorded count as out of date.
  if (manifest.variantSet === variantSet) return 'current';
  if (!manifest.originalBlobName) return 'no-original';
  return 'reprocess';
}
