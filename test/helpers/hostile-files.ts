/**
 * Hostile and awkward uploads, generated on demand (sharp, hand-written bytes, fflate),
 * each with the terminal state the processor must reach for it. Nothing is committed:
 * every file here is a few lines of code away from its bytes.
 */
import { crc32, createDeflate, deflateSync } from 'node:zlib';
import { zipSync } from 'fflate';
import sharp from 'sharp';
import type { RejectReason } from '../../functions/core/manifest';
import { DEFAULT_SETTINGS } from '../../functions/core/settings';
import { sidewaysPhotoWithGps } from './images';
import {
  GREEN,
  cornerHeic,
  cornerImage,
  heifEnc,
  withExtraItems,
  withHvcc,
  withImageSize,
  withItemCountClaim,
  withTransforms,
} from './heic';

export type Expected =
  | { status: 'rejected'; reason: RejectReason }
  | {
      status: 'processed';
      /** The original as the manifest reports it (after auto-orientation). */
      original: { format: string; width: number; height: number };
      /** Width × height of each variant (thumb, display), where the shape proves something. */
      variants?: Array<[number, number]>;
      /** Colour of the display variant's top-left pixel, where it proves something. */
      topLeft?: Colour;
    };

export interface HostileFile {
  file: string;
  what: string;
  /** What the client claims in POST /api/uploads; the bytes are what storage holds. */
  contentType: string;
  make(): Promise<Buffer>;
  /** The size declared when asking for the upload URL, when it is not the true length. */
  declaredSize?(bytes: Buffer): number;
  expected: Expected;
}

// ---------------------------------------------------------------------------
// Byte-level builders

function u32be(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const typeAndData = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  return Buffer.concat([u32be(data.length), typeAndData, u32be(crc32(typeAndData))]);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Colour types: 0 greyscale, 2 RGB; interlacing is Adam7. */
function ihdr(
  width: number,
  height: number,
  bitDepth: number,
  colourType: number,
  interlaced = false,
): Buffer {
  const data = Buffer.alloc(13);
  data.writeUInt32BE(width, 0);
  data.writeUInt32BE(height, 4);
  data.writeUInt8(bitDepth, 8);
  data.writeUInt8(colourType, 9);
  data.writeUInt8(interlaced ? 1 : 0, 12);
  return pngChunk('IHDR', data);
}

function png(header: Buffer, ...chunks: Buffer[]): Buffer {
  return Buffer.concat([PNG_SIGNATURE, header, ...chunks, pngChunk('IEND', Buffer.alloc(0))]);
}

/** Deflates `length` zero bytes without ever holding them in memory. */
function deflateZeros(length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const deflate = createDeflate({ level: 9 });
    const out: Buffer[] = [];
    deflate.on('data', (chunk: Buffer) => out.push(chunk));
    deflate.on('end', () => resolve(Buffer.concat(out)));
    deflate.on('error', reject);
    const block = Buffer.alloc(1024 * 1024);
    let left = length;
    const write = () => {
      while (left > 0) {
        const chunk = block.subarray(0, Math.min(left, block.length));
        left -= chunk.length;
        if (!deflate.write(chunk)) return void deflate.once('drain', write);
      }
      deflate.end();
    };
    write();
  });
}

/** Bytes of filtered image data in the seven Adam7 passes over width × height. */
function adam7Length(width: number, height: number, bitsPerPixel = 1): number {
  const passes = [
    [0, 0, 8, 8],
    [4, 0, 8, 8],
    [0, 4, 4, 8],
    [2, 0, 4, 4],
    [0, 2, 2, 4],
    [1, 0, 2, 2],
    [0, 1, 1, 2],
  ];
  return passes.reduce((total, [x0, y0, dx, dy]) => {
    const columns = Math.ceil((width - x0) / dx);
    const rows = Math.ceil((height - y0) / dy);
    return total + rows * (1 + Math.ceil((columns * bitsPerPixel) / 8));
  }, 0);
}

/** Finds the only occurrence of `needle`; generators patch bytes at known structures only. */
function indexOfOnly(haystack: Buffer, needle: Buffer): number {
  const at = haystack.indexOf(needle);
  if (at < 0 || haystack.indexOf(needle, at + 1) >= 0)
    throw new Error(`expected exactly one ${needle.toString('hex')}`);
  return at;
}

