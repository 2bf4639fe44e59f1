/**
 * What an upload or read SAS may do and for how long. The signer adapters turn a
 * policy into a token; keeping the policy here keeps it testable and in one place.
 */

export interface SasPolicy {
  /** SAS permission letters: `c` create-only for uploads, `r` for reads. */
  permissions: 'c' | 'r';
  startsOn: Date;
  expiresOn: Date;
}

/** Back-dating absorbs clock skew between our host and the storage front end. */
export const CLOCK_SKEW_ALLOWANCE_MS = 5 * 60 * 1000;

/**
 * Create-only: the holder may write the blob once but never overwrite it, read it,
 * list the container or delete anything. Scoped to a single blob by the signer.
 */
export function uploadSasPolicy(now: Date, ttlSeconds: number): SasPolicy {
  return {
    permissions: 'c',
    startsOn: new Date(now.getTime() - CLOCK_SKEW_ALLOWANCE_MS),
    expiresOn: new Date(now.getTime() + ttlSeconds * 1000),
  };
}

export function readSasPolicy(now: Date, ttlSeconds: number): SasPolicy {
  return {
    permissions: 'r',
    startsOn: new Date(now.getTime() - CLOCK_SKEW_ALLOWANCE_MS),
    expiresOn: new Date(now.getTime() + ttlSeconds * 1000),
  };
}
