/**
 * HEIC decoding with libheif compiled to WebAssembly (libheif-js, which bundles the
 * libde265 HEVC decoder): sharp's prebuilt libvips reads HEIF containers but cannot
 * decode HEVC (lovell/sharp#4479). This talks to libheif's C API (heif.h) through the
 * module's exports, so the limits, the colour profile and the pixels are ours to read.
 * It is synchronous and CPU-bound: heic-decode.ts runs it in a worker thread.
 */
import { readFileSync } from 'node:fs';
import createLibheif, { type MainModule } from 'libheif-js/libheif-wasm/libheif.js';

/** What a HEIC holds before its pixels are decoded, read from the container alone. */
export interface HeicInfo {
  /** As displayed: after the irot/imir/clap transforms libheif applies when decoding. */
  width: number;
  height: number;
  /** The coded (ispe) size, before those transforms. */
  codedWidth: number;
  codedHeight: number;
  hasAlpha: boolean;
  /** The coding of the primary image (or of its grid's tiles), e.g. `hvc1`, `av01`. */
  codec: string;
}

/** Colour of the decoded pixels: an embedded ICC profile, or nclx (ITU-T H.273) code points. */
export type HeicColour =
  | { kind: 'icc'; profile: Uint8Array }
  | { kind: 'nclx'; colourPrimaries: number }
  | { kind: 'unspecified' };

export interface DecodedHeic {
  info: HeicInfo;
  colour: HeicColour;
  /** Interleaved 8-bit RGB or RGBA, rows packed. */
  pixels: Uint8Array;
  channels: 3 | 4;
}

export interface HeicDecodeLimits {
  maxInputPixels: number;
  /** Cap on the memory libheif may allocate for this image (its `max_total_memory`). */
  maxDecodeBytes: number;
}

export type HeicDecodeResult =
  | { ok: true; image: DecodedHeic }
  | { ok: false; reason: 'too-many-pixels' | 'corrupt' | 'unsupported-codec'; message: string };

/** HEVC is the one codec this build decodes (`heif_have_decoder_for_format`). */
const HEVC_ITEM_TYPES = new Set(['hvc1', 'hev1']);
const CODEC_NAMES: Record<string, string> = {
  av01: 'AV1',
  avc1: 'H.264 (AVC)',
  vvc1: 'H.266 (VVC)',
  evc1: 'EVC',
  j2k1: 'JPEG 2000',
  jpeg: 'JPEG',
  unci: 'uncompressed',
};

// heif.h enum values and the struct layouts of the wasm32 build (pointers are 4 bytes).
const HEIF_COLORSPACE_RGB = 1;
const HEIF_CHROMA_INTERLEAVED_RGB = 10;
const HEIF_CHROMA_INTERLEAVED_RGBA = 11;
const HEIF_CHANNEL_INTERLEAVED = 10;
const HEIF_SUBERROR_SECURITY_LIMIT_EXCEEDED = 1000;
/** struct heif_error { int code; int subcode; const char* message; } */
const HEIF_ERROR_SIZE = 12;
/** heif_security_limits: max_total_memory (uint64) follows the version-1 fields. */
const SECURITY_LIMITS_MAX_TOTAL_MEMORY = 64;

const WASM_FILE = require.resolve('libheif-js/libheif-wasm/libheif.wasm');

/**
 * Compiled once per process and handed to each worker: V8 shares a module's machine code
 * (tiered-up included) between the threads that instantiate it, so a fresh worker does
 * not start from unoptimised code.
 */
export function compileLibheif(): Promise<WebAssembly.Module> {
  return WebAssembly.compile(readFileSync(WASM_FILE));
}

let libheif: MainModule | undefined;

function loadLibheif(compiled?: WebAssembly.Module): MainModule {
  // Instantiated synchronously: Emscripten's glue then runs at once.
  libheif ??= createLibheif(
    compiled
      ? {
          instantiateWasm(
            imports: WebAssembly.Imports,
            receive: (i: WebAssembly.Instance) => void,
          ) {
            const instance = new WebAssembly.Instance(compiled, imports);
            receive(instance);
            return instance.exports;
          },
        }
      : { wasmBinary: readFileSync(WASM_FILE) },
  );
  return libheif;
}

