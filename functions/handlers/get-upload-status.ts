/**
 * `GET /api/uploads/{uploadId}`: what became of an upload, from its record (one point read
 * in the caller's partition), with read URLs for its outputs.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { RestError } from '@azure/storage-blob';
import { quotedETag } from '../core/blob-events';
import { PENDING_DEADLINE_MS } from '../core/definitions';
import { readSasPolicy } from '../core/sas-policy';
import {
  type ListedRecord,
  NOT_UPLOADED_GRACE_MS,
  type OutcomeStatus,
  type RecordOutput,
  type UploadRecord,
  uploadWindowClosed,
} from '../core/upload-record';
import { isUploadId } from '../core/upload-request';
import { readVerdict } from '../adapters/scan-gate-store';
import { type Runtime, getRuntime } from '../adapters/runtime';
import { mayRead, recordAccess } from './caller';
import { answeringStorageOutages, errorResponse, jsonResponse } from './http-responses';

/** A recorded outcome, as the status answer tells it. */
export interface Outcome {
  status: OutcomeStatus;
  reason?: string;
  message?: string;
  completedAt?: string;
  original?: { format: string; width: number; height: number; size?: number };
  outputs?: RecordOutput[];
}

function isOutcome(status: string): status is OutcomeStatus {
  return status === 'processed' || status === 'rejected' || status === 'failed';
}

/** The outcome of an upload: its record's, mirrored by the worker when it was recorded. */
export function outcomeOf(record: UploadRecord | ListedRecord): Outcome | undefined {
  return isOutcome(record.status) ? (record as Outcome) : undefined;
}

/** Where an upload without an outcome stands: waiting for its bytes, its scan, or the worker. */
export type Pending =
  | { status: 'pending'; stage: 'awaiting-upload' | 'scanning' | 'processing' }
  | { status: 'failed'; reason: 'not-uploaded' | 'processing-failed'; message: string };

export async function pendingState(
  runtime: Runtime,
  record: UploadRecord | ListedRecord,
  nowMs: number,
): Promise<Pending> {
  let landed: { lastModified: Date; etag: string } | undefined;
  try {
    const properties = await runtime
      .container(record.container)
      .getBlobClient(record.blobName)
      .getProperties();
    landed = { lastModified: properties.lastModified as Date, etag: properties.etag ?? '' };
  } catch (error) {
    if (!(error instanceof RestError && error.statusCode === 404)) throw error;
  }
  if (!landed) {
    if (!uploadWindowClosed(record, nowMs)) return { status: 'pending', stage: 'awaiting-upload' };
    return {
      status: 'failed',
      reason: 'not-uploaded',
      message: `Nothing was uploaded before the upload URL expired (and ${NOT_UPLOADED_GRACE_MS / 60_000} minutes more).`,
    };
  }
  if (nowMs - landed.lastModified.getTime() > PENDING_DEADLINE_MS) {
    return {
      status: 'failed',
      reason: 'processing-failed',
      message: `No outcome was recorded within ${PENDING_DEADLINE_MS / 3_600_000} hours of the upload.`,
    };
  }
  const scanned =
    !runtime.settings.malwareScanning ||
    (await readVerdict(runtime.processed, record.uploadId, quotedETag(landed.etag)));
  return { status: 'pending', stage: scanned ? 'processing' : 'scanning' };
}

export function getUploadStatusHandler(runtime: () => Runtime) {
  return answeringStorageOutages(async function getUploadStatus(
    request: HttpRequest,
    context: InvocationContext,
  ): Promise<HttpResponseInit> {
    const rt = runtime();
    const { settings, signer } = rt;
    const access = await recordAccess(request, rt, context);
    if (!access.ok) return access.response;
    const uploadId = (request.params.uploadId ?? '').toLowerCase();
    if (!isUploadId(uploadId)) {
      return errorResponse(
        400,
        'invalid-upload-id',
        'uploadId must be the UUID returned by POST /api/uploads.',
      );
    }

    const notFound = () =>
      errorResponse(404, 'upload-not-found', 'No upload with this id was issued to you.');
    // Another caller's upload is indistinguishable from none: one point read in the caller's
    // own partition finds neither, with the same storage work, status and body.
    const found = access.owner ? await rt.uploads.get(access.owner, uploadId) : undefined;
    if (!found || found.record.status === 'deleted' || !mayRead(access, found.record))
      return notFound();
    const { record } = found;
    const known = { metadata: record.metadata, issuedAt: record.issuedAt };

    const outcome = outcomeOf(record);
    if (!outcome) {
      const pending = await pendingState(rt, record, Date.now());
      return jsonResponse(200, { uploadId, ...pending, ...known });
    }
    if (outcome.status !== 'processed') {
      const { status, reason, message, completedAt } = outcome;
      return jsonResponse(200, { uploadId, status, reason, message, ...known, completedAt });
    }
    const policy = readSasPolicy(new Date(), settings.readUrlTtlSeconds);
    const outputs = await Promise.all(
      (outcome.outputs ?? []).map(async ({ name, blobName, width, height, contentType, size }) => ({
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
      ...known,
      original: outcome.original,
      outputs,
      urlsExpireOn: policy.expiresOn.toISOString(),
      completedAt: outcome.completedAt,
    });
  });
}

export const getUploadStatus = getUploadStatusHandler(getRuntime);
