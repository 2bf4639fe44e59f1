/**
 * directdrop's client library: ask the API for a create-only upload URL, PUT the bytes
 * straight to Blob Storage, then poll the status endpoint until the upload is
 * processed, rejected or failed. No storage SDK: one PUT, with progress, cancellation
 * and retries, over the transport the runtime offers (see transport.ts).
 *
 *   const result = await upload(file, { apiBaseUrl: '/api', onProgress: (p) => show(p.percent) });
 *   result.outputs; // [{ name: 'thumb', url, width, height, ... }, ...]
 *
 * This is the entry both index.ts (browsers) and node.ts re-export; each concern has its
 * module: api.ts (requests), limits.ts, storage-put.ts, polling.ts, task.ts, batch.ts.
 */
export * from './errors.js';
export type * from './models.js';
export { contentTypeForName } from './media-types.js';
export type { PutRequest, PutResponse, PutTransport, UploadBody } from './transport.js';
export { TransportError, fetchTransport, xhrTransport } from './transport.js';
export { formatBytes, getLimits } from './limits.js';
export {
  type PageSettings,
  type PagedUploads,
  deleteUpload,
  listUploads,
  listUploadsPage,
  requestUpload,
} from './api.js';
export { getUploadStatus, waitForProcessing } from './polling.js';
export { sendToStorage } from './storage-put.js';
export { type UploadTask, type UploadTaskState, startUpload, upload } from './task.js';
export {
  type UploadItem,
  type UploadManyOptions,
  type UploadOutcome,
  uploadMany,
} from './batch.js';