class HeifError extends Error {
  constructor(
    readonly code: number,
    readonly subcode: number,
    message: string,
  ) {
    super(message);
  }
}

function fourcc(value: number): string {
  return String.fromCharCode(
    (value >>> 24) & 0xff,
    (value >>> 16) & 0xff,
    (value >>> 8) & 0xff,
    value & 0xff,
  );
}

/**
 * Decodes the primary image (never a thumbnail, depth map or other auxiliary image) to
 * 8-bit RGB(A), with libheif applying the irot/imir/clap transforms. The dimensions are
 * checked against the pixel limit from the container, before any pixel is decoded.
 */
export function decodeHeic(
  input: Uint8Array,
  limits: HeicDecodeLimits,
  compiled?: WebAssembly.Module,
): HeicDecodeResult {
  const m = loadLibheif(compiled);
  const allocations: number[] = [];
  const alloc = (size: number) => {
    const pointer = m._malloc(size);
    if (!pointer) throw new HeifError(6, 0, 'out of memory');
    allocations.push(pointer);
    return pointer;
  };
  const view = () => new DataView(m.HEAPU8.buffer); // memory growth replaces the buffer
  const error = alloc(HEIF_ERROR_SIZE);
  const check = () => {
    const code = view().getInt32(error, true);
    if (code === 0) return;
    const subcode = view().getInt32(error + 4, true);
    const messageAt = view().getUint32(error + 8, true);
    const end = m.HEAPU8.indexOf(0, messageAt);
    const message = Buffer.from(m.HEAPU8.subarray(messageAt, end)).toString('utf8').trim();
    throw new HeifError(code, subcode, message);
  };
  const out = alloc(4);
  const outPointer = () => view().getUint32(out, true);

  const context = m._heif_context_alloc();
  let handle = 0;
  let image = 0;
  try {
    const limitsAt = m._heif_context_get_security_limits(context);
    m._heif_context_set_maximum_image_size_limit(
      context,
      Math.ceil(Math.sqrt(limits.maxInputPixels)),
    );
    if (view().getUint8(limitsAt) >= 2)
      view().setBigUint64(
        limitsAt + SECURITY_LIMITS_MAX_TOTAL_MEMORY,
        BigInt(limits.maxDecodeBytes),
        true,
      );

    const data = alloc(input.length);
    m.HEAPU8.set(input, data);
    m._heif_context_read_from_memory_without_copy(error, context, data, input.length, 0);
    check();
    m._heif_context_get_primary_image_handle(error, context, out);
    check();
    handle = outPointer();

    const info: HeicInfo = {
      width: m._heif_image_handle_get_width(handle),
      height: m._heif_image_handle_get_height(handle),
      codedWidth: m._heif_image_handle_get_ispe_width(handle),
      codedHeight: m._heif_image_handle_get_ispe_height(handle),
      hasAlpha: m._heif_image_handle_has_alpha_channel(handle) !== 0,
      codec: primaryCodec(m, context, handle, error, out),
    };
    if (info.width <= 0 || info.height <= 0 || info.codedWidth <= 0 || info.codedHeight <= 0)
      return { ok: false, reason: 'corrupt', message: 'The image has no dimensions.' };
    if (
      Math.max(info.width * info.height, info.codedWidth * info.codedHeight) > limits.maxInputPixels
    )
      return {
        ok: false,
        reason: 'too-many-pixels',
        message: 'The image has more pixels than allowed.',
      };
    if (!HEVC_ITEM_TYPES.has(info.codec)) {
      const name = CODEC_NAMES[info.codec] ?? `"${info.codec}"`;
      return {
        ok: false,
        reason: 'unsupported-codec',
        message: `This HEIF file's image is coded with ${name}, which cannot be decoded here; upload HEIC (HEVC), AVIF, or JPEG.`,
      };
    }
    const colour = colourOf(m, handle, error, check, alloc);

    const channels = info.hasAlpha ? 4 : 3;
    m._heif_decode_image(
      error,
      handle,
      out,
      HEIF_COLORSPACE_RGB,
      info.hasAlpha ? HEIF_CHROMA_INTERLEAVED_RGBA : HEIF_CHROMA_INTERLEAVED_RGB,
      0, // default options: apply the transformations, no colour conversion options
    );
    check();
    image = outPointer();
    const width = m._heif_image_get_width(image, HEIF_CHANNEL_INTERLEAVED);
    const height = m._heif_image_get_height(image, HEIF_CHANNEL_INTERLEAVED);
    const plane = m._heif_image_get_plane_readonly2(image, HEIF_CHANNEL_INTERLEAVED, out);
    const stride = outPointer();
    if (!plane || width !== info.width || height !== info.height)
      return { ok: false, reason: 'corrupt', message: 'The image could not be decoded.' };
    const rowBytes = width * channels;
    const pixels = new Uint8Array(rowBytes * height);
    for (let row = 0; row < height; row++)
      pixels.set(
        m.HEAPU8.subarray(plane + row * stride, plane + row * stride + rowBytes),
        row * rowBytes,
      );
    return { ok: true, image: { info, colour, pixels, channels } };
  } catch (caught) {
    if (!(caught instanceof HeifError)) throw caught;
    if (caught.subcode === HEIF_SUBERROR_SECURITY_LIMIT_EXCEEDED)
      return {
        ok: false,
        reason: 'too-many-pixels',
        message: `The image exceeds a decoding limit (${caught.message}).`,
      };
    return {
      ok: false,
      reason: 'corrupt',
      message: `The image could not be decoded; it may be truncated or damaged (${caught.message}).`,
    };
  } finally {
    if (image) m._heif_image_release(image);
    if (handle) m._heif_image_handle_release(handle);
    m._heif_context_free(context);
    for (const pointer of allocations) m._free(pointer);
  }
}

