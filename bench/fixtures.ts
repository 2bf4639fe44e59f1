/**
 * Benchmark images, generated on first use and cached in bench/results/fixtures (ignored
 * by git): a 12-megapixel landscape JPEG that compresses like a photo (sky, clouds, textured
 * fields and sensor-like noise, so JPEG cannot shrink it to nothing) and a large RGBA PNG
 * of the same scene. Deterministic, so every run uses the same bytes.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
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
const VERSION = 2;

function xorshift(seed: number): () => number {
  let s = seed;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** One octave of value noise: random values on a grid of `cell` px, smoothly interpolated. */
function octave(random: () => number, cell: number): (x: number, y: number) => number {
  const columns = Math.ceil(WIDTH / cell) + 2;
  const grid = Float32Array.from({ length: columns * (Math.ceil(HEIGHT / cell) + 2) }, random);
  return (x, y) => {
    const gx = x / cell;
    const gy = y / cell;
    const x0 = Math.floor(gx);
    const y0 = Math.floor(gy);
    const fx = (gx - x0) * (gx - x0) * (3 - 2 * (gx - x0));
    const fy = (gy - y0) * (gy - y0) * (3 - 2 * (gy - y0));
    const i = y0 * columns + x0;
    const top = grid[i] * (1 - fx) + grid[i + 1] * fx;
    const bottom = grid[i + columns] * (1 - fx) + grid[i + columns + 1] * fx;
    return top * (1 - fy) + bottom * fy;
  };
}

const mix = (a: number, b: number, t: number) => a + (b - a) * t;

/**
 * RGB pixels of a synthetic landscape: a sky graded towards the horizon with clouds, a
 * ridge line, and fields whose texture comes from four octaves of value noise, plus
 * sensor-like noise of ±noise/2 levels (mostly luminance, some chroma).
 */
function scene(noise: number): Buffer {
  const random = xorshift(42);
  const texture = [512, 128, 32, 8].map((cell) => octave(random, cell));
  const weights = [0.45, 0.27, 0.17, 0.11];
  const clouds = [700, 200, 50].map((cell) => octave(random, cell));
  const soil = octave(random, 900);
  const ridge = octave(random, 420);
  const pixels = Buffer.alloc(WIDTH * HEIGHT * 3);
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      const horizon = HEIGHT * (0.42 + 0.1 * (ridge(x, 0) - 0.5) + 0.02 * (texture[2](x, 0) - 0.5));
      let rgb: [number, number, number];
      if (y < horizon) {
        const t = y / horizon;
        const cloud = 0.6 * clouds[0](x, y) + 0.25 * clouds[1](x, y) + 0.15 * clouds[2](x, y);
        const c = Math.max(0, Math.min(1, (cloud - 0.52) * 3));
        rgb = [
          mix(mix(60, 175, t), 238, c),
          mix(mix(110, 205, t), 240, c),
          mix(mix(195, 235, t), 245, c),
        ];
      } else {
        const t = (y - horizon) / (HEIGHT - horizon);
        const detail = texture.reduce((sum, o, i) => sum + weights[i] * o(x, y), 0);
        const light = (0.45 + 0.9 * (detail - 0.5)) * (1 - 0.35 * t) + 0.3;
        const dry = soil(x, y);
        rgb = [
          mix(55, 125, dry) * light * 1.1,
          mix(105, 100, dry) * light * 1.1,
          mix(35, 60, dry) * light,
        ];
      }
      const luma = (random() - 0.5) * noise;
      const at = (y * WIDTH + x) * 3;
      for (let c = 0; c < 3; c++) {
        const value = rgb[c] + luma + (random() - 0.5) * noise * 0.3;
        pixels[at + c] = Math.max(0, Math.min(255, value));
      }
    }
  }
  return pixels;
}

async function photoJpeg(): Promise<Buffer> {
  return sharp(scene(32), { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
    .jpeg({ quality: 92 })
    .withExif({ IFD0: { Make: 'DirectdropBench', Model: 'Synthetic 12 MP' } })
    .toBuffer();
}

/**
 * The same landscape with lighter noise and 6 bits per colour, plus a horizontal alpha
 * ramp: an 11 MB RGBA PNG, the kind an editor exports with transparency.
 */
async function exportedPng(): Promise<Buffer> {
  const rgb = scene(6);
  const rgba = Buffer.alloc(WIDTH * HEIGHT * 4);
  for (let p = 0, q = 0; p < rgb.length; p += 3, q += 4) {
    for (let c = 0; c < 3; c++) rgba[q + c] = rgb[p + c] - (rgb[p + c] % 4);
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
  const [jpegPath, jpeg] = await cached(`landscape-12mp-v${VERSION}.jpg`, photoJpeg);
  const [pngPath, png] = await cached(`landscape-12mp-v${VERSION}.png`, exportedPng);
  const common = { width: WIDTH, height: HEIGHT };
  return {
    jpeg: { name: '12 MP JPEG', path: jpegPath, bytes: jpeg, contentType: 'image/jpeg', ...common },
    png: { name: '12 MP RGBA PNG', path: pngPath, bytes: png, contentType: 'image/png', ...common },
  };
}

/**
 * The 12 MP JPEG's photo as HEIC (HEVC), encoded by Debian's heif-enc at quality 50 (about
 * an iPhone's bytes per pixel), for the HEIC benchmark; heif-enc's version is returned too.
 */
export async function loadHeicFixture(
  jpeg: Fixture,
): Promise<{ fixture: Fixture; encoder: string }> {
  const help = spawnSync('heif-enc', ['--help'], { encoding: 'utf8' });
  if (help.error) throw new Error('heif-enc is not installed (apt-get install libheif-examples)');
  const libheif = /libheif version: (\S+)/.exec(`${help.stdout}${help.stderr}`)?.[1];
  const [path, bytes] = await cached(`landscape-12mp-v${VERSION}.heic`, async () => {
    const out = join(BENCH_DIR, 'results', 'fixtures', 'encoding.heic');
    const result = spawnSync('heif-enc', ['-q', '50', '-o', out, jpeg.path], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`heif-enc failed: ${result.stderr}`);
    const encoded = await readFile(out);
    await rm(out);
    return encoded;
  });
  return {
    fixture: { ...jpeg, name: '12 MP HEIC', path, bytes, contentType: 'image/heic' },
    encoder: `heif-enc (libheif ${libheif ?? 'unknown version'})`,
  };
}
