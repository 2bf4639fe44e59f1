/**
 * Only a plain upload of a block blob through the issued URL counts. The create
 * permission also lets the URL's holder copy another blob in server-side, create a page
 * or append blob, take snapshots, or choose the blob's access tier; each of those is
 * refused, whatever it holds.
 */
import { UPLOAD_BLOB_APIS, type CommittedBlobApi } from './definitions';

/**
 * Tiers an uploader may set on its PUT (`x-ms-access-tier`) that the worker will not read:
 * an Archive blob cannot be read at all until rehydrated, and Cool and Cold bill each read.
 * Source: learn.microsoft.com/azure/storage/blobs/access-tiers-overview.
 */
export const REFUSED_ACCESS_TIERS: readonly string[] = ['Archive', 'Cold', 'Cool'];

export interface LandedBlobFacts {
  /** The API the event names. */
  api: CommittedBlobApi;
  /** The blob type from the blob's own properties, not from the event. */
  blobType: string | undefined;
  /** The blob is the destination of a Copy Blob (it has a copy id). */
  copied: boolean;
  /** Snapshots that count against the upload: a drop zone's are another device's doing. */
  hasSnapshots: boolean;
  /** The access tier set on the blob itself; undefined when it is inferred from the account. */
  explicitTier: string | undefined;
}

/** Why the blob is not a plain upload, as a sentence for the client, or undefined when it is one. */
export function plainUploadViolation(facts: LandedBlobFacts): string | undefined {
  if (facts.blobType !== 'BlockBlob')
    return `The upload is a ${facts.blobType ?? 'blob of unknown type'}, not a block blob.`;
  if (facts.copied || !UPLOAD_BLOB_APIS.includes(facts.api))
    return 'The blob was copied in, not uploaded through its upload URL.';
  if (facts.explicitTier !== undefined && REFUSED_ACCESS_TIERS.includes(facts.explicitTier))
    return `The upload was stored in the ${facts.explicitTier} tier; send it without x-ms-access-tier.`;
  if (facts.hasSnapshots) return 'The upload has snapshots; a plain upload has none.';
  return undefined;
}
