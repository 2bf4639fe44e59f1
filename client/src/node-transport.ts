/**
 * The PUT over node:http(s), streaming the body with a Content-Length (Put Blob refuses
 * chunked bodies) and reporting progress as chunks are handed to the socket.
 */
import { once } from 'node:events';
import { type IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { type PutRequest, type PutTransport, TransportError } from './transport.js';

const CHUNK_BYTES = 64 * 1024;

async function* chunksOf(request: PutRequest): AsyncIterable<Uint8Array> {
  const { body } = request;
  if (typeof body === 'function') {
    yield* body();
  } else if (body instanceof Uint8Array) {
    for (let offset = 0; offset < body.byteLength; offset += CHUNK_BYTES) {
      yield body.subarray(offset, offset + CHUNK_BYTES);
    }
  } else {
    yield* body.stream() as unknown as AsyncIterable<Uint8Array>;
  }
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name.toLowerCase()];
  return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
}

export const nodeTransport: PutTransport = (request) =>
  new Promise((resolve, reject) => {
    const url = new URL(request.url);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, {
      method: 'PUT',
      headers: { ...request.headers, 'content-length': String(request.size) },
      signal: request.signal,
    });
    req.once('response', (response) => {
      response.resume();
      response.once('end', () => {
        resolve({
          status: response.statusCode ?? 0,
          header: (name) => headerValue(response.headers, name),
        });
        // Storage may answer (a 503, a 403) before the body is through; stop sending it.
        if (!req.writableFinished) req.destroy();
      });
    });
    req.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        request.signal?.aborted
          ? new TransportError('The upload was cancelled.', 'aborted', { cause: error })
          : new TransportError(error.code ?? error.message, 'network', { cause: error }),
      );
    });
    (async () => {
      let loaded = 0;
      for await (const chunk of chunksOf(request)) {
        if (!req.write(chunk)) await once(req, 'drain');
        loaded += chunk.byteLength;
        request.onProgress?.(loaded);
      }
      req.end();
    })().catch((error: unknown) => req.destroy(error as Error));
  });
