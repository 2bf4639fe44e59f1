/** `POST /api/uploads`: validates the request and answers with a create-only upload URL. */
import { randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { uploadSasPolicy } from '../core/sas-policy';
import {
  MAX_REQUEST_BODY_BYTES,
  landingBlobName,
  parseUploadRequest,
} from '../core/upload-request';
import { type Runtime, getRuntime } from '../adapters/runtime';
import { answeringStorageOutages, errorResponse, jsonResponse } from './http-responses';

export function createUploadHandler(runtime: () => Runtime) {
  return answeringStorageOutages(async function createUpload(
    request: HttpRequest,
    context: InvocationContext,
  ): Promise<HttpResponseInit> {
    const { settings, signer } = runtime();
    const declaredLength = Number(request.headers.get('content-length') ?? 0);
    if (declaredLength > MAX_REQUEST_BODY_BYTES) {
      return errorResponse(
        413,
        'body-too-large',
        `Request body must be at most ${MAX_REQUEST_BODY_BYTES} bytes.`,
      );
    }
    const mediaType = request.headers.get('content-type')?.split(';')[0].trim().toLowerCase();
    if (mediaType && mediaType !== 'application/json') {
      return errorResponse(
        415,
        'unsupported-media-type',
        'Send the request body as application/json.',
      );
    }
    const parsed = parseUploadRequest(await request.text(), settings);
    if (!parsed.ok) {
      const { status, code, message } = parsed.error;
      return errorResponse(status, code, message);
    }

    const uploadId = randomUUID();
    const blobName = landingBlobName(uploadId, parsed.value);
    const policy = uploadSasPolicy(new Date(), settings.uploadUrlTtlSeconds);
    const uploadUrl = await signer.signBlobUrl(settings.landingContainer, blobName, policy);
    context.info(
      `Issued upload ${uploadId} (${parsed.value.contentType}, ${parsed.value.size} bytes)`,
    );

    return jsonResponse(201, {
      uploadId,
      uploadUrl,
      method: 'PUT',
      headers: { 'x-ms-blob-type': 'BlockBlob', 'Content-Type': parsed.value.contentType },
      expiresOn: policy.expiresOn.toISOString(),
      maxBytes: settings.maxUploadBytes,
      statusUrl: new URL(`/api/uploads/${uploadId}`, request.url).toString(),
    });
  });
}

export const createUpload = createUploadHandler(getRuntime);
