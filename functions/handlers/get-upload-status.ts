/** `GET /api/uploads/{uploadId}`: what became of an upload, with read URLs for its outputs. */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { quotedETag } from '../core/blob-events';
import { PENDING_DEADLINE_MS } from '../core/definitions';
import { readSasPolicy } from '../core/sas-policy';
import { isUploadId, landingPrefix } from '../core/upload-request';
import { readManifest } from '../adapters/manifest-store';
import { readVerdict } from '../adapters/scan-gate-store';
import { type Runtime, getRuntime } from '../adapters/runtime';
import { identifyCaller } from './caller';
import { answeringStorageOutages, errorResponse, jsonResponse } from './http-responses';

export function getUploadStatusHandler(runtime: () => Runtime) {
  return answeringStorageOutages(async function getUploadStatus(
    request: HttpRequest,
    context: InvocationContext,
  ): Promise<HttpResponseInit> {
    const rt = runtime();
    const { settings, landing, processed, signer } = rt;
    const identified = await identifyCaller(request, rt, context);
    if (!identified.ok) return identified.response;
    const { owner } = identified.caller;
    const uploadId = (request.params.uploadId ?? '').toLowerCase();
    if (!isUploadId(uploadId)) {
      return errorResponse(
        400,
        'invalid-upload-id',
        'uploadId must be the UUID returned by POST /api/uploads.',
      );
    }

    const notFound = () =>
      errorResponse(404, 'upload-not-found', 'No upload with this id has been received.');
    const stored = await readManifest(processed, uploadId);
    // Another caller's upload is indistinguishable from none: same status, same body.
    if (stored && stored.manifest.owner !== owner) return notFound();
    if (stored) {
      const { manifest } = stored;
      if (manifest.status !== 'processed') {
        const { status, reason, message, completedAt } = manifest;
        return jsonResponse(200, { uploadId, status, reason, message, completedAt });
      }
      const policy = readSasPolicy(new Date(), settings.readUrlTtlSeconds);
      const outputs = await Promise.all(
        manifest.outputs.map(async ({ name, blobName, width, height, contentType, size }) => ({
          name,
          width,
          height,
          contentType,
          size,
          url: await signer.signBlobUrl(settings.processedContainer, blobName, policy),
        })),
      );
      return jsonResponse(200, {
        uploadId,
        status: 'processed',
        original: manifest.original,
        outputs,
        urlsExpireOn: policy.expiresOn.toISOString(),
        completedAt: manifest.completedAt,
      });
    }

    // No outcome yet: the upload is pending if its blob has landed under this caller's name.
    const landed = await landing
      .listBlobsFlat({ prefix: landingPrefix(owner, uploadId) })
      .byPage({ maxPageSize: 1 })
      .next();
    const blob = landed.done ? undefined : landed.value.segment.blobItems[0];
    if (blob) {
      if (Date.now() - blob.properties.lastModified.getTime() > PENDING_DEADLINE_MS) {
        const message = `No outcome was recorded within ${PENDING_DEADLINE_MS / 3_600_000} hours of the upload.`;
        return jsonResponse(200, {
          uploadId,
          status: 'failed',
          reason: 'processing-failed',
          message,
        });
      }
      const scanned =
        !settings.malwareScanning ||
        (await readVerdict(processed, uploadId, quotedETag(blob.properties.etag ?? '')));
      return jsonResponse(200, {
        uploadId,
        status: 'pending',
        stage: scanned ? 'processing' : 'scanning',
      });
    }
    return notFound();
  });
}

export const getUploadStatus = getUploadStatusHandler(getRuntime);
