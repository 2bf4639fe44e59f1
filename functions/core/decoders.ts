/**
 * The image formats directdrop can decode, each with the libvips loader that reads it.
 * Only these loaders are ever enabled (see image-pipeline.ts), so bytes in any other
 * format (SVG, PDF, JPEG 2000, libvips' own .v, CSV, PPM, Radiance…) are never parsed,
 * and the allowed content types setting may name only these.
 */
export const DECODERS: Readonly<Record<string, readonly string[]>> = {
  'image/jpeg': ['VipsForeignLoadJpeg'],
  'image/png': ['VipsForeignLoadPng'],
  'image/webp': ['VipsForeignLoadWebp'],
  'image/gif': ['VipsForeignLoadNsgif'],
  'image/tiff': ['VipsForeignLoadTiff'],
  // One loader reads the whole HEIF family; the pipeline refuses HEVC-coded files itself.
  'image/avif': ['VipsForeignLoadHeif'],
  'image/heic': ['VipsForeignLoadHeif'],
  'image/heif': ['VipsForeignLoadHeif'],
};

export const DECODABLE_CONTENT_TYPES: readonly string[] = Object.keys(DECODERS);
