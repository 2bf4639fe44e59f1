/**
 * `@directdrop/client/sdk`: the PUT through `@azure/storage-blob`'s BlockBlobClient,
 * for Node users who want the SDK (its pipeline, or parallel blocks for big files).
 *
 *   import { upload } from '@directdrop/client';
 *   import { sdkTransport } from '@directdrop/client/sdk';
 *   await upload(file, { apiBaseUrl, transport: sdkTransport() });
 *
 * Files above `singleShotMaxBytes` go as staged blocks, which a create-only SAS
 * allows in Azure from service version 2026-04-06 and Azurite does not allow at all;
 * such a refusal is `block-upload-forbidden`, not retryable.
 */
import {
  AnonymousCredential,
  BlockBlobClient,
  type BlockBlobParallelUploadOptions,
  RestError,
  newPipeline,
} from '@azure/storage-blob';
import { type PutRequest, type PutTransport, TransportError } from './transport.js';

/** Largest single Put Blob the SDK sends by default (the service takes up to 5000 MiB). */
export const MAX_SINGLE_SHOT_BYTES = 256 * 1024 * 1024;

export interface SdkTransportOptions {
  /** Files up to this size go as one Put Blob. Default 256 MiB. */
  singleShotMaxBytes?: number;
  /** Block size and parallel block count above `singleShotMaxBytes`. */
  blockSize?: number;
  concurrency?: number;
}

async function collect(body: () => AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body()) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function send(
  client: BlockBlobClient,
  request: PutRequest,
  options: BlockBlobParallelUploadOptions,
): Promise<unknown> {
  if (request.path && 'uploadFile' in client) return client.uploadFile(request.path, options);
  const { body } = request;
  if (typeof body === 'function') return client.uploadData(await collect(body), options);
  // The SDK's Node build takes bytes, not Blobs.
  return client.uploadData(body instanceof Uint8Array ? body : await body.arrayBuffer(), options);
}

export function sdkTransport(options: SdkTransportOptions = {}): PutTransport {
  const singleShotMaxBytes = options.singleShotMaxBytes ?? MAX_SINGLE_SHOT_BYTES;
  // One try per call: the library's own loop retries, with Retry-After and backoff.
  const pipeline = newPipeline(new AnonymousCredential(), { retryOptions: { maxTries: 1 } });
  return async (request) => {
    const stagedBlocks = request.size > singleShotMaxBytes;
    const client = new BlockBlobClient(request.url, pipeline);
    try {
      await send(client, request, {
        abortSignal: request.signal,
        blobHTTPHeaders: { blobContentType: request.headers['Content-Type'] },
        conditions: request.headers['If-None-Match'] ? { ifNoneMatch: '*' } : undefined,
        maxSingleShotSize: singleShotMaxBytes,
        blockSize: options.blockSize,
        concurrency: options.concurrency,
        onProgress: (progress) => request.onProgress?.(progress.loadedBytes),
      });
      return { status: 201, header: () => null, stagedBlocks };
    } catch (error) {
      if (request.signal?.aborted || (error as Error)?.name === 'AbortError') {
        throw new TransportError('The upload was cancelled.', 'aborted', { cause: error });
      }
      if (!(error instanceof RestError) || error.statusCode === undefined) {
        const code = (error as RestError).code ?? (error as Error).message;
        throw new TransportError(String(code), 'network', { cause: error });
      }
      const restError = error;
      return {
        status: restError.statusCode!,
        header: (name) =>
          name.toLowerCase() === 'x-ms-error-code'
            ? (restError.code ?? null)
            : (restError.response?.headers.get(name) ?? null),
        stagedBlocks,
      };
    }
  };
}
