import type { HttpRequest } from '@azure/functions';

/** Collects a download stream (or a request body) into memory, refusing to hold more than `maxBytes`. */
export class BodyTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`Body exceeds ${maxBytes} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/**
 * `sizeHint` (the response's Content-Length) lets the body land in one allocation
 * instead of a list of chunks copied again at the end: half the peak memory per image.
 */
export async function readBody(
  stream: NodeJS.ReadableStream | undefined,
  maxBytes: number,
  sizeHint = 0,
): Promise<Buffer> {
  let buffer = Buffer.allocUnsafe(Math.min(Math.max(sizeHint, 0), maxBytes));
  let length = 0;
  if (!stream) return buffer.subarray(0, 0);
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    const needed = length + bytes.length;
    if (needed > maxBytes) {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      throw new BodyTooLargeError(maxBytes);
    }
    if (needed > buffer.length) {
      const grown = Buffer.allocUnsafe(Math.min(Math.max(needed, buffer.length * 2), maxBytes));
      buffer.copy(grown, 0, 0, length);
      buffer = grown;
    }
    bytes.copy(buffer, length);
    length = needed;
  }
  return buffer.subarray(0, length);
}

/**
 * A request body as UTF-8 text, read from its stream and abandoned as soon as it passes
 * `maxBytes` (BodyTooLargeError), so a chunked body of any length costs at most the limit.
 * The stream is let go rather than cancelled: cancelling would destroy the connection the
 * answer still has to travel on; the host discards what is left.
 */
export async function readRequestText(
  request: Pick<HttpRequest, 'body'>,
  maxBytes: number,
): Promise<string> {
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    for (;;) {
      const { done, value } = (await reader.read()) as ReadableStreamReadResult<Uint8Array>;
      if (done) break;
      length += value.byteLength;
      if (length > maxBytes) throw new BodyTooLargeError(maxBytes);
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(chunks).toString('utf8');
}
