/**
 * The application's own metadata on an upload (`POST /api/uploads` `metadata`): a few
 * string pairs, such as the `postId` the upload belongs to, stored with the record when the
 * URL is issued and carried unchanged into the status answer and every event. It is the
 * caller's claim: a backend authorizes it against its own data before acting on it.
 */

export const METADATA_LIMITS = {
  maxEntries: 16,
  /** Keys and values together, UTF-8. */
  maxBytes: 2048,
  keyPattern: '^[a-zA-Z][a-zA-Z0-9_.-]{0,63}$',
} as const;

const KEY = new RegExp(METADATA_LIMITS.keyPattern);
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export type ValidatedMetadata =
  { ok: true; value: Record<string, string> } | { ok: false; field: string; message: string };

/** A key as an error message may show it: quoted, control characters escaped, cut short. */
function shown(key: string): string {
  return JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key);
}

function refuse(field: string, message: string): ValidatedMetadata {
  return { ok: false, field, message: `${field}: ${message}` };
}

/** Checks `metadata` as it came in the JSON body; every refusal names the field and the limit. */
export function validateMetadata(value: unknown): ValidatedMetadata {
  if (value === undefined) return { ok: true, value: {} };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return refuse('metadata', 'must be an object of string values, e.g. {"postId": "42"}.');
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > METADATA_LIMITS.maxEntries) {
    return refuse('metadata', `must have at most ${METADATA_LIMITS.maxEntries} entries.`);
  }
  let bytes = 0;
  for (const [key, item] of entries) {
    if (!KEY.test(key)) {
      return refuse(
        `metadata.${shown(key)}`,
        `keys must match ${METADATA_LIMITS.keyPattern} (a letter, then up to 63 letters, digits, _ . -).`,
      );
    }
    const field = `metadata.${key}`;
    if (typeof item !== 'string') return refuse(field, 'must be a string.');
    // A lone surrogate has no UTF-8 form: it could not be stored or sent on unchanged.
    if (LONE_SURROGATE.test(item)) return refuse(field, 'must be well-formed Unicode.');
    bytes += Buffer.byteLength(key, 'utf8') + Buffer.byteLength(item, 'utf8');
  }
  if (bytes > METADATA_LIMITS.maxBytes) {
    return refuse(
      'metadata',
      `keys and values together must be at most ${METADATA_LIMITS.maxBytes} bytes of UTF-8 (these are ${bytes}).`,
    );
  }
  return { ok: true, value: Object.fromEntries(entries) as Record<string, string> };
}
