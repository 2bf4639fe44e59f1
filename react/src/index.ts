/**
 * `@directdrop/react`: React bindings for `@directdrop/client`. Nothing here touches
 * `window` or `document` at import, so it renders on the server too.
 */
export { type UseUploadResult, useUpload } from './use-upload.js';
export {
  type UploadEntry,
  type UseUploadManyOptions,
  type UseUploadManyResult,
  useUploadMany,
} from './use-upload-many.js';
export { type UploadDropzoneProps, UploadDropzone } from './upload-dropzone.js';
export {
  type UseLimitsResult,
  describeLimits,
  formatName,
  listFormats,
  useLimits,
} from './limits.js';
export {
  type DescribeContext,
  type UploadPhase,
  describeUpload,
  describeUploadError,
  uploadPhase,
} from './messages.js';
export type { UploadSnapshot, UploadStage, UploadState } from './upload-state.js';
