/** Collects a download stream into one Buffer, refusing to hold more than `maxBytes`. */
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