/** Deterministic noise, so a "random" file is the same file on every run. */
function noise(length: number, seed = 0x2545f491): Buffer {
  const out = Buffer.alloc(length);
  let s = seed;
  for (let i = 0; i < length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Images

type Colour = [number, number, number];
const RED: Colour = [230, 20, 20];
const BLUE: Colour = [20, 20, 230];

function solid(width: number, height: number, [r, g, b]: Colour): sharp.Sharp {
  return sharp({ create: { width, height, channels: 3, background: { r, g, b } } });
}

async function smallJpeg(width = 64, height = 48): Promise<Buffer> {
  return solid(width, height, RED).jpeg({ quality: 90 }).toBuffer();
}

/** A JPEG whose EXIF orientation tag holds `value`, which sharp refuses to write itself. */
async function jpegWithOrientation(value: number): Promise<Buffer> {
  const bytes = await solid(120, 80, RED).jpeg().withMetadata({ orientation: 6 }).toBuffer();
  // Tag 0x0112, type SHORT, count 1, value 6, in either byte order.
  const little = Buffer.from('1201030001000000' + '0600', 'hex');
  const big = Buffer.from('0112000300000001' + '0006', 'hex');
  const patched = Buffer.from(bytes);
  if (patched.includes(little)) patched.writeUInt16LE(value, indexOfOnly(patched, little) + 8);
  else patched.writeUInt16BE(value, indexOfOnly(patched, big) + 8);
  return patched;
}

/** A real JPEG whose SOF0 header claims `width` × `height`. */
async function jpegClaiming(width: number, height: number): Promise<Buffer> {
  const bytes = Buffer.from(await smallJpeg(8, 8));
  // Baseline sequential frame header: FFC0, length 17, 8-bit precision, then height, width.
  const sof = indexOfOnly(bytes, Buffer.from('ffc0001108', 'hex'));
  bytes.writeUInt16BE(height, sof + 5);
  bytes.writeUInt16BE(width, sof + 7);
  return bytes;
}

/** Two 200×100 frames, red then blue: a processor that took the last frame would show blue. */
export async function animatedRedThenBlue(format: 'gif' | 'webp'): Promise<Buffer> {
  const frames = await Promise.all(
    [RED, BLUE].map(async (c) => solid(200, 100, c).png().toBuffer()),
  );
  const joined = sharp(frames, { join: { animated: true } });
  return format === 'gif'
    ? joined.gif({ delay: [100, 100] }).toBuffer()
    : joined.webp({ delay: [100, 100] }).toBuffer();
}

/** A 1×1 GIF with `count` frames, written by hand so it takes milliseconds. */
function gifWithFrames(count: number): Buffer {
  const header = Buffer.from('GIF89a', 'latin1');
  // Logical screen 1×1, global colour table of 2 entries (black, white).
  const screen = Buffer.from([1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff]);
  const loop = Buffer.from('21ff0b4e45545343415045322e300301000000', 'hex');
  // Graphic control (delay 1/100 s), image descriptor 1×1, LZW min code 2, one pixel.
  const frame = Buffer.from('21f9040001000000' + '2c000000000100010000' + '0202440100', 'hex');
  const frames = Buffer.alloc(frame.length * count);
  for (let i = 0; i < count; i++) frame.copy(frames, i * frame.length);
  return Buffer.concat([header, screen, loop, frames, Buffer.from([0x3b])]);
}

/** Little-endian baseline TIFF header and IFD claiming width × height, 8-bit grey, deflate. */
function tiffClaiming(width: number, height: number): Buffer {
  const strip = deflateSync(Buffer.alloc(1024));
  const entries: Array<[number, number, number, number]> = [
    [256, 4, 1, width], // ImageWidth, LONG
    [257, 4, 1, height], // ImageLength
    [258, 3, 1, 8], // BitsPerSample
    [259, 3, 1, 8], // Compression: Adobe deflate
    [262, 3, 1, 1], // PhotometricInterpretation: black is zero
    [273, 4, 1, 0], // StripOffsets, patched below
    [277, 3, 1, 1], // SamplesPerPixel
    [278, 4, 1, height], // RowsPerStrip: one strip
    [279, 4, 1, strip.length], // StripByteCounts
  ];
  const ifdOffset = 8;
  const ifdLength = 2 + entries.length * 12 + 4;
  const stripOffset = ifdOffset + ifdLength;
  entries[5][3] = stripOffset;
  const out = Buffer.alloc(stripOffset);
  out.write('II*\0', 0, 'latin1');
  out.writeUInt32LE(ifdOffset, 4);
  out.writeUInt16LE(entries.length, ifdOffset);
  entries.forEach(([tag, type, count, value], i) => {
    const at = ifdOffset + 2 + i * 12;
    out.writeUInt16LE(tag, at);
    out.writeUInt16LE(type, at + 2);
    out.writeUInt32LE(count, at + 4);
    if (type === 3) out.writeUInt16LE(value, at + 8);
    else out.writeUInt32LE(value, at + 8);
  });
  return Buffer.concat([out, strip]);
}

/** A 2×2 24-bit BMP: a real image format the pipeline cannot read. */
function bmp(): Buffer {
  const pixels = Buffer.alloc(16, 0x80); // two rows of 2 pixels, each row padded to 8 bytes
  const header = Buffer.alloc(54);
  header.write('BM', 0, 'latin1');
  header.writeUInt32LE(54 + pixels.length, 2);
  header.writeUInt32LE(54, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(2, 18);
  header.writeInt32LE(2, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(24, 28);
  header.writeUInt32LE(pixels.length, 34);
  return Buffer.concat([header, pixels]);
}

function isoBox(type: string, payload: Buffer): Buffer {
  return Buffer.concat([u32be(8 + payload.length), Buffer.from(type, 'latin1'), payload]);
}

/** An ISO-BMFF file branded HEIC whose boxes hold no image at all. */
function heicBrandOnly(): Buffer {
  const ftyp = isoBox('ftyp', Buffer.from('heic\0\0\0\0mif1heic', 'latin1'));
  return Buffer.concat([ftyp, isoBox('meta', Buffer.concat([Buffer.alloc(4), noise(200, 7)]))]);
}

/** A real AV1-coded AVIF relabelled with the HEIC brand: label and codec disagree. */
async function avifBrandedHeic(): Promise<Buffer> {
  const avif = Buffer.from(await solid(64, 48, RED).avif({ quality: 50 }).toBuffer());
  avif.write('heic', 8, 'latin1');
  return avif;
}

/** A WebP whose RIFF and VP8 chunk sizes claim far more data than the file holds. */
async function webpWithBogusChunkSizes(): Promise<Buffer> {
  const webp = Buffer.from(await solid(64, 48, RED).webp({ lossless: false }).toBuffer());
  webp.writeUInt32LE(0xfffffff0, 4); // RIFF size
  webp.writeUInt32LE(0x7ffffff0, 16); // first chunk's size
  return webp;
}

async function jpegHtmlPolyglot(): Promise<Buffer> {
  const jpeg = await smallJpeg(160, 120);
  const comment = Buffer.from('<html><script>alert("comment")</script>', 'latin1');
  const com = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.alloc(2), comment]);
  com.writeUInt16BE(comment.length + 2, 2);
  const trailer = Buffer.from(
    '<html><body><script>fetch("/steal?c="+document.cookie)</script></body></html>',
    'latin1',
  );
  // SOI, then the comment segment, then the rest of the JPEG, then HTML after EOI.
  return Buffer.concat([jpeg.subarray(0, 2), com, jpeg.subarray(2), trailer]);
}

const MAX = DEFAULT_SETTINGS.maxUploadBytes;

/** The bytes no output may contain: the scripts the polyglot, SVG and HTML files carry. */
export const SCRIPT_MARKER = Buffer.from('<script', 'latin1');

/**
 * Zeros as a 1-bit greyscale PNG: ~100 KiB on disk, `side`² bytes once decoded to 8 bits.
 * Adam7 interlacing makes libvips decode the whole image into memory rather than stream it.
 */
async function pixelBomb(side: number): Promise<Buffer> {
  const idat = await deflateZeros(adam7Length(side, side));
  return png(ihdr(side, side, 1, 0, true), pngChunk('IDAT', idat));
}

/** An interlaced 16-bit RGBA PNG of zeros: small on the wire, 8 bytes a pixel to decode. */
async function memoryBomb(side: number): Promise<Buffer> {
  const idat = await deflateZeros(adam7Length(side, side, 64));
  return png(ihdr(side, side, 16, 6, true), pngChunk('IDAT', idat));
}

/**
 * A baseline uncompressed little-endian TIFF in one strip, with any number of samples per
 * pixel at any depth, which sharp will not write itself. Every sample holds 0x7f bytes.
 */
export function rawTiff(
  width: number,
  height: number,
  { samples, bits, photometric, extraSamples = [] }: TiffLayout,
): Buffer {
  const data = Buffer.alloc(Math.ceil((width * samples * bits) / 8) * height, 0x7f);
  const entries: Array<[tag: number, type: 3 | 4, values: number[]]> = [
    [256, 4, [width]],
    [257, 4, [height]],
    [258, 3, Array<number>(samples).fill(bits)],
    [259, 3, [1]], // no compression
    [262, 3, [photometric]],
    [273, 4, [0]], // strip offset, patched below
    [277, 3, [samples]],
    [278, 4, [height]],
    [279, 4, [data.length]],
    [284, 3, [1]], // chunky
    ...(extraSamples.length > 0 ? [[338, 3, extraSamples] as [number, 3, number[]]] : []),
  ];
  const ifdSize = 2 + entries.length * 12 + 4;
  const ifd = Buffer.alloc(ifdSize);
  const outOfLine: Buffer[] = [];
  let offset = 8 + ifdSize;
  ifd.writeUInt16LE(entries.length, 0);
  entries.forEach(([tag, type, values], i) => {
    const at = 2 + i * 12;
    const size = type === 3 ? 2 : 4;
    const bytes = Buffer.alloc(values.length * size);
    values.forEach((v, j) =>
      size === 2 ? bytes.writeUInt16LE(v, j * 2) : bytes.writeUInt32LE(v, j * 4),
    );
    ifd.writeUInt16LE(tag, at);
    ifd.writeUInt16LE(type, at + 2);
    ifd.writeUInt32LE(values.length, at + 4);
    if (bytes.length <= 4) bytes.copy(ifd, at + 8);
    else {
      ifd.writeUInt32LE(offset, at + 8);
      outOfLine.push(bytes);
      offset += bytes.length;
    }
  });
  ifd.writeUInt32LE(offset, 2 + entries.findIndex(([tag]) => tag === 273) * 12 + 8);
  const header = Buffer.from([0x49, 0x49, 42, 0, 8, 0, 0, 0]);
  return Buffer.concat([header, ifd, ...outOfLine, data]);
}

export interface TiffLayout {
  samples: number;
  bits: number;
  /** 1 grey, 2 RGB, 5 CMYK. */
  photometric: number;
  /** One per sample beyond the colour ones: 0 unspecified, 1 associated, 2 unassociated alpha. */
  extraSamples?: number[];
}

/** One filtered row of 16 RGB pixels: far too little data for the headers that carry it. */
const ONE_ROW = deflateSync(Buffer.alloc(1 + 3 * 16));

async function pngWithBadCrc(): Promise<Buffer> {
  const bytes = Buffer.from(await solid(64, 48, RED).png().toBuffer());
  // The IDAT checksum sits just before the 12-byte IEND chunk.
  bytes.writeUInt32BE(bytes.readUInt32BE(bytes.length - 16) ^ 0xdeadbeef, bytes.length - 16);
  return bytes;
}

/** Compressed pixel data damaged mid-stream, with a checksum recomputed to match. */
function pngWithDamagedData(): Buffer {
  const rows = Buffer.alloc(64 * (1 + 3 * 64));
  for (let y = 0; y < 64; y++) noise(3 * 64, y + 1).copy(rows, y * (1 + 3 * 64) + 1);
  const idat = deflateSync(rows);
  idat.fill(0xff, 20, 40);
  return png(ihdr(64, 64, 8, 2), pngChunk('IDAT', idat));
}

const zTxtBomb = () =>
  png(
    ihdr(16, 1, 8, 2),
    pngChunk(
      'zTXt',
      Buffer.concat([
        Buffer.from('Comment\0\0', 'latin1'),
        deflateSync(Buffer.alloc(64 * 1024 * 1024, 0x41)),
      ]),
    ),
    pngChunk('IDAT', ONE_ROW),
  );

function billionLaughs(): string {
  const entities = ['<!ENTITY l0 "lol">'];
  for (let i = 1; i <= 9; i++) entities.push(`<!ENTITY l${i} "${`&l${i - 1};`.repeat(10)}">`);
  return (
    `<?xml version="1.0"?><!DOCTYPE svg [${entities.join('')}]>` +
    '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&l9;</text></svg>'
  );
}

const rejected = (reason: RejectReason): Expected => ({ status: 'rejected', reason });
const processed = (
  format: string,
  width: number,
  height: number,
  more: { variants?: Array<[number, number]>; topLeft?: Colour } = {},
): Expected => ({ status: 'processed', original: { format, width, height }, ...more });
const photo = () => sidewaysPhotoWithGps(800, 600);

/**
 * As an iPhone stores a photo: the pixels as the sensor read them (here turned a quarter
 * anticlockwise), an irot turning them back, and the JPEG's EXIF orientation 6 as well.
 */
async function iphoneStyleHeic(): Promise<Buffer> {
  const stored = await sharp(await cornerImage(320, 240).toBuffer())
    .rotate(270)
    .jpeg({ quality: 95 })
    .withMetadata({ orientation: 6 })
    .toBuffer();
  return withTransforms(heifEnc([{ bytes: stored, ext: 'jpg' }]), { anticlockwiseTurns: 3 });
}

export const HOSTILE_FILES: readonly HostileFile[] = [
  {
    file: 'empty.jpg',
    what: 'zero bytes; the API issues no URL for size 0, so the client declares 1',
    contentType: 'image/jpeg',
    make: async () => Buffer.alloc(0),
    declaredSize: () => 1,
    expected: rejected('size-mismatch'),
  },
  {
    file: 'truncated.jpg',
    what: 'an 800×600 photo cut off half way',
    contentType: 'image/jpeg',
    make: async () => {
      const whole = await photo();
      return whole.subarray(0, Math.floor(whole.length / 2));
    },
    expected: rejected('corrupt'),
  },
  {
    file: 'soi-only.jpg',
    what: 'nothing but the JPEG start-of-image marker FF D8',
    contentType: 'image/jpeg',
    make: async () => Buffer.from([0xff, 0xd8]),
    expected: rejected('corrupt'),
  },
  {
    file: 'pixel-bomb.png',
    what: '30000×30000 interlaced 1-bit PNG of zeros: 110 KiB, 900 MP decoded',
    contentType: 'image/png',
    make: () => pixelBomb(30_000),
    expected: rejected('too-many-pixels'),
  },
  {
    file: 'huge-header.png',
    what: 'PNG header claiming 65535×65535 RGB over 16 pixels of data',
    contentType: 'image/png',
    make: async () => png(ihdr(65535, 65535, 8, 2), pngChunk('IDAT', ONE_ROW)),
    expected: rejected('too-many-pixels'),
  },
  {
    file: 'huge-header-60000.jpg',
    what: 'an 8×8 JPEG whose frame header claims 60000×60000',
    contentType: 'image/jpeg',
    make: () => jpegClaiming(60_000, 60_000),
    expected: rejected('too-many-pixels'),
  },
  {
    file: 'huge-header-65535.jpg',
    what: 'an 8×8 JPEG whose frame header claims 65535×65535 (libjpeg stops at 65500)',
    contentType: 'image/jpeg',
    make: () => jpegClaiming(65535, 65535),
    expected: rejected('corrupt'),
  },
  {
    file: 'million-wide.png',
    what: 'PNG header claiming 1000000×1 (within the pixel limit) over 16 pixels of data',
    contentType: 'image/png',
    make: async () => png(ihdr(1_000_000, 1, 8, 2), pngChunk('IDAT', ONE_ROW)),
    expected: rejected('corrupt'),
  },
  {
    file: 'tiff-bomb.tif',
    what: 'TIFF claiming 100000×100000 8-bit grey in one 1 KiB deflate strip',
    contentType: 'image/tiff',
    make: async () => tiffClaiming(100_000, 100_000),
    expected: rejected('too-many-pixels'),
  },
  ...[9, 0, 65535].map((orientation): HostileFile => ({
    file: `orientation-${orientation}.jpg`,
    what: `120×80 JPEG with EXIF orientation ${orientation} (valid values: 1-8)`,
    contentType: 'image/jpeg',
    make: () => jpegWithOrientation(orientation),
    // An invalid orientation is ignored: no rotation, the stored axes stand.
    expected: processed('image/jpeg', 120, 80, {
      variants: [
        [120, 80],
        [120, 80],
      ],
    }),
  })),
  {
    file: 'cmyk.jpg',
    what: 'red 300×200 CMYK JPEG',
    contentType: 'image/jpeg',
    make: () => solid(300, 200, RED).toColourspace('cmyk').jpeg().toBuffer(),
    expected: processed('image/jpeg', 300, 200, { topLeft: RED }),
  },
  {
    file: 'sixteen-bit.png',
    what: 'blue 300×200 16-bit RGB PNG',
    contentType: 'image/png',
    make: () => solid(300, 200, BLUE).toColourspace('rgb16').png().toBuffer(),
    expected: processed('image/png', 300, 200, { topLeft: BLUE }),
  },
  {
    file: 'animated.gif',
    what: 'animated 200×100 GIF: a red frame, then a blue one',
    contentType: 'image/gif',
    make: () => animatedRedThenBlue('gif'),
    expected: processed('image/gif', 200, 100, {
      variants: [
        [200, 100],
        [200, 100],
      ],
      topLeft: RED,
    }),
  },
  {
    file: 'animated.webp',
    what: 'animated 200×100 WebP: a red frame, then a blue one',
    contentType: 'image/webp',
    make: () => animatedRedThenBlue('webp'),
    expected: processed('image/webp', 200, 100, {
      variants: [
        [200, 100],
        [200, 100],
      ],
      topLeft: RED,
    }),
  },
  {
    file: 'many-frames.gif',
    what: '1×1 GIF with 65535 frames (1.5 MB)',
    contentType: 'image/gif',
    make: async () => gifWithFrames(65535),
    expected: processed('image/gif', 1, 1, {
      variants: [
        [1, 1],
        [1, 1],
      ],
    }),
  },
  {
    file: 'script.svg',
    what: 'SVG with a <script>, declared as PNG (no SVG decoder is enabled)',
    contentType: 'image/png',
    make: async () =>
      Buffer.from(
        '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><script>alert(1)</script><rect width="100" height="100" fill="red"/></svg>',
      ),
    expected: rejected('not-an-image'),
  },
  {
    file: 'billion-laughs.svg',
    what: 'SVG with nested XML entities that expand to 10⁹ "lol"s, declared as PNG',
    contentType: 'image/png',
    make: async () => Buffer.from(billionLaughs()),
    // No SVG decoder is enabled, so librsvg never sees the entities.
    expected: rejected('not-an-image'),
  },
  {
    file: 'page.jpg',
    what: 'an HTML page with a <script>, named .jpg',
    contentType: 'image/jpeg',
    make: async () =>
      Buffer.from(
        '<!doctype html><html><body><script>alert(document.domain)</script></body></html>',
      ),
    expected: rejected('not-an-image'),
  },
  {
    file: 'polyglot.jpg',
    what: 'valid 160×120 JPEG with <script> in a comment segment and an HTML page after EOI',
    contentType: 'image/jpeg',
    make: jpegHtmlPolyglot,
    expected: processed('image/jpeg', 160, 120, { topLeft: RED }),
  },
  {
    file: 'photo-in-zip.jpg',
    what: 'ZIP archive storing (uncompressed) a valid JPEG',
    contentType: 'image/jpeg',
    make: async () => Buffer.from(zipSync({ 'photo.jpg': await smallJpeg() }, { level: 0 })),
    expected: rejected('not-an-image'),
  },
  {
    file: 'larger-than-declared.jpg',
    what: 'valid photo, declared as 100 bytes',
    contentType: 'image/jpeg',
    make: photo,
    declaredSize: () => 100,
    expected: rejected('size-mismatch'),
  },
  {
    file: 'smaller-than-declared.jpg',
    what: 'valid photo, declared 1000 bytes longer than it is',
    contentType: 'image/jpeg',
    make: photo,
    declaredSize: (bytes) => bytes.length + 1000,
    expected: rejected('size-mismatch'),
  },
  {
    file: 'over-limit.jpg',
    what: `valid photo padded to the 25 MiB limit + 1 byte, declared as the limit`,
    contentType: 'image/jpeg',
    make: async () => {
      const bytes = await photo();
      return Buffer.concat([bytes, Buffer.alloc(MAX + 1 - bytes.length)]);
    },
    declaredSize: () => MAX,
    expected: rejected('too-large'),
  },
  {
    file: 'document.pdf',
    what: 'a minimal PDF, declared as JPEG',
    contentType: 'image/jpeg',
    make: async () =>
      Buffer.from(
        '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Count 0/Kids[]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
      ),
    expected: rejected('not-an-image'),
  },
  {
    file: 'program.jpg',
    what: 'a 64-bit ELF header followed by 4 KiB of noise',
    contentType: 'image/jpeg',
    make: async () =>
      Buffer.concat([Buffer.from('7f454c46020101000000000000000000', 'hex'), noise(4096, 3)]),
    expected: rejected('not-an-image'),
  },
  {
    file: 'noise.jpg',
    what: '64 KiB of pseudo-random bytes',
    contentType: 'image/jpeg',
    make: async () => noise(64 * 1024),
    expected: rejected('not-an-image'),
  },
  {
    file: 'bad-crc.png',
    what: 'red 64×48 PNG whose IDAT checksum is wrong but whose data is intact',
    contentType: 'image/png',
    make: pngWithBadCrc,
    // libvips reads PNGs with libpng's CRC checks relaxed unless asked to fail on warnings.
    expected: processed('image/png', 64, 48, { topLeft: RED }),
  },
  {
    file: 'damaged-data.png',
    what: '64×64 PNG whose compressed pixel data is damaged (checksum matching)',
    contentType: 'image/png',
    make: async () => pngWithDamagedData(),
    expected: rejected('corrupt'),
  },
  {
    file: 'one-pixel.png',
    what: '1×1 PNG',
    contentType: 'image/png',
    make: () => solid(1, 1, RED).png().toBuffer(),
    expected: processed('image/png', 1, 1, {
      variants: [
        [1, 1],
        [1, 1],
      ],
      topLeft: RED,
    }),
  },
  {
    file: 'wide.png',
    what: '50000×1 PNG (within the pixel limit)',
    contentType: 'image/png',
    make: () => solid(50_000, 1, RED).png().toBuffer(),
    expected: processed('image/png', 50_000, 1, {
      variants: [
        [320, 1],
        [1600, 1],
      ],
    }),
  },
  {
    file: 'tall.png',
    what: '1×50000 PNG (within the pixel limit, taller than WebP allows)',
    contentType: 'image/png',
    make: () => solid(1, 50_000, RED).png().toBuffer(),
    expected: processed('image/png', 1, 50_000, {
      variants: [
        [1, 16383],
        [1, 16383],
      ],
    }),
  },
  {
    file: 'bitmap.bmp',
    what: '2×2 BMP (a real image format sharp cannot read), declared as PNG',
    contentType: 'image/png',
    make: async () => bmp(),
    expected: rejected('not-an-image'),
  },
  {
    file: 'brand-only.heic',
    what: 'ISO-BMFF file branded heic, holding no image',
    contentType: 'image/heic',
    make: async () => heicBrandOnly(),
    expected: rejected('corrupt'),
  },
  {
    file: 'avif-branded-heic.heic',
    what: 'a real AV1-coded AVIF relabelled with the heic brand',
    contentType: 'image/heic',
    make: avifBrandedHeic,
    // Routed by its brand to the HEVC decoder, which names the AV1 it finds and refuses it.
    expected: rejected('unsupported-codec'),
  },
  {
    file: 'iphone-style.heic',
    what: 'HEVC HEIC stored turned, with irot and EXIF orientation 6 (applied once)',
    contentType: 'image/heic',
    make: iphoneStyleHeic,
    expected: processed('image/heic', 320, 240, { topLeft: GREEN }),
  },
  {
    file: 'ten-bit.heic',
    what: '10-bit HEVC HEIC (heif-enc -b 10 from a 16-bit PNG)',
    contentType: 'image/heic',
    make: async () =>
      heifEnc(
        [
          {
            bytes: await cornerImage(320, 240).toColourspace('rgb16').png().toBuffer(),
            ext: 'png',
          },
        ],
        ['-b', '10'],
      ),
    expected: processed('image/heic', 320, 240, { topLeft: GREEN }),
  },
  {
    file: 'display-p3.heic',
    what: 'HEVC HEIC in Display P3 with its ICC profile (converted to sRGB)',
    contentType: 'image/heic',
    make: async () =>
      heifEnc([
        {
          bytes: await cornerImage(320, 240).withIccProfile('p3').jpeg({ quality: 95 }).toBuffer(),
          ext: 'jpg',
        },
      ]),
    expected: processed('image/heic', 320, 240, { topLeft: GREEN }),
  },
  {
    file: 'truncated.heic',
    what: 'HEVC HEIC cut off in the middle of its image data',
    contentType: 'image/heic',
    make: async () => {
      const whole = await cornerHeic(320, 240);
      return whole.subarray(0, Math.floor(whole.length * 0.7));
    },
    expected: rejected('corrupt'),
  },
  {
    file: 'huge-ispe.heic',
    what: 'HEVC HEIC whose ispe claims 100000×100000',
    contentType: 'image/heic',
    make: async () => withImageSize(await cornerHeic(320, 240), 100_000, 100_000),
    expected: rejected('too-many-pixels'),
  },
  {
    file: 'lying-ispe.heic',
    what: 'HEVC HEIC whose ispe claims 16×16 over a 320×240 stream',
    contentType: 'image/heic',
    make: async () => withImageSize(await cornerHeic(320, 240), 16, 16),
    // libheif refuses to decode far more pixels than the container declared.
    expected: rejected('too-many-pixels'),
  },
  {
    file: 'zero-ispe.heic',
    what: 'HEVC HEIC whose ispe claims 0×0',
    contentType: 'image/heic',
    make: async () => withImageSize(await cornerHeic(320, 240), 0, 0),
    expected: rejected('corrupt'),
  },
  {
    file: 'garbage-hvcc.heic',
    what: 'HEVC HEIC whose decoder configuration (hvcC) is noise',
    contentType: 'image/heic',
    make: async () =>
      withHvcc(await cornerHeic(320, 240), (hvcc) => {
        noise(hvcc.length - 4, 11).copy(hvcc, 4);
        return hvcc;
      }),
    expected: rejected('corrupt'),
  },
  {
    file: 'many-items.heic',
    what: 'HEVC HEIC whose iinf claims 60000 items',
    contentType: 'image/heic',
    make: async () => withItemCountClaim(await cornerHeic(320, 240), 60_000),
    expected: rejected('corrupt'),
  },
  {
    file: 'extra-items.heic',
    what: 'HEVC HEIC with 2000 more items than its one image',
    contentType: 'image/heic',
    make: async () => withExtraItems(await cornerHeic(320, 240), 2000),
    // libvips' libheif allows 256 items when it reads the container.
    expected: rejected('corrupt'),
  },
  {
    file: 'bogus-chunks.webp',
    what: 'WebP whose RIFF and VP8 chunk sizes claim about 2-4 GB',
    contentType: 'image/webp',
    make: webpWithBogusChunkSizes,
    expected: rejected('corrupt'),
  },
  {
    file: 'ztxt-bomb.png',
    what: '16×1 PNG with a 64 KiB zTXt chunk that inflates to 64 MiB',
    contentType: 'image/png',
    make: async () => zTxtBomb(),
    expected: processed('image/png', 16, 1),
  },
  {
    file: 'memory-bomb.png',
    what: '7071×7071 interlaced 16-bit RGBA PNG of zeros: about 600 KB, 400 MB decoded, twice that to de-interlace',
    contentType: 'image/png',
    make: () => memoryBomb(7071),
    expected: rejected('too-much-memory'),
  },
  {
    file: 'five-samples.tif',
    what: 'RGB TIFF with two extra samples per pixel, which no encoder takes',
    contentType: 'image/tiff',
    make: async () =>
      rawTiff(40, 30, { samples: 5, bits: 8, photometric: 2, extraSamples: [0, 0] }),
    expected: processed('image/tiff', 40, 30),
  },
  {
    file: 'cmyk-alpha.tif',
    what: 'CMYK TIFF with an alpha sample',
    contentType: 'image/tiff',
    make: async () => rawTiff(40, 30, { samples: 5, bits: 8, photometric: 5, extraSamples: [2] }),
    expected: processed('image/tiff', 40, 30),
  },
  {
    file: 'twelve-bit.tif',
    what: 'RGB TIFF at 12 bits per sample, a depth libtiff does not decode',
    contentType: 'image/tiff',
    make: async () => rawTiff(40, 30, { samples: 3, bits: 12, photometric: 2 }),
    expected: rejected('corrupt'),
  },
];
