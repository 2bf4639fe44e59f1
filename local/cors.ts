/**
 * Which browser origins local mode lets call the API and PUT to Azurite: any page on
 * a loopback origin (a Vite dev server on :5173, a static server on :8080, the local
 * host itself), plus exact origins given with `--cors-origin`.
 */

/**
 * Azurite matches a CORS rule's origin with `*` as a glob (glob-to-regexp, anchored),
 * but stops at the first pattern of a rule's list; so each pattern gets its own rule.
 * Azure Storage allows no such port wildcard: there, list each origin (allowedCorsOrigins).
 */
export const LOOPBACK_ORIGIN_PATTERNS = ['http://localhost:*', 'http://127.0.0.1:*'] as const;

/**
 * Response headers cross-origin pages may read, added to every CORS response of the local
 * host (the handlers may name more): the quota's RateLimit fields and Retry-After, which
 * a browser hides from JavaScript unless exposed.
 */
export const CORS_EXPOSED_HEADERS = [
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
  'Retry-After',
] as const;

/** The union of two Access-Control-Expose-Headers values, first spelling kept. */
export function mergeExposedHeaders(...values: Array<string | undefined>): string {
  const seen = new Map<string, string>();
  for (const value of values) {
    for (const name of (value ?? '').split(',').map((n) => n.trim())) {
      if (name !== '' && !seen.has(name.toLowerCase())) seen.set(name.toLowerCase(), name);
    }
  }
  return [...seen.values()].join(', ');
}

const LOOPBACK_ORIGIN = /^http:\/\/(?:localhost|127\.0\.0\.1)(?::\d{1,5})?$/;

/** An origin as browsers send it: scheme, host and optional port; nothing else. */
export function parseCorsOrigin(value: string, source: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${source} "${value}" is not an origin like https://app.example.com`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== value) {
    throw new Error(
      `${source} "${value}" must be just scheme, host and port, e.g. https://app.example.com:8443 (no path or trailing slash)`,
    );
  }
  return url.origin;
}

/** True when a request from `origin` may call the API. */
export function corsOriginAllowed(origin: string, extraOrigins: readonly string[]): boolean {
  return LOOPBACK_ORIGIN.test(origin) || extraOrigins.includes(origin);
}

/** Origin lists for Azurite's blob CORS rules: one per loopback pattern, then the extras. */
export function blobCorsOriginLists(extraOrigins: readonly string[]): string[][] {
  const lists: string[][] = LOOPBACK_ORIGIN_PATTERNS.map((pattern) => [pattern]);
  if (extraOrigins.length > 0) lists.push([...extraOrigins]);
  return lists;
}
