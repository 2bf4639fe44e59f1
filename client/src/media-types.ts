/**
 * Content types for files that carry none: Node reads files from disk, and browsers
 * leave `File.type` empty for extensions they do not know (HEIC on most systems).
 */

const BY_EXTENSION: Readonly<Record<string, string>> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  jfif: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  avif: 'image/avif',
  gif: 'image/gif',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  heic: 'image/heic',
  heif: 'image/heif',
  txt: 'text/plain',
  pdf: 'application/pdf',
  svg: 'image/svg+xml',
  bmp: 'image/bmp',
};

/** Media type sent for bytes of unknown kind; the server will refuse it. */
export const UNKNOWN_CONTENT_TYPE = 'application/octet-stream';

export function contentTypeForName(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  const extension = dot < 0 ? '' : fileName.slice(dot + 1).toLowerCase();
  return BY_EXTENSION[extension] ?? UNKNOWN_CONTENT_TYPE;
}

/** `image/JPEG; charset=x` → `image/jpeg`, the form the server compares. */
export function normaliseContentType(contentType: string): string {
  return contentType.split(';')[0].trim().toLowerCase();
}
