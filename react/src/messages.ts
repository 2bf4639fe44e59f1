/**
 * An upload's state in words for the people uploading: the stage while it runs, and a
 * DirectdropError's code and reason as a sentence rather than the API's own message,
 * which is written for developers (`size must be at most 26214400 bytes.`).
 */
import {
  type DirectdropError,
  type UploadLimits,
  describeRejectReason,
  formatBytes,
} from '@directdrop/client';
import { listFormats } from './limits.js';
import type { UploadSnapshot, UploadStage } from './upload-state.js';

/**
 * What a person sees of an upload: `refused` was never sent (the file breaks the server's
 * rules, or the caller may not upload), `rejected` was sent and turned down by the server.
 */
export type UploadPhase =
  | 'idle'
  | 'queued'
  | 'uploading'
  | 'processing'
  | 'processed'
  | 'refused'
  | 'rejected'
  | 'failed'
  | 'cancelled';

export interface DescribeContext {
  fileName: string;
  size?: number;
  limits?: Pick<UploadLimits, 'maxBytes' | 'allowedContentTypes'>;
}

export function uploadPhase(upload: UploadSnapshot): UploadPhase {
  switch (upload.state) {
    case 'running':
      return upload.stage === 'uploaded' ||
        upload.stage === 'scanning' ||
        upload.stage === 'processing'
        ? 'processing'
        : 'uploading';
    case 'failed':
      if (upload.error?.code === 'rejected') return 'rejected';
      return isRefusal(upload.error) ? 'refused' : 'failed';
    default:
      return upload.state;
  }
}

/** Checked before any byte was sent, and sure to happen again: not worth a retry. */
function isRefusal(error: DirectdropError | undefined): boolean {
  return error?.stage === 'validate' || (error?.stage === 'request' && !error.retryable);
}

const STAGE_WORDS: Readonly<Record<UploadStage, string>> = {
  validating: 'Starting…',
  requesting: 'Starting…',
  uploading: 'Uploading…',
  uploaded: 'Uploaded.',
  scanning: 'Uploaded. Scanning for malware…',
  processing: 'Uploaded. Processing…',
};

/** One sentence for the upload's state, e.g. `Uploading…` or `Rejected: The file is not an image.` */
export function describeUpload(upload: UploadSnapshot, context: DescribeContext): string {
  switch (upload.state) {
    case 'idle':
      return '';
    case 'queued':
      return 'Waiting…';
    case 'running':
      return STAGE_WORDS[upload.stage ?? 'validating'];
    case 'processed':
      return 'Ready.';
    case 'cancelled':
      return 'Cancelled.';
    case 'failed':
      return upload.error ? describeUploadError(upload.error, context) : 'Failed.';
  }
}

const FAIL_REASON_WORDS: Readonly<Record<string, string>> = {
  'scan-timeout': 'the malware scan did not finish in time',
  'scan-failed': 'the malware scan could not check the file',
};

/** A DirectdropError as a sentence that says what happened and what to do. */
export function describeUploadError(error: DirectdropError, context: DescribeContext): string {
  const name = context.fileName;
  const { limits, size } = context;
  const notUploaded = (why: string) => `Not uploaded: ${why}`;
  switch (error.code) {
    case 'file-too-large':
      return notUploaded(
        limits && size !== undefined
          ? `${name} is ${formatBytes(size)}; the limit is ${formatBytes(limits.maxBytes)}.`
          : `${name} is larger than the upload limit.`,
      );
    case 'content-type-not-allowed':
      return notUploaded(
        limits
          ? `${name} is not a ${listFormats(limits.allowedContentTypes)} file.`
          : `${name} is not a kind of file accepted here.`,
      );
    case 'invalid-size':
      return notUploaded(`${name} is empty.`);
    case 'unauthorized':
      return notUploaded('sign in first.');
    case 'invalid-token':
      return notUploaded('your sign-in has expired or is not valid; sign in again.');
    case 'insufficient-scope':
      return notUploaded('your account may not upload here.');
    case 'quota-exceeded':
      return notUploaded(`too many uploads for now. ${error.message} Try again later.`);
    case 'network-error':
      return error.stage === 'upload'
        ? 'Failed: the connection to storage broke. Try again.'
        : notUploaded('the upload service cannot be reached. Try again in a moment.');
    case 'aborted':
      return 'Cancelled.';
    case 'rejected':
      return `Rejected: ${error.message || describeRejectReason(error.reason)}`;
    case 'processing-failed':
      return `Failed: ${FAIL_REASON_WORDS[error.reason ?? ''] ?? 'the server could not process the file'}. Try again.`;
    case 'timeout':
      return 'Still processing after a long wait; it may finish later. Try again later.';
    case 'upload-forbidden':
      if (error.retryable)
        return 'Failed: the upload link expired before the file was sent. Try again.';
      break;
  }
  if (error.stage === 'request' && error.status !== undefined && error.status >= 500) {
    return notUploaded('the upload service is having trouble. Try again in a moment.');
  }
  return isRefusal(error) ? notUploaded(error.message) : `Failed: ${error.message}`;
}
