/**
 * A real HTTP server standing in for the directdrop API in client tests: each test
 * scripts its answers, while upload tickets carry real create-only SAS URLs for Azurite.
 */
import { randomUUID } from 'node:crypto';
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import {
  BlobSASPermissions,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
} from '@azure/storage-blob';
import { DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME } from '../../local/azurite';
import { STORAGE_NAMES } from '../../functions/core/definitions';
import { type AzuriteSandbox, freePort } from '../../local/azurite-sandbox';
import type { UploadTicket } from '../../client/src/node';
import { uploadLimits } from '../../functions/core/limits';
import { DEFAULT_SETTINGS } from '../../functions/core/settings';

export interface Recorded {
  method: string;
  path: string;
  /** The query, with its `?`, or ''. */
  search: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}
export interface Reply {
  status: number;
  json?: unknown;
  text?: string;
  headers?: Record<string, string>;
}

/** A real HTTP server standing in for the API; each test scripts its answers. */
export class ScriptedApi {
  readonly requests: Recorded[] = [];
  /** Answers to POST /api/uploads; the default issues a real create-only SAS. */
  onCreate: (body: { fileName: string; contentType: string }) => Reply = (body) =>
    this.issue(body.fileName, body.contentType);
  /** Answers to GET /api/uploads/{id}, used in turn; the last one repeats. */
  statusReplies: Reply[] = [];
  /** Per-upload answers to GET /api/uploads/{id}; when set, wins over statusReplies. */
  onStatus?: (uploadId: string) => Reply;
  /** Answers to GET /api/uploads (the caller's list), given the query. */
  onList: (query: URLSearchParams) => Reply = () => ({ status: 200, json: { uploads: [] } });
  /** Answers to DELETE /api/uploads/{id}. */
  onDelete: (uploadId: string) => Reply = () => ({ status: 204 });
  /** The answer to GET /api/limits, by default the real server's for the default settings. */
  limits: Reply = { status: 200, json: uploadLimits(DEFAULT_SETTINGS) };
  /** GET /api/limits requests, kept out of `requests`: clients cache the answer a minute. */
  limitsRequests = 0;
  private server?: Server;
  baseUrl = '';

  constructor(private readonly storage: AzuriteSandbox) {}

  async start(): Promise<void> {
    const port = await freePort();
    this.baseUrl = `http://127.0.0.1:${port}/api`;
    this.server = createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      const url = new URL(req.url ?? '/', this.baseUrl);
      const path = url.pathname;
      if (req.method === 'GET' && path === '/api/limits') {
        this.limitsRequests++;
        res.writeHead(this.limits.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(this.limits.json));
        return;
      }
      this.requests.push({
        method: req.method ?? '',
        path,
        search: url.search,
        headers: req.headers,
        body,
        at: Date.now(),
      });
      const id = path.startsWith('/api/uploads/') ? path.slice('/api/uploads/'.length) : undefined;
      const reply =
        req.method === 'POST' && path === '/api/uploads'
          ? this.onCreate(JSON.parse(body))
          : req.method === 'GET' && path === '/api/uploads'
            ? this.onList(url.searchParams)
            : req.method === 'DELETE' && id !== undefined
              ? this.onDelete(id)
              : id !== undefined
                ? this.statusReply(id)
                : { status: 404, text: '<html>Not found</html>' };
      res.writeHead(reply.status, {
        'content-type': reply.json === undefined ? 'text/html' : 'application/json',
        ...reply.headers,
      });
      res.end(reply.json === undefined ? (reply.text ?? '') : JSON.stringify(reply.json));
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
  }

  private statusReply(uploadId: string): Reply {
    if (this.onStatus) return this.onStatus(uploadId);
    const next = this.statusReplies.length > 1 ? this.statusReplies.shift() : this.statusReplies[0];
    return next ?? { status: 500 };
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  reset(): void {
    this.requests.length = 0;
    this.statusReplies = [];
    this.onStatus = undefined;
    this.onCreate = (body) => this.issue(body.fileName, body.contentType);
    this.onList = () => ({ status: 200, json: { uploads: [] } });
    this.onDelete = () => ({ status: 204 });
  }

  /** A ticket like the real API's: create-only SAS for `<uploadId>/<fileName>`. */
  issue(fileName: string, contentType: string, permissions = 'c'): Reply {
    const uploadId = randomUUID();
    return { status: 201, json: this.ticket(uploadId, fileName, contentType, permissions) };
  }

  ticket(
    uploadId: string,
    fileName: string,
    contentType: string,
    permissions = 'c',
    expiresInMs = 10 * 60_000,
  ): UploadTicket {
    const container = STORAGE_NAMES.landingContainer;
    const blobName = `${uploadId}/${fileName}`;
    const expiresOn = new Date(Date.now() + expiresInMs);
    const sas = generateBlobSASQueryParameters(
      {
        containerName: container,
        blobName,
        permissions: BlobSASPermissions.parse(permissions),
        expiresOn,
      },
      new StorageSharedKeyCredential(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY),
    ).toString();
    return {
      uploadId,
      uploadUrl: `${this.storage.azurite.blobEndpoint}/${container}/${blobName}?${sas}`,
      method: 'PUT',
      headers: { 'x-ms-blob-type': 'BlockBlob', 'Content-Type': contentType },
      expiresOn: expiresOn.toISOString(),
      maxBytes: 25 * 1024 * 1024,
      statusUrl: `${this.baseUrl}/uploads/${uploadId}`,
    };
  }
}

export const processed = (uploadId: string): Reply => ({
  status: 200,
  json: {
    uploadId,
    status: 'processed',
    outputs: [
      {
        name: 'thumb',
        width: 320,
        height: 240,
        contentType: 'image/webp',
        size: 1000,
        url: 'http://x/t',
      },
    ],
  },
});
