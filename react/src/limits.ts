/**
 * The server's upload rules (`GET /api/limits`) as React state, and in words, so a page
 * states the limits the server applies instead of constants of its own.
 */
import { useEffect, useRef, useState } from 'react';
import {
  type ApiOptions,
  type DirectdropError,
  type UploadLimits,
  formatBytes,
  getLimits,
  isDirectdropError,
} from '@directdrop/client';

export interface UseLimitsResult {
  /** The server's rules once known (or `known` when given). */
  limits?: UploadLimits;
  /** Why they could not be read; uploads still work, and the server still enforces them. */
  error?: DirectdropError;
}

/**
 * Reads `GET <apiBaseUrl>/limits` after mounting (never on the server), again when
 * `apiBaseUrl` changes. With `known` (limits read elsewhere, e.g. while rendering on the
 * server) it makes no request.
 */
export function useLimits(options: ApiOptions, known?: UploadLimits): UseLimitsResult {
  const [fetched, setFetched] = useState<UseLimitsResult & { from?: string }>({});
  const latestOptions = useRef(options);
  const apiBaseUrl = String(options.apiBaseUrl);
  const skip = known !== undefined;

  useEffect(() => {
    latestOptions.current = options;
  });
  useEffect(() => {
    if (skip) return;
    const controller = new AbortController();
    getLimits({ ...latestOptions.current, signal: controller.signal }).then(
      (limits) => setFetched({ limits, from: apiBaseUrl }),
      (error: unknown) => {
        if (controller.signal.aborted || !isDirectdropError(error)) return;
        setFetched({ error, from: apiBaseUrl });
      },
    );
    return () => controller.abort();
  }, [apiBaseUrl, skip]);

  if (known) return { limits: known };
  // Until the new API answers, the old API's rules are not this one's.
  return fetched.from === apiBaseUrl ? { limits: fetched.limits, error: fetched.error } : {};
}

const FORMAT_NAMES: Readonly<Record<string, string>> = { 'image/webp': 'WebP' };

/** `image/jpeg` → `JPEG`, `image/webp` → `WebP`: what people call the formats. */
export function formatName(contentType: string): string {
  return FORMAT_NAMES[contentType] ?? contentType.replace(/^[a-z]+\//, '').toUpperCase();
}

/** `JPEG, PNG or WebP` */
export function listFormats(contentTypes: readonly string[]): string {
  const names = contentTypes.map(formatName);
  return names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : names[0];
}

/** `JPEG, PNG or WebP, up to 25.0 MiB each.` */
export function describeLimits(limits: Pick<UploadLimits, 'maxBytes' | 'allowedContentTypes'>) {
  return `${listFormats(limits.allowedContentTypes)}, up to ${formatBytes(limits.maxBytes)} each.`;
}
