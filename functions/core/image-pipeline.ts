/**
 * The image pipeline: sniff the real format, enforce limits, auto-orient, and make
 * every variant with all metadata (EXIF, GPS, XMP, ICC) stripped. Bytes in, encoded
 * variants or a rejection reason out; its one effect beyond that is process-wide and
 * deliberate: only the decoders of accepted formats are left enabled in libvips.
 */
import sharp from 'sharp';
import { DECODERS } from './decoders';
import { HEIC_DECODE_TIMEOUT_MS } from './definitions';
import { type DecodedHeic, type HeicColour, decodeHeicInWorker } from './heic-decode';
import type { RejectReason } from './manifest';
import type { OutputFormat, VariantSpec } from './settings';
import { uncompressedTiff } from './tiff-container';

export interface ImageLimits {
  maxInputPixels: number;
  /** Memory one decode may take, HEIC's libheif decode included (settings.maxDecodeBytes). */
  maxDecodeBytes: number;
  allowedContentTypes: readonly string[];
  /** Wall-clock limit of one HEIC decode; HEIC_DECODE_TIMEOUT_MS by default. */
  heicDecodeTimeoutMs?: number;
}

export interface EncodedVariant {
  name: string;
  data: Buffer;
  width: number;
  height: number;
  contentType: string;
  extension: string;
}

export type ImageResult =
  | {
      ok: true;
      original: { format: string; width: number; height: number };
      variants: EncodedVariant[];
    }
  | { ok: false; reason: RejectReason; message: string };

const OUTPUT_CONTENT_TYPES: Record<OutputFormat, string> = {
  webp: 'image/webp',
  avif: 'image/avif',
  jpeg: 'image/jpeg',
  png: 'image/png',
};

/**
 * The longest side each encoder takes (sharp refuses more). Variant widths are at most
 * 8192, but a tall image within the pixel limit (a 1×50000 strip) keeps its height.
 */
const MAX_OUTPUT_SIDE: Record<OutputFormat, number | undefined> = {
  webp: 16383,
  avif: 16384,
  jpeg: 65500,
  png: undefined,
};

/** Media type of a sniffed input, as compared against the allowed content types. */
function sniffedContentType(metadata: sharp.Metadata): string {
  if (metadata.format === 'heif')
    return metadata.compression === 'av1' ? 'image/avif' : 'image/heic';
  return `image/${metadata.format}`;
}

const BYTES_PER_SAMPLE: Record<string, number> = {
  uchar: 1,
  char: 1,
  ushort: 2,
  short: 2,
  uint: 4,
  int: 4,
  float: 4,
  complex: 8,
  double: 8,
  dpcomplex: 16,
};

/**
 * The memory decoding takes, from the header alone: width × height × channels × bytes per
 * sample, doubled for interlaced PNG and GIF and progressive JPEG, which the decoder must
 * buffer whole (pixels or coefficients) while libvips builds its own copy. Conservative for
 * baseline JPEG, which shrinks on load.
 */
export function decodeMemoryBytes(
  metadata: Pick<sharp.Metadata, 'width' | 'height' | 'channels' | 'depth' | 'isProgressive'>,
): number {
  const { width = 0, height = 0, channels = 4, depth = 'uchar' } = metadata;
  const decoded = width * height * channels * (BYTES_PER_SAMPLE[depth] ?? 8);
  return metadata.isProgressive ? decoded * 2 : decoded;
}

function reject(reason: RejectReason, message: string): ImageResult {
  return { ok: false, reason, message };
}

/** Everything libvips reports about a bad input is a property of the bytes, so retrying cannot help. */
function classifyDecodeError(error: unknown): ImageResult {
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message))
    return reject('too-many-pixels', 'The image has more pixels than allowed.');
  if (/unsupported image format/i.test(message))
    return reject('not-an-image', 'The file is not a supported image.');
  return reject('corrupt', 'The image could not be decoded; it may be truncated or damaged.');
}

