/** Calls the real handlers the way the Functions host does, with a real runtime. */
import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import { createRuntime, type Runtime } from '../../functions/adapters/runtime';

export interface LoggedLine {
  level: string;
  text: string;
}

export function invocationContext(
  functionName: string,
  log: LoggedLine[] = [],
  triggerMetadata?: Record<string, unknown>,
): InvocationContext {
  return new InvocationContext({
    functionName,
    triggerMetadata,
    invocationId: `test-${Math.random().toString(16).slice(2)}`,
    logHandler: (level, ...args) => log.push({ level, text: args.map(String).join(' ') }),
  });
}

export function runtimeFor(env: Record<string, string>): Runtime {
  return createRuntime(env);
}

export function postJson(body: string, headers: Record<string, string> = {}): HttpRequest {
  return new HttpRequest({
    method: 'POST',
    url: 'http://localhost:7071/api/uploads',
    body: { string: body },
    headers: { 'content-type': 'application/json', ...headers },
  });
}

export function getStatus(uploadId: string): HttpRequest {
  return new HttpRequest({
    method: 'GET',
    url: `http://localhost:7071/api/uploads/${uploadId}`,
    params: { uploadId },
  });
}

/** The JSON body of a handler's response. */
export function bodyOf(response: HttpResponseInit): Record<string, unknown> {
  return response.jsonBody as Record<string, unknown>;
}

/** Every field of the documented 201 of `POST /api/uploads` (README "The API"). */
export const ISSUED_UPLOAD_FIELDS = [
  'uploadId',
  'uploadUrl',
  'method',
  'headers',
  'expiresOn',
  'maxBytes',
  'statusUrl',
] as const;
