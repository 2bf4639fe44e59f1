/** Uploads as a client makes them: a URL from the real createUpload handler, then a plain PUT. */
import { expect } from 'chai';
import type { ContainerClient } from '@azure/storage-blob';
import { readManifest } from '../../functions/adapters/manifest-store';
import type { Runtime } from '../../functions/adapters/runtime';
import { parseLandingBlobName } from '../../functions/core/upload-request';
import type { createUploadHandler } from '../../functions/handlers/create-upload';
import { bodyOf, invocationContext, postJson } from './functions';

export interface UploadOptions {
  fileName?: string;
  contentType?: string;
  /** The size claimed in POST /api/uploads; the true length unless a test lies on purpose. */
  declaredSize?: number;
}

export async function issueAndPut(
  createUpload: ReturnType<typeof createUploadHandler>,
  bytes: Buffer,
  { fileName = 'photo.jpg', contentType = 'image/jpeg', declaredSize }: UploadOptions = {},
): Promise<{ uploadId: string; blobName: string }> {
  const response = await createUpload(
    postJson(JSON.stringify({ fileName, contentType, size: declaredSize ?? bytes.length })),
    invocationContext('createUpload'),
  );
  const issued = bodyOf(response);
  expect(response.status, JSON.stringify(issued)).to.equal(201);
  const uploadUrl = issued.uploadUrl as string;
  const put = await fetch(uploadUrl, {
    method: 'PUT',
    headers: issued.headers as Record<string, string>,
    body: new Uint8Array(bytes),
  });
  expect(put.status).to.equal(201);
  // The URL path is /<account>/<container>/<blob name>: the name the server chose.
  const path = new URL(uploadUrl).pathname.split('/').slice(3).join('/');
  return { uploadId: issued.uploadId as string, blobName: decodeURIComponent(path) };
}

/** Everything an upload has in the processed container: its manifest and its output folder. */
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
 * The record createUpload would have written for a blob a test lands by itself, so the
 * status endpoint knows the upload (it answers from records only).
 */
export async function recordIssued(runtime: Runtime, blobName: string): Promise<void> {
  const landing = parseLandingBlobName(blobName);
  if (!landing) throw new Error(`${blobName} is not a landing blob name`);
  const issuedAt = new Date();
  const urlExpiresAtMs = issuedAt.getTime() + runtime.settings.uploadUrlTtlSeconds * 1000;
  const decision = await runtime.uploads.issue(
    {
      uploadId: landing.uploadId,
      owner: landing.owner,
      status: 'issued',
      issuedAt: issuedAt.toISOString(),
      urlExpiresAt: new Date(urlExpiresAtMs).toISOString(),
      container: runtime.settings.landingContainer,
      blobName,
      fileName: landing.fileName,
      contentType: 'image/jpeg',
      size: landing.declaredSize,
      metadata: {},
      caller: { kind: 'functionKey', keyName: 'none' },
    },
    { uploadId: landing.uploadId, size: landing.declaredSize, urlExpiresAtMs },
  );
  expect(decision.ok, 'quota for the test upload').to.equal(true);
}