function encoder(pipeline: sharp.Sharp, variant: VariantSpec): sharp.Sharp {
  const { format, quality } = variant;
  switch (format) {
    case 'webp':
      return pipeline.webp({ quality, effort: 2 });
    case 'avif':
      return pipeline.avif({ quality, effort: 2 });
    case 'jpeg':
      return pipeline.jpeg({ quality, mozjpeg: true });
    case 'png':
      return pipeline.png({ compressionLevel: 6 });
  }
}

let decodersRestricted = false;

/**
 * Turns off every libvips loader but those of the formats in DECODERS, process-wide and
 * once: uploads are strangers' bytes, and a loader that is off never parses them (it is
 * not even asked whether the bytes are its format), so they read as not an image.
 */
function restrictDecoders(): void {
  if (decodersRestricted) return;
  sharp.block({ operation: ['VipsForeignLoad'] });
  sharp.unblock({ operation: [...new Set(Object.values(DECODERS).flat())] });
  decodersRestricted = true;
}

interface RawPixels {
  data: Buffer;
  raw: { width: number; height: number; channels: 1 | 2 | 3 | 4 };
}

function withAtMostFourChannels({
  data,
  info,
}: {
  data: Buffer;
  info: sharp.OutputInfo;
}): RawPixels {
  const { width, height, channels } = info;
  if (channels <= 4) return { data, raw: { width, height, channels: channels as 1 | 2 | 3 | 4 } };
  const kept = 3;
  const out = Buffer.allocUnsafe(width * height * kept);
  for (let pixel = 0, from = 0, to = 0; pixel < width * height; pixel++, from += channels) {
    for (let band = 0; band < kept; band++) out[to++] = data[from + band];
  }
  return { data: out, raw: { width, height, channels: kept } };
}

async function encodeVariant(pixels: RawPixels, variant: VariantSpec): Promise<EncodedVariant> {
  const pipeline = sharp(pixels.data, { raw: pixels.raw }).resize({
    width: variant.width,
    height: MAX_OUTPUT_SIDE[variant.format],
    fit: 'inside',
    withoutEnlargement: true,
  });
  const { data, info } = await encoder(pipeline, variant).toBuffer({ resolveWithObject: true });
  return {
    name: variant.name,
    data,
    width: info.width,
    height: info.height,
    contentType: OUTPUT_CONTENT_TYPES[variant.format],
    extension: variant.format === 'jpeg' ? 'jpg' : variant.format,
  };
}

/**
 * Decodes once, at the size of the largest variant (JPEG shrink-on-load makes that
 * cheap), then derives every variant from those pixels rather than decoding again.
 */
