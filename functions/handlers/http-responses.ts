import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { describeStorageError, isStorageUnavailable } from '../adapters/storage-errors';

const NO_STORE = { 'Cache-Control': 'no-store' };

/**
 * Headers pages on other origins may read. App Service's CORS setting (siteConfig.cors:
 * allowedOrigins and supportCredentials only; learn.microsoft.com/javascript/api/
 * @azure-rest/arm-appservice/corssettingsoutput) cannot list exposed headers, so every API
 * response names them itself, with any other header it carries (WWW-Authenticate).
 */
export const EXPOSED_HEADERS = [
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
  'Retry-After',
];

export function jsonResponse(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): HttpResponseInit {
  const expose = [...new Set([...EXPOSED_HEADERS, ...Object.keys(headers)])].join(', ');
  return {
    status,
    jsonBody: body,
    headers: { ...NO_STORE, ...headers, 'Access-Control-Expose-Headers': expose },
  };
}

/** The one error shape every endpoint uses: `{ error: { code, message } }`. */
export function errorResponse(
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): HttpResponseInit {
  return jsonResponse(status, { error: { code, message } }, headers);
}

/** Our HTTP handlers: always a plain response object, never the SDK's HttpResponse class. */
export type JsonHttpHandler = (
  request: HttpRequest,
  context: InvocationContext,
) => Promise<HttpResponseInit>;

/** Seconds a client should wait before retrying when storage is briefly unavailable. */
export const STORAGE_RETRY_AFTER_SECONDS = 2;

/**
 * Storage trouble (unreachable, throttled, 5xx) answers 503 with Retry-After and the usual
 * error body, rather than the host's bare 500: nothing is wrong with the request, and the
 * client retries by itself. Any other error still propagates.
 */
export function answeringStorageOutages(handler: JsonHttpHandler): JsonHttpHandler {
  return async (request, context) => {
    try {
      return await handler(request, context);
    } catch (error) {
      if (!isStorageUnavailable(error)) throw error;
      context.warn(`Storage unavailable (${describeStorageError(error)}); answered 503`);
      return errorResponse(
        503,
        'storage-unavailable',
        'Storage is briefly unavailable; retry in a few seconds.',
        { 'Retry-After': String(STORAGE_RETRY_AFTER_SECONDS) },
      );
    }
  };
}
