/**
 * Validation of `POST /api/uploads` bodies and the server's choice of blob name.
 * Pure: the handler supplies the parsed body, the settings and a fresh upload id.
 */
import { OWNER_HASH } from './auth';
import { validateMetadata } from './metadata';
import type { DirectdropSettings } from './settings';

export interface UploadRequest {
  fileName: string;
  contentType: string;
  size: number;
  /** The application's own pairs (core/metadata.ts); {} when none were sent. */
  metadata: Record<string, string>;
}

export type RequestErrorCode =
  | 'invalid-json'
  | 'invalid-body'
  | 'invalid-file-name'
  | 'invalid-content-type'
  | 'invalid-size'
  | 'invalid-metadata'
  | 'file-too-large'
  | 'body-too-large'
  | 'unsupported-media-type'
  | 'content-type-not-allowed';

export interface RequestError {
  status: 400 | 413 | 415;
  code: RequestErrorCode;
  message: string;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; error: RequestError };

/** Three short fields and at most 2 KiB of metadata; anything bigger is not a real client. */
export const MAX_REQUEST_BODY_BYTES = 8192;
export const MAX_FILE_NAME_LENGTH = 200;
/** Longest sanitised suffix kept in the blob name (blob names allow 1024 characters). */
const MAX_BLOB_SUFFIX_LENGTH = 100;

const KNOWN_FIELDS = new Set(['fileName', 'contentType', 'size', 'metadata']);
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

function fail(
  status: RequestError['status'],
  code: RequestErrorCode,
  message: string,
): Validated<never> {
  return { ok: false, error: { status, code, message } };
}

/** Parses raw body text into an UploadRequest, or the 4xx error a client should get. */
export function parseUploadRequest(
  body: string,
  settings: DirectdropSettings,
): Validated<UploadRequest> {
  if (Buffer.byteLength(body, 'utf8') > MAX_REQUEST_BODY_BYTES) {
    return fail(
      413,
      'body-too-large',
      `Request body must be at most ${MAX_REQUEST_BODY_BYTES} bytes.`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return fail(400, 'invalid-json', 'Request body must be valid JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return fail(
      400,
      'invalid-body',
      'Request body must be a JSON object with fileName, contentType and size.',
    );
  }
  const fields = parsed as Record<string, unknown>;
  const unknown = Object.keys(fields).find((key) => !KNOWN_FIELDS.has(key));
  if (unknown !== undefined) {
    return fail(
      400,
      'invalid-body',
      `Unknown field "${unknown.slice(0, 40)}"; expected fileName, contentType, size and metadata.`,
    );
  }

  const { fileName, contentType, size } = fields;
  if (typeof fileName !== 'string' || fileName.trim() === '') {
    return fail(400, 'invalid-file-name', 'fileName must be a non-empty string.');
  }
  if (fileName.length > MAX_FILE_NAME_LENGTH) {
    return fail(
      400,
      'invalid-file-name',
      `fileName must be at most ${MAX_FILE_NAME_LENGTH} characters.`,
    );
  }
  if (CONTROL_CHARACTERS.test(fileName)) {
    return fail(
      400,
      'invalid-file-name',
      'fileName must not contain control or bidirectional-override characters.',
    );
  }
  if (typeof contentType !== 'string' || contentType.trim() === '') {
    return fail(
      400,
      'invalid-content-type',
      'contentType must be a non-empty string such as image/jpeg.',
    );
  }
  const mediaType = contentType.split(';')[0].trim().toLowerCase();
  if (!MEDIA_TYPE.test(mediaType)) {
    return fail(
      400,
      'invalid-content-type',
      'contentType must be a media type such as image/jpeg.',
    );
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0) {
    return fail(400, 'invalid-size', 'size must be a positive whole number of bytes.');
  }
  if (size > settings.maxUploadBytes) {
    return fail(413, 'file-too-large', `size must be at most ${settings.maxUploadBytes} bytes.`);
  }
  if (!settings.allowedContentTypes.includes(mediaType)) {
    return fail(
      415,
      'content-type-not-allowed',
      `contentType must be one of: ${settings.allowedContentTypes.join(', ')}.`,
    );
  }
  const metadata = validateMetadata(fields.metadata);
  if (!metadata.ok) return fail(400, 'invalid-metadata', metadata.message);
  return { ok: true, value: { fileName, contentType: mediaType, size, metadata: metadata.value } };
}

/**
 * Reduces a client's file name to a safe blob-name suffix: the final path segment,
 * NFC-normalised, with anything outside a conservative set replaced by `_`.
 */
export function sanitiseFileName(fileName: string): string {
  const lastSegment = fileName.split(/[\\/]/).pop() ?? '';
  const safe = lastSegment
    .normalize('NFC')
    .replace(/[^\p{L}\p{N}._-]+/gu, '_')
    .replace(/^[._]+/, '')
    .replace(/_+/g, '_');
  const trimmed = [...safe].slice(-MAX_BLOB_SUFFIX_LENGTH).join('');
  return trimmed === '' ? 'upload' : trimmed;
}

const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function isUploadId(value: string): boolean {
  return UPLOAD_ID.test(value);
}

/** A declared size as it appears in a landing blob name: a positive whole number, no leading zero. */
const DECLARED_SIZE = /^[1-9][0-9]{0,15}$/;

/** What a landing blob name says about its upload. */
export interface LandingBlob {
  /** Owner hash of the caller the URL was issued to (core/auth.ts ownerHash). */
  owner: string;
  uploadId: string;
  /** The size declared in `POST /api/uploads`; the upload must be exactly this long. */
  declaredSize: number;
  fileName: string;
}

/**
 * The server-chosen landing blob name, `<owner>/<uploadId>/<declared size>/<sanitised name>`;
 * clients never choose paths. The upload SAS may create only this name, so the owner and
 * size in it are the ones the server bound when issuing, and the worker can rely on both.
 */
export function landingBlobName(
  owner: string,
  uploadId: string,
  request: Pick<UploadRequest, 'fileName' | 'size'>,
): string {
  return `${owner}/${uploadId}/${request.size}/${sanitiseFileName(request.fileName)}`;
}

/** The folder of one caller's upload in the landing container (where a pending blob lands). */
export function landingPrefix(owner: string, uploadId: string): string {
  return `${owner}/${uploadId}/`;
}

/** Reads a landing blob name back, or undefined for a blob directdrop did not name. */
export function parseLandingBlobName(blobName: string): LandingBlob | undefined {
  const parts = blobName.split('/');
  if (parts.length !== 4) return undefined;
  const [owner, uploadId, size, fileName] = parts;
  if (
    !OWNER_HASH.test(owner) ||
    !isUploadId(uploadId) ||
    !DECLARED_SIZE.test(size) ||
    fileName === ''
  )
    return undefined;
  const declaredSize = Number(size);
  return Number.isSafeInteger(declaredSize)
    ? { owner, uploadId, declaredSize, fileName }
    : undefined;
}

/** The upload id a landing blob belongs to, or undefined for a blob we did not name. */
export function uploadIdOfBlob(blobName: string): string | undefined {
  return parseLandingBlobName(blobName)?.uploadId;
}
