/**
 * The server's rules (`GET /limits`) and the checks made against them before any request,
 * so a file the server would refuse is refused at once, with the server's numbers.
 */
import { throwIfAborted } from './abort.js';
import { DirectdropError } from './errors.js';
import { apiUrl, apiError, callApi, invalidResponse } from './http.js';
import type { ApiOptions, UploadLimits, UploadOptions, UploadSource } from './models.js';

/** The server's upload rules (`GET /limits`): max bytes, accepted types, variants, URL lifetimes. */
export async function getLimits(options: ApiOptions): Promise<UploadLimits> {
  const url = apiUrl(options, 'limits');
  const response = await callApi(url, { method: 'GET' }, options, 'validate');
  if (response.status !== 200) throw apiError(response, 'validate', `GET ${url.pathname}`);
  const limits = response.body as Partial<UploadLimits> | undefined;
  if (typeof limits?.maxBytes !== 'number' || !Array.isArray(limits.allowedContentTypes)) {
    throw invalidResponse('validate', `GET ${url.pathname}`);
  }
  return limits as UploadLimits;
}

const LIMITS_CACHE_MS = 60_000;
const limitsCache = new Map<string, { at: number; limits: Promise<UploadLimits | undefined> }>();

/**
 * The server's limits, or undefined when it does not say (an older API): it still enforces
 * them. Shared by every upload to one API, so no one caller's signal may cancel the request.
 */
async function cachedLimits(options: ApiOptions): Promise<UploadLimits | undefined> {
  const key = apiUrl(options, 'limits').href;
  let cached = limitsCache.get(key);
  if (!cached || Date.now() - cached.at >= LIMITS_CACHE_MS) {
    const limits = getLimits({ ...options, signal: undefined }).catch(() => {
      limitsCache.delete(key);
      return undefined;
    });
    limitsCache.set(key, (cached = { at: Date.now(), limits }));
  }
  const limits = await cached.limits;
  throwIfAborted(options.signal, 'validate');
  return limits;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

const utf8Bytes = (text: string) => new TextEncoder().encode(text).byteLength;

/** The metadata's shape always; its limits when the server states them. */
function metadataProblem(
  metadata: unknown,
  limits: UploadLimits['metadata'] | undefined,
): string | undefined {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    return 'metadata must be an object of string values.';
  }
  const entries = Object.entries(metadata as Record<string, unknown>);
  for (const [key, value] of entries) {
    if (typeof value !== 'string') return `metadata.${key} must be a string.`;
  }
  if (!limits) return undefined;
  if (entries.length > limits.maxEntries) {
    return `metadata has ${entries.length} entries; at most ${limits.maxEntries} are allowed.`;
  }
  const pattern = new RegExp(limits.keyPattern);
  const badKey = entries.find(([key]) => !pattern.test(key));
  if (badKey) return `metadata.${badKey[0]}: keys must match ${limits.keyPattern}.`;
  const bytes = entries.reduce(
    (sum, [key, value]) => sum + utf8Bytes(key) + utf8Bytes(value as string),
    0,
  );
  if (bytes > limits.maxBytes) {
    return `metadata is ${bytes} bytes of UTF-8 in all; at most ${limits.maxBytes} are allowed.`;
  }
  return undefined;
}

export async function validateLocally(
  source: UploadSource,
  contentType: string,
  options: UploadOptions,
): Promise<void> {
  const fail = (
    code:
      | 'invalid-file-name'
      | 'invalid-size'
      | 'file-too-large'
      | 'content-type-not-allowed'
      | 'invalid-metadata',
    message: string,
  ) => {
    throw new DirectdropError({ code, stage: 'validate', message });
  };
  if (source.name.trim() === '') fail('invalid-file-name', 'The file needs a name.');
  if (source.size <= 0) fail('invalid-size', `${source.name} is empty.`);
  const limits = options.limits ?? (await cachedLimits(options));
  if (options.metadata !== undefined) {
    const problem = metadataProblem(options.metadata, limits?.metadata);
    if (problem) fail('invalid-metadata', problem);
  }
  if (!limits) return;
  if (source.size > limits.maxBytes) {
    fail(
      'file-too-large',
      `${source.name} is ${formatBytes(source.size)}; the limit is ${formatBytes(limits.maxBytes)}.`,
    );
  }
  if (!limits.allowedContentTypes.includes(contentType)) {
    fail(
      'content-type-not-allowed',
      `${source.name} is ${contentType}; accepted types are ${limits.allowedContentTypes.join(', ')}.`,
    );
  }
}
