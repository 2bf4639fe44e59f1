/**
 * The per-upload manifest: the outcome the status endpoint reports. It is written
 * last, after every output exists, so a manifest always describes complete work.
 */
import { createHash } from 'node:crypto';
import type { BlobCommit } from './blob-events';
import type { CallerIdentity } from './upload-record';

export type RejectReason =
  | 'too-large'
  | 'not-an-image'
  | 'type-not-allowed'
  | 'too-many-pixels'
  | 'corrupt'
  | 'unsupported-codec'
  /** The upload's length differs from the size declared when its URL was issued. */
  | 'size-mismatch'
  /** Copied in, a page or append blob, or snapshotted: not a plain upload of a block blob. */
  | 'not-a-plain-upload'
  /** Decoding would need more memory than one image may take (maxDecodeBytes). */
  | 'too-much-memory'
  /** The image decodes but its pixels cannot be turned into the variants. */
  | 'unprocessable'
  /** Storage's malware scan found malware; which one is logged, never told to the uploader. */
  | 'malware'
  /** The scan could not vouch for the file and the stack's policy is `reject`. */
  | 'not-scanned';

export type FailReason =
  | 'processing-failed'
  /** No malware-scan verdict arrived within the configured wait. */
  | 'scan-timeout'
  /** The scan could not vouch for the file (Error or Not scanned) and the policy is `fail`. */
  | 'scan-failed'
  /** The upload URL expired and nothing was uploaded with it. */
  | 'not-uploaded';

/** Why reprocessing could not make a variant set: the image's refusal, or no original left. */
export type ReprocessFailReason = RejectReason | 'original-missing';

export interface ManifestOutput {
  name: string;
  blobName: string;
  width: number;
  height: number;
  contentType: string;
  size: number;
}

interface ManifestBase {
  version: 1;
  uploadId: string;
  /** Owner hash bound when the upload URL was issued (or the drop zone's); only it may read the outcome. */
  owner: string;
  /** Set for uploads dropped into a drop zone: the zone's name. */
  dropZone?: string;
  /**
   * Copied from the upload record when the outcome is decided: the caller's metadata and
   * identity as the server took them at issuance, never from the blob or its PUT's headers.
   */
  metadata: Record<string, string>;
  caller: CallerIdentity;
  /** When the URL was issued; for a drop zone, when the blob was created. */
  issuedAt: string;
  source: { blobName: string; eTag: string; sequencer: string };
  /** The recorded version's Last-Modified; absent when nothing was uploaded. */
  uploadedAt?: string;
  completedAt: string;
}

export type UploadManifest =
  | (ManifestBase & {
      status: 'processed';
      /** The folder of the outputs in the processed container (see outputPrefix). */
      outputPrefix: string;
      outputs: ManifestOutput[];
      /** The validated original in the originals container, when the stack keeps originals. */
      originalBlobName?: string;
      /** The upload as decoded; `size` is its length in bytes. */
      original: { format: string; width: number; height: number; size: number };
      /** The variant set the outputs were made with (see reprocess.ts's variantSetHash). */
      variantSet?: string;
      /** Set by reprocessing: when, and the folder it replaced (deleted after the switch). */
      reprocessedAt?: string;
      replacedOutputPrefix?: string;
      /** The last reprocessing that could not make a variant set (and its run); the outputs stand. */
      reprocessFailure?: {
        variantSet: string;
        run?: string;
        reason: ReprocessFailReason;
        message: string;
      };
    })
  | (ManifestBase & { status: 'rejected'; reason: RejectReason; message: string })
  | (ManifestBase & { status: 'failed'; reason: FailReason; message: string });

/**
 * `process`: no outcome yet. `already-done`: the outcome of this very version is recorded
 * (a repeat; what follows the manifest may still need finishing). `later-version`: an
 * outcome for another version of the same upload is recorded, and an upload id has exactly
 * one upload, so this one is refused whatever it holds.
 */
export type ManifestDecision = 'process' | 'already-done' | 'later-version';

/**
 * At-least-once delivery means repeats and reordering: the recorded version is done once,
 * and once any version has an outcome (processed, rejected or failed alike, each announced
 * by its event) no other version of the upload can change it.
 */
export function decideAgainstManifest(
  existing: UploadManifest | undefined,
  commit: BlobCommit,
): ManifestDecision {
  if (!existing) return 'process';
  return existing.source.eTag === commit.eTag ? 'already-done' : 'later-version';
}

/** A blob version as a path segment: its eTag without quotes or punctuation. */
export function versionSegment(eTag: string): string {
  return eTag.replace(/[^A-Za-z0-9]/g, '').slice(0, 64) || 'v';
}

/**
 * The folder of one blob version's outputs: 128 bits of a hash of the upload id and the
 * version, so versions never overwrite each other, a rerun rewrites the same folder, and a
 * read URL reveals nothing from which the upload id (the key to the status endpoint,
 * and to fresh read URLs) could be recovered.
 */
export function outputPrefix(uploadId: string, eTag: string): string {
  return createHash('sha256').update(`${uploadId}\n${eTag}`).digest('hex').slice(0, 32);
}

/** The output folders and kept original a manifest names, including a folder a switch left to delete. */
function namedBy(manifest: UploadManifest | undefined): { folders: string[]; originals: string[] } {
  if (manifest?.status !== 'processed') return { folders: [], originals: [] };
  const folders = [manifest.outputPrefix, manifest.replacedOutputPrefix];
  return {
    folders: folders.filter((f): f is string => f !== undefined),
    originals: manifest.originalBlobName ? [manifest.originalBlobName] : [],
  };
}

/**
 * What `previous` names that `next` does not: once `next` replaces it (or, undefined, the
 * upload is erased), these are deleted, so no output or original outlives the manifest
 * that named it. A folder an earlier switch left to delete counts as named.
 */
export function noLongerNamed(
  previous: UploadManifest,
  next: UploadManifest | undefined,
): { folders: string[]; originals: string[] } {
  const before = namedBy(previous);
  const kept = next?.status === 'processed' ? next : undefined;
  return {
    folders: before.folders.filter((f) => f !== kept?.outputPrefix),
    originals: before.originals.filter((o) => o !== kept?.originalBlobName),
  };
}

export function isUploadManifest(value: unknown): value is UploadManifest {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  return (
    m.version === 1 &&
    typeof m.uploadId === 'string' &&
    typeof m.owner === 'string' &&
    (m.status === 'processed' || m.status === 'rejected' || m.status === 'failed') &&
    typeof m.source === 'object' &&
    m.source !== null
  );
}