/** The primary item's coding; a grid is coded as its tiles are. */
function primaryCodec(
  m: MainModule,
  context: number,
  handle: number,
  error: number,
  out: number,
): string {
  const type = fourcc(
    m._heif_item_get_item_type(context, m._heif_image_handle_get_item_id(handle)),
  );
  if (type !== 'grid') return type;
  m._heif_image_handle_get_grid_image_tile_id(error, handle, 0, 0, 0, out);
  if (new DataView(m.HEAPU8.buffer).getInt32(error, true) !== 0) return type;
  const tile = new DataView(m.HEAPU8.buffer).getUint32(out, true);
  return fourcc(m._heif_item_get_item_type(context, tile));
}

function colourOf(
  m: MainModule,
  handle: number,
  error: number,
  check: () => void,
  alloc: (size: number) => number,
): HeicColour {
  const type = fourcc(m._heif_image_handle_get_color_profile_type(handle));
  if (type === 'prof' || type === 'rICC') {
    const size = m._heif_image_handle_get_raw_color_profile_size(handle);
    const at = alloc(size);
    m._heif_image_handle_get_raw_color_profile(error, handle, at);
    check();
    return { kind: 'icc', profile: m.HEAPU8.slice(at, at + size) };
  }
  if (type === 'nclx') {
    const out = alloc(4);
    m._heif_image_handle_get_nclx_color_profile(error, handle, out);
    check();
    const nclx = new DataView(m.HEAPU8.buffer).getUint32(out, true);
    // struct heif_color_profile_nclx { uint8_t version; enum heif_color_primaries; … }
    const colour: HeicColour = {
      kind: 'nclx',
      colourPrimaries: new DataView(m.HEAPU8.buffer).getInt32(nclx + 4, true),
    };
    m._heif_nclx_color_profile_free(nclx);
    return colour;
  }
  return { kind: 'unspecified' };
}
