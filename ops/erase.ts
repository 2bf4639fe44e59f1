/**
 * Operator erasure (privacy requests): every upload of one user, found in the user's
 * partition of the upload table, erased one by one through the same path as the owner's
 * `DELETE /api/uploads/{id}` (functions/handlers/upload-deletion.ts), each with its
 * `directdrop.upload.deleted` event.
 */
import type { InvocationContext } from '@azure/functions';
import { ownerHash } from '../functions/core/auth';
import type { UploadRecord } from '../functions/core/upload-record';
import type { Runtime } from '../functions/adapters/runtime';
import { eraseUpload } from '../functions/handlers/upload-deletion';

/** The owner hash of a subject, as the app computes it when that user signs in. */
export function ownerOf(runtime: Runtime, issuer: string, subject: string): string {
  return ownerHash(runtime.ownerKey, { issuer, subject });
}

/** Every upload the owner has (newest first), whatever its status. */
export async function uploadsOf(runtime: Runtime, owner: string): Promise<UploadRecord[]> {
  const records: UploadRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await runtime.uploads.list(owner, 100, cursor);
    records.push(...page.records);
    cursor = page.nextCursor;
  } while (cursor);
  return records;
}

export interface EraseReport {
  erased: string[];
  failed: Array<{ uploadId: string; reason: string }>;
}

/** Erases each record in turn; one that fails is reported and the rest go on. */
export async function eraseAll(
  runtime: Runtime,
  records: readonly UploadRecord[],
  context: InvocationContext,
  onProgress: (done: number, uploadId: string) => void = () => undefined,
): Promise<EraseReport> {
  const report: EraseReport = { erased: [], failed: [] };
  for (const [index, record] of records.entries()) {
    try {
      await eraseUpload(runtime, record.owner, record.uploadId, false, context);
      report.erased.push(record.uploadId);
    } catch (error) {
      report.failed.push({ uploadId: record.uploadId, reason: (error as Error).name });
    }
    onProgress(index + 1, record.uploadId);
  }
  return report;
}
