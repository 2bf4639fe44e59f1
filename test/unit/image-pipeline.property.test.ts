/**
 * Whatever image arrives, processing ends in an outcome: `processed`, or `rejected` with a
 * known reason, never a thrown error (which would be retried and end `failed`). Images are
 * generated over width, height, channels, bit depth, format, interlace or progressive
 * coding, EXIF orientation and animation, plus hand-written TIFFs of layouts sharp will
 * not write (extra samples, odd depths, CMYK with alpha).
 *
 * Runs are reproducible: the seed is fixed and fast-check prints it with any failure. Set
 * FC_SEED=<n> to replay or explore another seed, FC_RUNS=<factor> to run more cases.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import sharp from 'sharp';
import { processImage } from '../../functions/core/image-pipeline';
import type { RejectReason } from '../../functions/core/manifest';
import { DEFAULT_SETTINGS } from '../../functions/core/settings';
import { type TiffLayout, rawTiff } from '../helpers/hostile-files';

const SEED = Number(process.env.FC_SEED ?? 20_261_201);
const RUNS = Math.max(1, Math.round(60 * Number(process.env.FC_RUNS ?? 1)));

const FORMATS = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif'] as const;
type Format = (typeof FORMATS)[number];
const REASONS: readonly RejectReason[] = [
  'corrupt',
  'unprocessable',
  'too-much-memory',
  'too-many-pixels',
  'not-an-image',
  'unsupported-codec',
];

interface Spec {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  sixteenBit: boolean;
  format: Format;
  interlaced: boolean;
  orientation: number;
  frames: number;
}

function frame({ width, height, channels }: Spec, index: number): sharp.Sharp {
  const data = Buffer.alloc(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + index * 91 + (i >> 5)) & 0xff;
  return sharp(data, { raw: { width, height, channels } });
}

async function encode(spec: Spec): Promise<Buffer> {
  const { channels, frames, format, interlaced, sixteenBit } = spec;
  // Frames become an animation in the formats that have them, a multi-page TIFF otherwise.
  let image =
    frames === 1
      ? frame(spec, 0)
      : sharp(
          await Promise.all(
            Array.from({ length: frames }, (_, i) => frame(spec, i).png().toBuffer()),
          ),
          { join: { animated: true } },
        );
  image = image.withMetadata({ orientation: spec.orientation });
  if (sixteenBit && (format === 'png' || format === 'tiff'))
    image = image.toColourspace(channels < 3 ? 'grey16' : 'rgb16');
  switch (format) {
    case 'jpeg':
      return image.jpeg({ progressive: interlaced }).toBuffer();
    case 'png':
      return image.png({ progressive: interlaced }).toBuffer();
    case 'webp':
      return image.webp({ loop: 0 }).toBuffer();
    case 'gif':
      return image.gif({ progressive: interlaced }).toBuffer();
    case 'tiff':
      return image
        .tiff(channels === 1 && !sixteenBit && interlaced ? { bitdepth: 4 } : {})
        .toBuffer();
    case 'avif':
      return image.avif({ effort: 0 }).toBuffer();
  }
}

const spec: fc.Arbitrary<Spec> = fc.record({
  width: fc.integer({ min: 1, max: 96 }),
  height: fc.integer({ min: 1, max: 96 }),
  channels: fc.constantFrom(1, 2, 3, 4),
  sixteenBit: fc.boolean(),
  format: fc.constantFrom(...FORMATS),
  interlaced: fc.boolean(),
  orientation: fc.integer({ min: 1, max: 8 }),
  frames: fc.integer({ min: 1, max: 3 }),
});

const tiffLayout: fc.Arbitrary<TiffLayout> = fc.oneof(
  fc.record({
    samples: fc.integer({ min: 1, max: 8 }),
    bits: fc.constantFrom(1, 2, 4, 8, 12, 16, 32),
    photometric: fc.constant(1),
  }),
  fc.record({
    samples: fc.integer({ min: 3, max: 8 }),
    bits: fc.constantFrom(8, 16),
    photometric: fc.constant(2),
  }),
  fc.record({
    samples: fc.integer({ min: 4, max: 6 }),
    bits: fc.constantFrom(8, 16),
    photometric: fc.constant(5),
  }),
);

async function expectOutcome(bytes: Buffer): Promise<void> {
  const result = await processImage(bytes, DEFAULT_SETTINGS.variants, DEFAULT_SETTINGS);
  if (!result.ok) expect(REASONS).to.include(result.reason);
  else expect(result.variants).to.have.length(DEFAULT_SETTINGS.variants.length);
}

describe('image-pipeline: every image is an outcome (property)', function () {
  this.timeout(120_000);

  it('processes or rejects generated images of every format, depth, layout and orientation', async () => {
    await fc.assert(
      fc.asyncProperty(spec, async (s) => expectOutcome(await encode(s))),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('processes or rejects TIFFs with extra samples, odd depths and CMYK with alpha', async () => {
    await fc.assert(
      fc.asyncProperty(
        tiffLayout,
        fc.integer({ min: 1, max: 48 }),
        fc.integer({ min: 1, max: 48 }),
        async (layout, width, height) => {
          const extra = Math.max(
            0,
            layout.samples - (layout.photometric === 1 ? 1 : layout.photometric === 2 ? 3 : 4),
          );
          const extraSamples = Array<number>(extra).fill(0);
          if (extra > 0 && layout.photometric === 5) extraSamples[0] = 2;
          await expectOutcome(rawTiff(width, height, { ...layout, extraSamples }));
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
