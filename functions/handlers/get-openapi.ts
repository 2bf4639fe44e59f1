/** `GET /api/openapi.json`: the API's OpenAPI 3.1 contract. */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { OPENAPI_DOCUMENT } from '../core/openapi';
import { jsonResponse } from './http-responses';

export async function getOpenApiDocument(
  _request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  return jsonResponse(200, OPENAPI_DOCUMENT, { 'Cache-Control': 'public, max-age=300' });
}
