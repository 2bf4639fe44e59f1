/** `GET /api/limits`: the upload rules, from the app's settings. */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { uploadLimits } from '../core/limits';
import { type Runtime, getRuntime } from '../adapters/runtime';
import { jsonResponse } from './http-responses';

/** Settings change only with a restart; a minute of caching spares repeat requests. */
const LIMITS_CACHE_CONTROL = 'public, max-age=60';

export function getLimitsHandler(runtime: () => Pick<Runtime, 'settings'>) {
  return async function getLimits(
    _request: HttpRequest,
    _context: InvocationContext,
  ): Promise<HttpResponseInit> {
    return jsonResponse(200, uploadLimits(runtime().settings), {
      'Cache-Control': LIMITS_CACHE_CONTROL,
    });
  };
}

export const getLimits = getLimitsHandler(getRuntime);
