/**
 * The shared secret Event Grid sends in a header on every delivery (a delivery attribute
 * marked secret). Candidates are compared as SHA-256 digests with `timingSafeEqual`: equal
 * lengths whatever was sent, and no early exit, so the time taken says nothing about how
 * much of a secret a guess got right.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export const DEFAULT_SECRET_HEADER = 'X-Directdrop-Webhook-Secret';

/** Shorter secrets are a configuration mistake worth refusing at startup. */
export const MIN_SECRET_LENGTH = 16;

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * A checker for one or several accepted secrets (several while a secret is rotated: the new
 * one configured at the receiver first, then at the subscription, then the old one removed).
 */
export function secretChecker(
  secrets: string | readonly string[],
): (sent: string | null) => boolean {
  const list = typeof secrets === 'string' ? [secrets] : [...secrets];
  if (list.length === 0) throw new TypeError('secret: give at least one secret');
  for (const secret of list) {
    if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
      throw new TypeError(
        `secret: each secret must be a string of at least ${MIN_SECRET_LENGTH} characters`,
      );
    }
  }
  const accepted = list.map(digest);
  return (sent) => {
    if (sent === null || sent === '') return false;
    const candidate = digest(sent);
    let matched = false;
    // Every accepted digest is compared, so a match on the first costs what a miss costs.
    for (const expected of accepted) {
      if (timingSafeEqual(candidate, expected)) matched = true;
    }
    return matched;
  };
}
