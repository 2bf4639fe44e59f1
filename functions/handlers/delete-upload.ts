/**
 * `DELETE /api/uploads/{uploadId}`: the owner erases its upload (see upload-deletion.ts).
 * 204 once it is gone; an unknown id, another caller's and one already deleted all answer
 * the same 404, after the same single point read in the caller's own partition. In
 * anonymous mode the status capability of the upload's statusUrl (`?statusToken=`) is what
 * makes the caller its owner, as for reading its status.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { isUploadId } from '../core/upload-request';
import { type Runtime, getRuntime } from '../adapters/runtime';
import { mayRead, recordAccess } from './caller';
import { answeringStorageOutages, errorResponse } from './http-responses';
import { eraseUpload } from './upload-deletion';

export function deleteUploadHandler(runtime: () => Runtime) {
  return answeringStorageOutages(async function deleteUploadRequest(
    request: HttpRequest,
    context: InvocationContext,
  ): Promise<HttpResponseInit> {
    const rt = runtime();
    const access = await recordAccess(request, rt, context);
    if (!access.ok) return access.response;
    const uploadId = (request.params.uploadId ?? '').toLowerCase();
    if (!isUploadId(uploadId))
      return errorResponse(
        400,
        'invalid-upload-id',
        'uploadId must be the UUID returned by POST /api/uploads.',
      );
    const notFound = () =>
      errorResponse(404, 'upload-not-found', 'No upload with this id was issued to you.');
    if (!access.owner) return notFound();
    const erased = await eraseUpload(rt, access.owner, uploadId, true, context, (record) =>
      mayRead(access, record),
    );
    if (erased === 'not-found') return notFound();
    context.info(`Upload ${uploadId}: deleted by its owner`);
    return { status: 204, headers: { 'Cache-Control': 'no-store' } };
  });
}

export const deleteUpload = deleteUploadHandler(getRuntime);
