/**
 * An XMLHttpRequest transport for the storage SDK in browsers. The SDK's default
 * fetch transport reports upload progress once, when the request has finished
 * (fetch has no upload progress events; Azure/azure-sdk-for-js#32404), so a 25 MiB
 * single-shot upload would sit at 0 % until done. XHR reports bytes as they leave.
 * Everything else (headers, retries, errors) stays the SDK's.
 */
import {
  RestError,
  type HttpHeaders,
  type HttpOperationResponse,
  type IHttpClient,
  type WebResource,
} from '@azure/storage-blob';

/** Response headers in the shape the SDK's compatibility layer reads. */
class ResponseHeaders implements HttpHeaders {
  private readonly entries = new Map<string, { name: string; value: string }>();

  set(name: string, value: string | number): void {
    this.entries.set(name.toLowerCase(), { name, value: String(value) });
  }
  get(name: string): string | undefined {
    return this.entries.get(name.toLowerCase())?.value;
  }
  contains(name: string): boolean {
    return this.entries.has(name.toLowerCase());
  }
  remove(name: string): boolean {
    return this.entries.delete(name.toLowerCase());
  }
  rawHeaders(): Record<string, string> {
    return this.toJson();
  }
  headersArray(): { name: string; value: string }[] {
    return [...this.entries.values()];
  }
  headerNames(): string[] {
    return this.headersArray().map((h) => h.name);
  }
  headerValues(): string[] {
    return this.headersArray().map((h) => h.value);
  }
  clone(): ResponseHeaders {
    const copy = new ResponseHeaders();
    for (const { name, value } of this.headersArray()) copy.set(name, value);
    return copy;
  }
  toJson(options: { preserveCase?: boolean } = {}): Record<string, string> {
    const json: Record<string, string> = {};
    for (const [key, { name, value }] of this.entries)
      json[options.preserveCase ? name : key] = value;
    return json;
  }
}

function parseResponseHeaders(raw: string): ResponseHeaders {
  const headers = new ResponseHeaders();
  for (const line of raw.trim().split(/[\r\n]+/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return headers;
}

/**
 * The SDK's telemetry header. Blob CORS rules list allowed request headers, and a
 * header outside the list fails the preflight; browsers send User-Agent anyway.
 */
const SDK_TELEMETRY_HEADER = 'x-ms-useragent';

function abortError(): Error {
  // The SDK's retry policy and our error mapping recognise aborts by this name.
  const error = new Error('The operation was aborted.');
  error.name = 'AbortError';
  return error;
}

export const xhrHttpClient: IHttpClient = {
  sendRequest(request: WebResource): Promise<HttpOperationResponse> {
    return new Promise((resolve, reject) => {
      if (request.abortSignal?.aborted) {
        reject(abortError());
        return;
      }
      const xhr = new XMLHttpRequest();
      xhr.open(request.method, request.url);
      xhr.withCredentials = request.withCredentials;
      xhr.timeout = request.timeout;
      xhr.responseType = 'text';
      for (const { name, value } of request.headers.headersArray()) {
        if (name.toLowerCase() !== SDK_TELEMETRY_HEADER) xhr.setRequestHeader(name, value);
      }

      const onUploadProgress = request.onUploadProgress;
      if (onUploadProgress) {
        xhr.upload.onprogress = (event) => onUploadProgress({ loadedBytes: event.loaded });
      }
      const abort = () => xhr.abort();
      request.abortSignal?.addEventListener('abort', abort);
      const settle = () => request.abortSignal?.removeEventListener('abort', abort);

      xhr.onload = () => {
        settle();
        resolve({
          request,
          status: xhr.status,
          headers: parseResponseHeaders(xhr.getAllResponseHeaders()),
          bodyAsText: xhr.responseText,
        });
      };
      // The SDK retries RestErrors whose code names a network failure.
      xhr.onerror = () => {
        settle();
        reject(
          new RestError('The request could not be sent.', { code: RestError.REQUEST_SEND_ERROR }),
        );
      };
      xhr.ontimeout = () => {
        settle();
        reject(new RestError('The request timed out.', { code: 'TIMEOUT' }));
      };
      xhr.onabort = () => {
        settle();
        reject(abortError());
      };

      // Our browser uploads only send Blob slices (uploadData); no stream bodies occur.
      xhr.send((request.body as XMLHttpRequestBodyInit | null | undefined) ?? null);
    });
  },
};