export async function processImage(
  input: Buffer,
  variants: readonly VariantSpec[],
  limits: ImageLimits,
): Promise<ImageResult> {
  restrictDecoders();
  // 'truncated' rejects cut-off files yet tolerates the benign warnings real cameras produce.
  // Animated GIF and WebP: the first frame only, so outputs are stills and frames cost nothing.
  const inputOptions: sharp.SharpOptions = {
    limitInputPixels: limits.maxInputPixels,
    failOn: 'truncated',
    pages: 1,
  };
  let metadata: sharp.Metadata;
  try {
    metadata = await sharp(input, inputOptions).metadata();
  } catch (error) {
    return classifyDecodeError(error);
  }
  const contentType = sniffedContentType(metadata);
  if (!limits.allowedContentTypes.includes(contentType)) {
    return reject('type-not-allowed', `Images of type ${contentType} are not accepted.`);
  }
  const { width, height } = metadata;
  if (!width || !height) return reject('corrupt', 'The image has no dimensions.');
  if (width * height > limits.maxInputPixels)
    return reject('too-many-pixels', 'The image has more pixels than allowed.');
  const memory = decodeMemoryBytes(metadata);
  if (memory > limits.maxDecodeBytes) {
    const mib = (bytes: number) => Math.ceil(bytes / 1024 / 1024);
    return reject(
      'too-much-memory',
      `Decoding the image would take about ${mib(memory)} MiB; one image may take ${mib(limits.maxDecodeBytes)} MiB.`,
    );
  }
  // EXIF orientations 5-8 swap the axes; report the image as people see it.
  const turned = (metadata.orientation ?? 1) >= 5;
  let original = {
    format: contentType,
    width: turned ? height : width,
    height: turned ? width : height,
  };
  let source: sharp.Sharp;
  if (metadata.format === 'heif' && metadata.compression !== 'av1') {
    // sharp's prebuilt libvips decodes AVIF but not HEVC (patent licensing): libheif's
    // WebAssembly build decodes these, applying irot/imir itself. EXIF orientation in a
    // HEIF is informative only (HEIF spec; iPhones write both), so it is not applied again.
    const decoded = await decodeHeicInWorker(input, {
      maxInputPixels: limits.maxInputPixels,
      maxDecodeBytes: limits.maxDecodeBytes,
      timeoutMs: limits.heicDecodeTimeoutMs ?? HEIC_DECODE_TIMEOUT_MS,
    });
    if (!decoded.ok) return reject(decoded.reason, decoded.message);
    const { info } = decoded.image;
    original = { format: contentType, width: info.width, height: info.height };
    source = await heicPixels(decoded.image, inputOptions);
  } else {
    source = sharp(input, inputOptions).rotate(); // auto-orient from EXIF before the tag is dropped
  }

  const largestWidth = Math.max(...variants.map((v) => v.width));
  let base: { data: Buffer; info: sharp.OutputInfo };
  try {
    base = await source
      .resize({ width: largestWidth, withoutEnlargement: true })
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    return classifyDecodeError(error);
  }
  // Encoders take at most 4 channels: extra samples (a 5-sample TIFF) are dropped.
  const pixels = withAtMostFourChannels(base);

  let encoded: EncodedVariant[];
  try {
    encoded = await Promise.all(variants.map((variant) => encodeVariant(pixels, variant)));
  } catch {
    // The bytes decoded but their pixels do not convert: a property of the file, so final.
    return reject('unprocessable', 'The image could be read but not converted to its variants.');
  }
  return { ok: true, original, variants: encoded };
}

/**
 * Decoded HEIC pixels as a sharp input that converts them to sRGB like any other image:
 * with their ICC profile embedded, or Display P3's for nclx P3; other nclx code points
 * (BT.709, unspecified) are sRGB's primaries, or are read as if they were.
 */
async function heicPixels(
  image: DecodedHeic,
  inputOptions: sharp.SharpOptions,
): Promise<sharp.Sharp> {
  const { info, channels, pixels } = image;
  const profile = await profileOf(image.colour);
  if (!profile)
    return sharp(pixels, {
      raw: { width: info.width, height: info.height, channels },
      limitInputPixels: inputOptions.limitInputPixels,
    });
  return sharp(
    uncompressedTiff({ width: info.width, height: info.height, channels, pixels }, profile),
    inputOptions,
  );
}

/** H.273 colour primaries 12: SMPTE EG 432-1, Display P3 (iPhone photos' gamut). */
const NCLX_PRIMARIES_DISPLAY_P3 = 12;
let displayP3Profile: Promise<Uint8Array> | undefined;

async function profileOf(colour: HeicColour): Promise<Uint8Array | undefined> {
  if (colour.kind === 'icc') return colour.profile;
  if (colour.kind !== 'nclx' || colour.colourPrimaries !== NCLX_PRIMARIES_DISPLAY_P3)
    return undefined;
  // libvips' own Display P3 profile, read back from an image it tagged with it.
  displayP3Profile ??= sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } })
    .withIccProfile('p3')
    .tiff()
    .toBuffer()
    .then(async (tagged) => (await sharp(tagged).metadata()).icc!);
  return displayP3Profile;
}
