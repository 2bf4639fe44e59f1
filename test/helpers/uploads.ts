/** Uploads as a client makes them: a URL from the real createUpload handler, then a plain PUT. */
import { expect } from 'chai';
import type { ContainerClient } from '@azure/storage-blob';
import { readManifest } from '../../functions/adapters/manifest-store';
import { TOMBSTONE_CONTENT_TYPE, TOMBSTONE_METADATA_KEY } from '../../functions/core/definitions';
import type { createUploadHandler } from '../../functions/handlers/create-upload';
import { bodyOf, invocationContext, postJson } from './functions';

export interface UploadOptions {
  fileName?: string;
  contentType?: string;
  /** The size claimed in POST /api/uploads; the true length unless a test lies on purpose. */
  declaredSize?: number;
  /** Headers the client adds to its PUT beyond those the API asked for. */
  extraHeaders?: Record<string, string>;
  /** The app's metadata, sent with POST /api/uploads. */
  metadata?: Record<string, string>;
}

export async function issueAndPut(
  createUpload: ReturnType<typeof createUploadHandler>,
  bytes: Buffer,
  {
    fileName = 'photo.jpg',
    contentType = 'image/jpeg',
    declaredSize,
    extraHeaders,
    metadata,
  }: UploadOptions = {},
): Promise<{
  uploadId: string;
  blobName: string;
  uploadUrl: string;
  headers: Record<string, string>;
}> {
  const response = await createUpload(
    postJson(
      JSON.stringify({ fileName, contentType, size: declaredSize ?? bytes.length, metadata }),
    ),
    invocationContext('createUpload'),
  );
  const issued = bodyOf(response);
  expect(response.status, JSON.stringify(issued)).to.equal(201);
  const uploadUrl = issued.uploadUrl as string;
  const put = await fetch(uploadUrl, {
    method: 'PUT',
    headers: { ...(issued.headers as Record<string, string>), ...extraHeaders },
    body: new Uint8Array(bytes),
  });
  expect(put.status).to.equal(201);
  // The URL path is /<account>/<container>/<blob name>: the name the server chose.
  const path = new URL(uploadUrl).pathname.split('/').slice(3).join('/');
  return {
    uploadId: issued.uploadId as string,
    blobName: decodeURIComponent(path),
    uploadUrl,
    headers: issued.headers as Record<string, string>,
  };
}

/** Everything an upload has in the processed container: manifest, folder pointer and output folder. */
export async function processedBlobsOf(
  processed: ContainerClient,
  uploadId: string,
): Promise<string[]> {
  const manifest = (await readManifest(processed, uploadId))?.manifest;
  const prefixes = [`${uploadId}/`];
  if (manifest?.status === 'processed') prefixes.push(`${manifest.outputPrefix}/`);
  const names: string[] = [];
  for (const prefix of prefixes)
    for await (const blob of processed.listBlobsFlat({ prefix })) names.push(blob.name);
  return names.sort();
}

/**
 * What the container holds under one blob name, snapshots included: `tombstone` for the
 * worker's tombstone, `blob` for anything else, `snapshot` for each snapshot.
 */
export async function blobsNamed(container: ContainerClient, blobName: string): Promise<string[]> {
  const found: string[] = [];
  for await (const item of container.listBlobsFlat({
    prefix: blobName,
    includeSnapshots: true,
    includeMetadata: true,
  })) {
    if (item.name !== blobName) continue;
    if (item.snapshot) found.push('snapshot');
    else
      found.push(
        item.properties.contentType === TOMBSTONE_CONTENT_TYPE &&
          item.metadata?.[TOMBSTONE_METADATA_KEY] !== undefined &&
          item.properties.contentLength === 0
          ? 'tombstone'
          : 'blob',
      );
  }
  return found;
}

/** Crashes the worker right after its manifest: every tombstone write through `container` fails. */
export function failingTombstones(container: ContainerClient): ContainerClient {
  return new Proxy(container, {
    get: (target, property) =>
      property === 'getBlockBlobClient'
        ? () => ({ upload: () => Promise.reject(new Error('host crashed')) })
        : Reflect.get(target, property, target),
  });
}
