/**
 * What `GET /api/limits` advertises: the rules `POST /api/uploads` and the processor
 * apply, read from the same settings, so clients check files against the server's
 * numbers instead of constants of their own.
 */
import { METADATA_LIMITS } from './metadata';
import type { DirectdropSettings, OutputFormat } from './settings';
import { MAX_FILE_NAME_LENGTH } from './upload-request';

export interface UploadLimits {
  /** Largest file accepted, in bytes. */
  maxBytes: number;
  /** Media types `POST /api/uploads` accepts (and the processor then verifies). */
  allowedContentTypes: string[];
  /** Longest file name accepted, in characters. */
  maxFileNameLength: number;
  /** Largest decoded image accepted, width × height. */
  maxInputPixels: number;
  /** The processed outputs every accepted image gets; never enlarged. */
  variants: { name: string; width: number; format: OutputFormat }[];
  /** How long an upload URL stays valid after it is issued. */
  uploadUrlTtlSeconds: number;
  /** How long the read URLs in a processed status stay valid. */
  readUrlTtlSeconds: number;
  /** What `metadata` on `POST /api/uploads` may hold. */
  metadata: { maxEntries: number; maxBytes: number; keyPattern: string };
}

export function uploadLimits(settings: DirectdropSettings): UploadLimits {
  return {
    maxBytes: settings.maxUploadBytes,
    allowedContentTypes: [...settings.allowedContentTypes],
    maxFileNameLength: MAX_FILE_NAME_LENGTH,
    maxInputPixels: settings.maxInputPixels,
    variants: settings.variants.map(({ name, width, format }) => ({ name, width, format })),
    uploadUrlTtlSeconds: settings.uploadUrlTtlSeconds,
    readUrlTtlSeconds: settings.readUrlTtlSeconds,
    metadata: { ...METADATA_LIMITS },
  };
}
