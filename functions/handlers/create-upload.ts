/** `POST /api/uploads`: checks the caller and the request, takes quota, and answers with a create-only upload URL. */
import { randomBytes, randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { statusToken, statusTokenHash } from '../core/auth';
import { type QuotaExceeded, retryAfterSeconds } from '../core/quota';
import { uploadSasPolicy } from '../core/sas-policy';
import {
  MAX_REQUEST_BODY_BYTES,
  landingBlobName,
  parseUploadRequest,
} from '../core/upload-request';
import { type Runtime, getRuntime } from '../adapters/runtime';
import { BodyTooLargeError, readRequestText } from '../adapters/read-body';
import { QuotaContentionError } from '../adapters/upload-table';
import type { UploadRecord } from '../core/upload-record';
import { identifyCaller } from './caller';
import { answeringStorageOutages, errorResponse, jsonResponse } from './http-responses';

const QUOTA_MESSAGES: Record<QuotaExceeded['limit'], (max: number) => string> = {
  'urls-per-minute': (max) => `At most ${max} upload URLs per minute per caller.`,
  'outstanding-uploads': (max) => `At most ${max} uploads may await their outcome at once.`,
  'bytes-per-day': (max) => `At most ${max} bytes may be declared per caller per UTC day.`,
  'global-urls-per-minute': (max) => `The service issues at most ${max} upload URLs per minute.`,
};

/** 429 naming the limit and when it resets, with Retry-After (RFC 9110) to match. */
export function quotaExceededResponse(exceeded: QuotaExceeded, nowMs: number): HttpResponseInit {
  const retryAfter = retryAfterSeconds(exceeded, nowMs);
  return jsonResponse(
    429,
    {
      error: {
        code: 'quota-exceeded',
        message: QUOTA_MESSAGES[exceeded.limit](exceeded.max),
        limit: exceeded.limit,
        max: exceeded.max,
        resetsAt: exceeded.resetsAt.toISOString(),
      },
    },
    { 'Retry-After': String(retryAfter) },
  );
}

/** Where the uploader polls: the configured public URL, never the request's Host header. */
export function statusUrl(publicBaseUrl: string, uploadId: string, capability?: string): string {
  const url = `${publicBaseUrl}/uploads/${uploadId}`;
  return capability ? `${url}?statusToken=${capability}` : url;
}

export function createUploadHandler(runtime: () => Runtime) {
  return answeringStorageOutages(async function createUpload(
    request: HttpRequest,
    context: InvocationContext,
  ): Promise<HttpResponseInit> {
    const rt = runtime();
    const { settings, signer } = rt;
    const identified = await identifyCaller(request, rt, context);
    if (!identified.ok) return identified.response;
    const { owner } = identified.caller;

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
    let text: string;
    try {
      // Read as a stream that stops at the limit: a chunked body says no length up front.
      text = await readRequestText(request, MAX_REQUEST_BODY_BYTES);
    } catch (error) {
      if (!(error instanceof BodyTooLargeError)) throw error;
      return errorResponse(
        413,
        'body-too-large',
        `Request body must be at most ${MAX_REQUEST_BODY_BYTES} bytes.`,
      );
    }
    const parsed = parseUploadRequest(text, settings);
    if (!parsed.ok) {
      const { status, code, message } = parsed.error;
      return errorResponse(status, code, message);
    }

    const uploadId = randomUUID();
    const blobName = landingBlobName(owner, uploadId, parsed.value);
    const issuedAt = new Date();
    const policy = uploadSasPolicy(issuedAt, settings.uploadUrlTtlSeconds);
    const reservation = {
      uploadId,
      size: parsed.value.size,
      urlExpiresAtMs: policy.expiresOn.getTime(),
    };
    const record: UploadRecord = {
      uploadId,
      owner,
      status: 'issued',
      issuedAt: issuedAt.toISOString(),
      urlExpiresAt: policy.expiresOn.toISOString(),
      container: settings.landingContainer,
      blobName,
      fileName: parsed.value.fileName,
      contentType: parsed.value.contentType,
      size: parsed.value.size,
      metadata: parsed.value.metadata,
      caller: identified.caller.identity,
    };
    // Anonymous callers read their status by capability, from whichever address they have then.
    const capability =
      settings.authMode === 'anonymous' ? statusToken(owner, randomBytes(16)) : undefined;
    if (capability) record.statusTokenHash = statusTokenHash(capability);
    // Signing needs no storage round trip once the key is at hand: it runs beside the quota's.
    const [signed, issued] = await Promise.allSettled([
      signer.signBlobUrl(settings.landingContainer, blobName, policy),
      rt.uploads.issue(record, reservation),
    ]);
    if (signed.status === 'rejected') {
      // Nothing was handed out: the reservation goes back (best effort, the slot lapses anyway).
      if (issued.status === 'fulfilled' && issued.value.ok)
        void rt.uploads.refund(record, reservation).catch(() => undefined);
      throw signed.reason;
    }
    if (issued.status === 'rejected') {
      if (!(issued.reason instanceof QuotaContentionError)) throw issued.reason;
      return errorResponse(503, 'quota-busy', issued.reason.message, { 'Retry-After': '1' });
    }
    const quota = issued.value;
    if (!quota.ok) {
      context.info(`Refused an upload URL for owner ${owner}: ${quota.exceeded.limit}`);
      return quotaExceededResponse(quota.exceeded, Date.now());
    }
    const uploadUrl = signed.value;
    context.info(
      `Issued upload ${uploadId} (${parsed.value.contentType}, ${parsed.value.size} bytes) to owner ${owner}`,
    );

    return jsonResponse(
      201,
      {
        uploadId,
        uploadUrl,
        method: 'PUT',
        headers: { 'x-ms-blob-type': 'BlockBlob', 'Content-Type': parsed.value.contentType },
        expiresOn: policy.expiresOn.toISOString(),
        maxBytes: settings.maxUploadBytes,
        statusUrl: statusUrl(settings.publicBaseUrl, uploadId, capability),
      },
      {
        // draft-ietf-httpapi-ratelimit-headers: the per-caller URL bucket.
        'RateLimit-Limit': String(quota.limit),
        'RateLimit-Remaining': String(quota.remaining),
        'RateLimit-Reset': String(quota.resetSeconds),
      },
    );
  });
}

export const createUpload = createUploadHandler(getRuntime);
