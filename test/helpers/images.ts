/** Real image bytes generated on demand, so fixtures stay out of the repository. */
import sharp from 'sharp';

/**
 * A landscape JPEG stored sideways: EXIF orientation 6 says "rotate 90° clockwise",
 * and it carries GPS and camera tags the pipeline must strip.
 */
export async function sidewaysPhotoWithGps(width = 1200, height = 800): Promise<Buffer> {
  // Left half red, right half blue, so rotation is visible in the output pixels.
  const half = Math.floor(width / 2);
  const blue = await sharp({
    create: { width: width - half, height, channels: 3, background: '#0000ff' },
  })
    .png()
    .toBuffer();
  return sharp({ create: { width, height, channels: 3, background: '#ff0000' } })
    .composite([{ input: blue, left: half, top: 0 }])
    .jpeg({ quality: 90 })
    .withExif({
      IFD0: { Make: 'DirectdropCam', Model: 'Test 1' },
      IFD3: {
        GPSLatitudeRef: 'N',
        GPSLatitude: '51/1 30/1 0/1',
        GPSLongitudeRef: 'W',
        GPSLongitude: '0/1 7/1 0/1',
      },
    })
    .withMetadata({ orientation: 6 })
    .toBuffer();
}

export async function pngImage(width: number, height: number): Promise<Buffer> {
  return sharp({
    create: { width, height, channels: 4, background: { r: 10, g: 200, b: 30, alpha: 0.5 } },
  })
    .png()
    .toBuffer();
}

/** A small file whose pixel count is enormous: a decompression bomb. */
export async function pixelBomb(side = 10_000): Promise<Buffer> {
  return sharp({ create: { width: side, height: side, channels: 3, background: '#000000' } })
    .png({ compressionLevel: 9 })
    .toBuffer();
}

export async function truncatedJpeg(): Promise<Buffer> {
  const whole = await sidewaysPhotoWithGps(800, 600);
  return whole.subarray(0, Math.floor(whole.length / 2));
}

export const textPretendingToBeJpeg = Buffer.from(
  'This is a plain text file, not a photo.\n'.repeat(20),
);

/** Camera-like noise: compresses like a photo and takes real work to decode and resize. */
export function cameraNoise(width: number, height: number): sharp.Sharp {
  return sharp({
    create: {
      width,
      height,
      channels: 3,
      background: '#808080',
      noise: { type: 'gaussian', mean: 128, sigma: 30 },
    },
  });
}

/**
 * A sunset with hills and seeded grain: deterministic (so the screenshot only changes
 * when the page does) and grainy enough to weigh what a real photo weighs.
 */
export async function sunsetPhoto(width = 2400, height = 1600): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  let seed = 42;
  const grain = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return ((seed >>> 0) % 25) - 12;
  };
  for (let y = 0; y < height; y++) {
    const t = y / height;
    for (let x = 0; x < width; x++) {
      const hill = height * (0.62 + 0.08 * Math.sin(x / 170) + 0.04 * Math.sin(x / 53));
      const [r, g, b] =
        y > hill
          ? [40 + 30 * t, 70 + 40 * t, 50]
          : [250 - 60 * t, 140 + 60 * (1 - t) - 80 * t, 90 + 120 * t];
      const i = (y * width + x) * 3;
      pixels[i] = Math.max(0, Math.min(255, r + grain()));
      pixels[i + 1] = Math.max(0, Math.min(255, g + grain()));
      pixels[i + 2] = Math.max(0, Math.min(255, b + grain()));
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}
