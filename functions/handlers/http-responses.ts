import type { HttpResponseInit } from '@azure/functions';

const NO_STORE = { 'Cache-Control': 'no-store' };

export function jsonResponse(status: number, body: unknown): HttpResponseInit {
  return { status, jsonBody: body, headers: NO_STORE };
}

/** The one error shape every endpoint uses: `{ error: { code, message } }`. */
export function errorResponse(status: number, code: string, message: string): HttpResponseInit {
  return jsonResponse(status, { error: { code, message } });
}
