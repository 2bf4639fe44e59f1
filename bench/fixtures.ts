/**
 * Benchmark images, generated on first use and cached in bench/results/fixtures (ignored
 * by git): a 12-megapixel JPEG that compresses like a photo (smooth scene, texture and
 * sensor-like noise, so JPEG cannot shrink it to nothing) and a large RGBA PNG of the
 * kind screenshots and graphics produce. Deterministic, so every run uses the same bytes.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { BENCH_DIR } from './lib/child';

export interface Fixture {
  name: string;
  path: string;
  bytes: Buffer;
  contentType: string;
  width: number;
  height: number;
}

const WIDTH = 4000;
const HEIGHT = 3000;
/** Bump when the generator changes, so stale cached files are not reused. */
const VERSION = 1;

function xorshift(seed: number): () => number {
  let s = seed;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/**
 * RGB pixels of a synthetic landscape: vertical colour gradients, value noise on a 64 px
 * grid for mid-frequency texture, a ripple, and per-pixel noise of ±noise/2 levels.
 */
function scene(noise: number): Buffer {
  const random = xorshift(42);
  const cell = 64;
  const gridWidth = Math.ceil(WIDTH / cell) + 2;
  const grid = Float32Array.from(
    { length: gridWidth * (Math.ceil(HEIGHT / cell) + 2) * 3 },
    random,
  );
  const pixels = Buffer.alloc(WIDTH * HEIGHT * 3);
  for (let y = 0; y < HEIGHT; y++) {
    const y0 = Math.floor(y / cell);
    const fy = y / cell - y0;
    for (let x = 0; x < WIDTH; x++) {
      const x0 = Math.floor(x / cell);
      const fx = x / cell - x0;
      const at = (gx: number, gy: number, c: number) => grid[(gy * gridWidth + gx) * 3 + c];
      for (let c = 0; c < 3; c++) {
        const texture =
          (at(x0, y0, c) * (1 - fx) + at(x0 + 1, y0, c) * fx) * (1 - fy) +
          (at(x0, y0 + 1, c) * (1 - fx) + at(x0 + 1, y0 + 1, c) * fx) * fy;
        const sky = c === 2 ? 200 - (y / HEIGHT) * 120 : 60 + (y / HEIGHT) * 120;
        const ripple = 25 * Math.sin(x / 37 + c) * Math.cos(y / 53);
        const value = sky + (texture - 0.5) * 90 + ripple + (random() - 0.5) * noise;
        pixels[(y * WIDTH + x) * 3 + c] = Math.max(0, Math.min(255, value));
      }
    }
  }
  return pixels;
}

async function photoJpeg(): Promise<Buffer> {
  return sharp(scene(40), { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
    .jpeg({ quality: 92 })
    .withExif({ IFD0: { Make: 'DirectdropBench', Model: 'Synthetic 12 MP' } })
    .toBuffer();
}

/** Posterised colours and a horizontal alpha ramp: how large graphics PNGs look. */
async function graphicPng(): Promise<Buffer> {
  const rgb = scene(0);
  const rgba = Buffer.alloc(WIDTH * HEIGHT * 4);
  for (let p = 0, q = 0; p < rgb.length; p += 3, q += 4) {
    for (let c = 0; c < 3; c++) rgba[q + c] = rgb[p + c] - (rgb[p + c] % 8);
    rgba[q + 3] = 255 - Math.floor((((q / 4) % WIDTH) * 128) / WIDTH);
  }
  return sharp(rgba, { raw: { width: WIDTH, height: HEIGHT, channels: 4 } })
    .png({ compressionLevel: 6 })
    .toBuffer();
}

async function cached(file: string, make: () => Promise<Buffer>): Promise<[string, Buffer]> {
  const folder = join(BENCH_DIR, 'results', 'fixtures');
  const path = join(folder, file);
  try {
    return [path, await readFile(path)];
  } catch {
    await mkdir(folder, { recursive: true });
    const bytes = await make();
    await writeFile(path, bytes);
    return [path, bytes];
  }
}

export async function loadFixtures(): Promise<{ jpeg: Fixture; png: Fixture }> {
  const [jpegPath, jpeg] = await cached(`photo-12mp-v${VERSION}.jpg`, photoJpeg);
  const [pngPath, png] = await cached(`graphic-12mp-v${VERSION}.png`, graphicPng);
  const common = { width: WIDTH, height: HEIGHT };
  return {
    jpeg: { name: '12 MP JPEG', path: jpegPath, bytes: jpeg, contentType: 'image/jpeg', ...common },
    png: { name: '12 MP RGBA PNG', path: pngPath, bytes: png, contentType: 'image/png', ...common },
  };
}
