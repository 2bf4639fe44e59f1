/**
 * `GET /api/uploads?limit=&cursor=`: the caller's own uploads, newest first, a page at a
 * time, from the list entries in the caller's partition of the upload table (one query per
 * page; never a container listing).
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { type ListedRecord, uploadWindowClosed } from '../core/upload-record';
import { InvalidListCursorError } from '../adapters/upload-table';
import { type Runtime, getRuntime } from '../adapters/runtime';
import { identifyCaller } from './caller';
import { outcomeOf, pendingState } from './get-upload-status';
import { answeringStorageOutages, errorResponse, jsonResponse } from './http-responses';

export const LIST_LIMIT = { default: 20, max: 100 } as const;

/** One upload in a list page. */
export interface UploadSummary {
  uploadId: string;
  status: 'pending' | 'processed' | 'rejected' | 'failed';
  stage?: 'awaiting-upload' | 'scanning' | 'processing';
  reason?: string;
  fileName: string;
  contentType: string;
  size?: number;
  metadata: Record<string, string>;
  issuedAt: string;
  completedAt?: string;
  dropZone?: string;
}

/**
 * A list entry as the status endpoint would tell it. Pending uploads carry no stage here
 * (that takes a blob read per upload); one whose URL has expired is checked as the status
 * endpoint checks it, so an upload that never came reads `failed` / `not-uploaded` in both.
 */
async function summarise(
  runtime: Runtime,
  record: ListedRecord,
  nowMs: number,
): Promise<UploadSummary> {
  const summary = await summaryOf(runtime, record, nowMs);
  // Fields that do not apply are absent, not null.
  return Object.fromEntries(
    Object.entries(summary).filter(([, value]) => value !== undefined),
  ) as unknown as UploadSummary;
}

async function summaryOf(
  runtime: Runtime,
  record: ListedRecord,
  nowMs: number,
): Promise<UploadSummary> {
  const { uploadId, fileName, contentType, size, metadata, issuedAt, dropZone } = record;
  const base = { uploadId, fileName, contentType, size, metadata, issuedAt, dropZone };
  const outcome = outcomeOf(record);
  if (outcome) {
    const { status, reason, completedAt } = outcome;
    return { ...base, status, reason, completedAt };
  }
  if (!uploadWindowClosed(record, nowMs)) return { ...base, status: 'pending' };
  const pending = await pendingState(runtime, record, nowMs);
  return pending.status === 'pending'
    ? { ...base, status: 'pending', stage: pending.stage }
    : { ...base, status: 'failed', reason: pending.reason };
}

function readLimit(raw: string | null): number | undefined {
  if (raw === null) return LIST_LIMIT.default;
  if (!/^[1-9][0-9]{0,2}$/.test(raw)) return undefined;
  const limit = Number(raw);
  return limit <= LIST_LIMIT.max ? limit : undefined;
}

export function listUploadsHandler(runtime: () => Runtime) {
  return answeringStorageOutages(async function listUploads(
    request: HttpRequest,
    context: InvocationContext,
  ): Promise<HttpResponseInit> {
    const rt = runtime();
    const identified = await identifyCaller(request, rt, context);
    if (!identified.ok) return identified.response;
    if (rt.settings.authMode === 'anonymous') {
      // Anonymous callers are told apart by address, which is no identity to list by.
      return errorResponse(
        403,
        'listing-unavailable',
        'Listing uploads needs a signed-in caller; this API runs without sign-in.',
      );
    }
    const limit = readLimit(request.query.get('limit'));
    if (limit === undefined) {
      return errorResponse(
        400,
        'invalid-query',
        `limit must be a whole number from 1 to ${LIST_LIMIT.max}.`,
      );
    }
    const cursor = request.query.get('cursor') ?? undefined;
    let page;
    try {
      page = await rt.uploads.list(identified.caller.owner, limit, cursor);
    } catch (error) {
      if (!(error instanceof InvalidListCursorError)) throw error;
      return errorResponse(
        400,
        'invalid-query',
        'cursor must be the nextCursor of an earlier page.',
      );
    }
    const nowMs = Date.now();
    const uploads = await Promise.all(page.records.map((r) => summarise(rt, r, nowMs)));
    return jsonResponse(200, {
      uploads,
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    });
  });
}

export const listUploads = listUploadsHandler(getRuntime);
