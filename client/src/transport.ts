/**
 * How the bytes travel: one PUT to the upload URL. The library retries, maps errors
 * and reports progress; a transport only sends a request and returns the answer.
 * Browsers use XMLHttpRequest (fetch has no upload progress), other runtimes fetch;
 * the Node entry streams files with node:http, and `@directdrop/client/sdk` offers
 * the storage SDK.
 */

/** Bytes in memory, or a function opening a fresh stream of them for each attempt. */
export type UploadBody = Blob | Uint8Array | (() => AsyncIterable<Uint8Array>);

export interface PutRequest {
  url: string;
  headers: Record<string, string>;
  body: UploadBody;
  /** Length of `body`, sent as Content-Length: Put Blob refuses chunked bodies. */
  size: number;
  /** The file on disk, when the source is one; transports may read it themselves. */
  path?: string;
  signal?: AbortSignal;
  onProgress?: (loadedBytes: number) => void;
}

export interface PutResponse {
  status: number;
  /** A response header by case-insensitive name, or null. */
  header(name: string): string | null;
  /** True when the transport staged blocks instead of one Put Blob (the SDK path). */
  stagedBlocks?: boolean;
}

/** Resolves with whatever HTTP answer came; rejects with a TransportError when none did. */
export type PutTransport = (request: PutRequest) => Promise<PutResponse>;

export class TransportError extends Error {
  constructor(
    message: string,
    readonly kind: 'network' | 'aborted',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TransportError';
  }
}

function inMemory(request: PutRequest): Blob | Uint8Array {
  if (typeof request.body === 'function') {
    throw new TypeError('This transport sends Blobs and bytes; a stream needs the Node entry.');
  }
  return request.body;
}

export const xhrTransport: PutTransport = (request) =>
  new Promise((resolve, reject) => {
    const body = inMemory(request);
    if (request.signal?.aborted) {
      reject(new TransportError('The upload was cancelled.', 'aborted'));
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', request.url);
    for (const [name, value] of Object.entries(request.headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => request.onProgress?.(event.loaded);
    const abort = () => xhr.abort();
    request.signal?.addEventListener('abort', abort, { once: true });
    const settle = () => request.signal?.removeEventListener('abort', abort);
    xhr.onload = () => {
      settle();
      resolve({ status: xhr.status, header: (name) => xhr.getResponseHeader(name) });
    };
    // Browsers report a refused CORS preflight as a plain network failure, too.
    xhr.onerror = () => {
      settle();
      reject(new TransportError('the request could not be sent', 'network'));
    };
    xhr.onabort = () => {
      settle();
      reject(new TransportError('The upload was cancelled.', 'aborted'));
    };
    xhr.send(body as XMLHttpRequestBodyInit);
  });

/** For runtimes without XMLHttpRequest (workers, Deno, Bun): progress only at the end. */
export const fetchTransport: PutTransport = async (request) => {
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: 'PUT',
      headers: request.headers,
      body: inMemory(request) as BodyInit,
      signal: request.signal,
    });
    await response.arrayBuffer();
  } catch (error) {
    if (request.signal?.aborted) {
      throw new TransportError('The upload was cancelled.', 'aborted', { cause: error });
    }
    const cause = (error as { cause?: { code?: string } }).cause;
    throw new TransportError(cause?.code ?? (error as Error).message, 'network', { cause: error });
  }
  request.onProgress?.(request.size);
  return { status: response.status, header: (name) => response.headers.get(name) };
};

let runtimeTransport: PutTransport | undefined;

/**
 * The Node entry installs its node:http transport here when it loads, so the functions it
 * re-exports stream files; the browser entry never imports node:http.
 */
export function setRuntimeTransport(transport: PutTransport): void {
  runtimeTransport = transport;
}

export function defaultTransport(): PutTransport {
  if (runtimeTransport) return runtimeTransport;
  return typeof XMLHttpRequest === 'undefined' ? fetchTransport : xhrTransport;
}
