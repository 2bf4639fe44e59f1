/**
 * Wraps raw 8-bit RGB(A) pixels in a minimal uncompressed TIFF carrying an ICC profile.
 * sharp's raw input cannot carry a profile, and its only input-profile conversion is the
 * one it applies to an image's embedded profile; uncompressed TIFF is the cheapest
 * container libvips reads (its TIFF loader is among the enabled ones) that embeds one.
 */

export interface RawPixels {
  width: number;
  height: number;
  channels: 3 | 4;
  pixels: Uint8Array;
}

const ROWS_PER_STRIP = 64;

// TIFF 6.0 field types
const SHORT = 3;
const LONG = 4;
const UNDEFINED = 7;

export function uncompressedTiff(image: RawPixels, iccProfile: Uint8Array): Buffer {
  const { width, height, channels, pixels } = image;
  const rowBytes = width * channels;
  if (pixels.length !== rowBytes * height) throw new Error('pixel buffer does not match its size');
  const strips = Math.ceil(height / ROWS_PER_STRIP);

  // Layout: header, IFD, then the out-of-line values, then the pixels.
  const entries: Array<[tag: number, type: number, count: number, value: number[] | Uint8Array]> = [
    [256, LONG, 1, [width]],
    [257, LONG, 1, [height]],
    [258, SHORT, channels, new Array<number>(channels).fill(8)], // BitsPerSample
    [259, SHORT, 1, [1]], // no compression
    [262, SHORT, 1, [2]], // RGB
    [273, LONG, strips, []], // StripOffsets, filled in below
    [277, SHORT, 1, [channels]],
    [278, LONG, 1, [ROWS_PER_STRIP]],
    [279, LONG, strips, []], // StripByteCounts, filled in below
    [284, SHORT, 1, [1]], // chunky
    ...(channels === 4 ? [[338, SHORT, 1, [2]] as [number, number, number, number[]]] : []), // unassociated alpha
    [34675, UNDEFINED, iccProfile.length, iccProfile],
  ];
  const ifdSize = 2 + entries.length * 12 + 4;
  const valueBytes = (type: number, count: number) =>
    (type === SHORT ? 2 : type === LONG ? 4 : 1) * count;
  let extraSize = 0;
  for (const [, type, count] of entries) {
    const size = valueBytes(type, count);
    if (size > 4) extraSize += size + (size % 2);
  }
  const pixelsAt = 8 + ifdSize + extraSize;
  const stripOffsets: number[] = [];
  const stripCounts: number[] = [];
  for (let strip = 0; strip < strips; strip++) {
    const rows = Math.min(ROWS_PER_STRIP, height - strip * ROWS_PER_STRIP);
    stripOffsets.push(pixelsAt + strip * ROWS_PER_STRIP * rowBytes);
    stripCounts.push(rows * rowBytes);
  }
  entries[5][3] = stripOffsets;
  entries[8][3] = stripCounts;

  const file = Buffer.allocUnsafe(pixelsAt + pixels.length);
  file.fill(0, 0, pixelsAt);
  file.write('II', 0, 'latin1');
  file.writeUInt16LE(42, 2);
  file.writeUInt32LE(8, 4);
  file.writeUInt16LE(entries.length, 8);
  let extraAt = 8 + ifdSize;
  entries.forEach(([tag, type, count, value], index) => {
    const at = 10 + index * 12;
    file.writeUInt16LE(tag, at);
    file.writeUInt16LE(type, at + 2);
    file.writeUInt32LE(count, at + 4);
    const size = valueBytes(type, count);
    let target = at + 8;
    if (size > 4) {
      file.writeUInt32LE(extraAt, at + 8);
      target = extraAt;
      extraAt += size + (size % 2);
    } else {
      file.writeUInt32LE(0, at + 8);
    }
    if (value instanceof Uint8Array) file.set(value, target);
    else
      value.forEach((v, i) =>
        type === SHORT
          ? file.writeUInt16LE(v, target + i * 2)
          : file.writeUInt32LE(v, target + i * 4),
      );
  });
  file.writeUInt32LE(0, 8 + 2 + entries.length * 12); // no next IFD
  file.set(pixels, pixelsAt);
  return file;
}
