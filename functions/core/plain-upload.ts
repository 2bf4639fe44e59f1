/**
 * Only a plain upload of a block blob through the issued URL counts. The create
 * permission also lets the URL's holder copy another blob in server-side, create a page
 * or append blob, or take snapshots; each of those is refused, whatever it holds.
 */
import { UPLOAD_BLOB_APIS, type CommittedBlobApi } from './definitions';

export interface LandedBlobFacts {
  /** The API the event names. */
  api: CommittedBlobApi;
  /** The blob type from the blob's own properties, not from the event. */
  blobType: string | undefined;
  /** The blob is the destination of a Copy Blob (it has a copy id). */
  copied: boolean;
  hasSnapshots: boolean;
}

/** Why the blob is not a plain upload, as a sentence for the client, or undefined when it is one. */
export function plainUploadViolation(facts: LandedBlobFacts): string | undefined {
  if (facts.blobType !== 'BlockBlob')
    return `The upload is a ${facts.blobType ?? 'blob of unknown type'}, not a block blob.`;
  if (facts.copied || !UPLOAD_BLOB_APIS.includes(facts.api))
    return 'The blob was copied in, not uploaded through its upload URL.';
  if (facts.hasSnapshots) return 'The upload has snapshots; a plain upload has none.';
  return undefined;
}
