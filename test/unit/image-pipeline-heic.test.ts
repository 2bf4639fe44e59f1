/**
 * HEIC (HEVC) through the image pipeline: decoded by libheif's WebAssembly build in a
 * worker thread, then resized and encoded by sharp like every other format. Fixtures
 * are made by heif-enc, with irot/imir added the way a camera writes them.
 */
import { expect } from 'chai';
import sharp from 'sharp';
import { processImage, type ImageLimits } from '../../functions/core/image-pipeline';
import { DEFAULT_SETTINGS } from '../../functions/core/settings';
import {
  type Colour,
  GREEN,
  RED_BODY,
  cornerHeic,
  cornerImage,
  heifEnc,
  withNclx,
  withTransforms,
} from '../helpers/heic';

const { variants, maxInputPixels, maxDecodeBytes, allowedContentTypes } = DEFAULT_SETTINGS;
const limits: ImageLimits = { maxInputPixels, maxDecodeBytes, allowedContentTypes };
/** Channel tolerance for colours through HEVC, YCbCr 4:2:0 and lossy WebP. */
const TOLERANCE = 30;

type Corner = 'top-left' | 'top-right' | 'bottom-left' | 'bottom-right';

async function processed(bytes: Buffer, options: ImageLimits = limits) {
  const result = await processImage(bytes, variants, options);
  if (!result.ok) throw new Error(`rejected: ${result.reason}: ${result.message}`);
  return result;
}

/** The colour at each corner of an encoded variant, a few pixels in. */
async function corners(image: Buffer): Promise<Record<Corner, Colour>> {
  const { data, info } = await sharp(image).raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number): Colour => {
    const i = (y * info.width + x) * info.channels;
    return [data[i], data[i + 1], data[i + 2]];
  };
  const right = info.width - 4;
  const bottom = info.height - 4;
  return {
    'top-left': at(3, 3),
    'top-right': at(right, 3),
    'bottom-left': at(3, bottom),
    'bottom-right': at(right, bottom),
  };
}

function expectColour(actual: Colour, expected: Colour, what: string) {
  actual.forEach((value, channel) =>
    expect(value, `${what}, channel ${channel}: ${actual}`).to.be.closeTo(
      expected[channel],
      TOLERANCE,
    ),
  );
}

async function expectGreenCorner(image: Buffer, green: Corner) {
  const found = await corners(image);
  for (const [corner, colour] of Object.entries(found))
    expectColour(colour, corner === green ? GREEN : RED_BODY, corner);
}

describe('image-pipeline: HEIC', function () {
  // Each decode starts a worker thread, which under tsx compiles its TypeScript first.
  this.timeout(60_000);
  let heic: Buffer;
  before(async () => {
    heic = await cornerHeic(320, 240);
  });

  it('decodes HEVC-coded HEIC to sRGB variants at their widths with no metadata', async () => {
    const result = await processed(heic);
    expect(result.original).to.deep.equal({ format: 'image/heic', width: 320, height: 240 });
    expect(result.variants.map((v) => [v.name, v.width, v.height])).to.deep.equal([
      ['thumb', 320, 240],
      ['display', 320, 240],
    ]);
    for (const variant of result.variants) {
      const metadata = await sharp(variant.data).metadata();
      expect([metadata.format, metadata.space]).to.deep.equal(['webp', 'srgb']);
      expect(metadata.exif, 'EXIF stripped').to.equal(undefined);
      expect(metadata.icc, 'ICC stripped').to.equal(undefined);
      expect(metadata.xmp, 'XMP stripped').to.equal(undefined);
    }
    await expectGreenCorner(result.variants[1].data, 'top-left');
  });

  // irot turns anticlockwise; imir as libheif applies it (axis 0 swaps top and bottom).
  const transforms: Array<{
    what: string;
    transform: Parameters<typeof withTransforms>[1];
    size: [number, number];
    green: Corner;
  }> = [
    {
      what: 'irot 90°',
      transform: { anticlockwiseTurns: 1 },
      size: [240, 320],
      green: 'bottom-left',
    },
    {
      what: 'irot 180°',
      transform: { anticlockwiseTurns: 2 },
      size: [320, 240],
      green: 'bottom-right',
    },
    {
      what: 'irot 270°',
      transform: { anticlockwiseTurns: 3 },
      size: [240, 320],
      green: 'top-right',
    },
    { what: 'imir axis 0', transform: { mirrorAxis: 0 }, size: [320, 240], green: 'bottom-left' },
    { what: 'imir axis 1', transform: { mirrorAxis: 1 }, size: [320, 240], green: 'top-right' },
    {
      what: 'irot 90° then imir axis 0',
      transform: { anticlockwiseTurns: 1, mirrorAxis: 0 },
      size: [240, 320],
      green: 'top-left',
    },
  ];
  for (const { what, transform, size, green } of transforms) {
    it(`applies the HEIF transform ${what} once`, async () => {
      const result = await processed(withTransforms(heic, transform));
      expect([result.original.width, result.original.height]).to.deep.equal(size);
      expect([result.variants[1].width, result.variants[1].height]).to.deep.equal(size);
      await expectGreenCorner(result.variants[1].data, green);
    });
  }

  it('turns an iPhone-style photo (irot and EXIF orientation 6 both) once, not twice', async () => {
    // heif-enc copies the JPEG's EXIF, orientation tag included; the irot is what a camera adds.
    const sideways = await cornerImage(320, 240)
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const bytes = withTransforms(heifEnc([{ bytes: sideways, ext: 'jpg' }]), {
      anticlockwiseTurns: 3,
    });
    expect((await sharp(bytes).metadata()).exif, 'the fixture carries EXIF').to.be.instanceOf(
      Buffer,
    );
    const result = await processed(bytes);
    expect([result.original.width, result.original.height]).to.deep.equal([240, 320]);
    await expectGreenCorner(result.variants[1].data, 'top-right');
    expect((await sharp(result.variants[1].data).metadata()).exif).to.equal(undefined);
  });

  it('decodes a 10-bit HEIC', async () => {
    const deep = await cornerImage(320, 240).toColourspace('rgb16').png().toBuffer();
    const bytes = heifEnc([{ bytes: deep, ext: 'png' }], ['-b', '10']);
    const result = await processed(bytes);
    await expectGreenCorner(result.variants[1].data, 'top-left');
  });

  it('converts Display P3 to sRGB from an embedded ICC profile', async () => {
    // The same colours expressed in Display P3 (sRGB green is about 117,251,76 there).
    const p3 = await cornerImage(320, 240).withIccProfile('p3').jpeg({ quality: 95 }).toBuffer();
    expect((await sharp(p3).metadata()).icc).to.be.instanceOf(Buffer);
    const result = await processed(heifEnc([{ bytes: p3, ext: 'jpg' }]));
    await expectGreenCorner(result.variants[1].data, 'top-left');
    expect((await sharp(result.variants[1].data).metadata()).icc).to.equal(undefined);
  });

  it('converts Display P3 to sRGB from nclx colour primaries', async () => {
    const p3Pixels = await cornerImage(320, 240)
      .withIccProfile('p3', { attach: false })
      .png()
      .toBuffer();
    // Display P3 primaries, the sRGB transfer curve, BT.601 coefficients (heif-enc's own).
    const bytes = withNclx(heifEnc([{ bytes: p3Pixels, ext: 'png' }]), {
      primaries: 12,
      transfer: 13,
      matrix: 6,
    });
    const result = await processed(bytes);
    await expectGreenCorner(result.variants[1].data, 'top-left');
  });

  it('keeps the transparency of a HEIC with an alpha plane', async () => {
    const translucent = await sharp({
      create: {
        width: 320,
        height: 240,
        channels: 4,
        background: { r: 20, g: 220, b: 20, alpha: 0.5 },
      },
    })
      .png()
      .toBuffer();
    const result = await processImage(
      heifEnc([{ bytes: translucent, ext: 'png' }]),
      [{ name: 'png', width: 160, format: 'png', quality: 80 }],
      limits,
    );
    if (!result.ok) throw new Error(result.message);
    const { data, info } = await sharp(result.variants[0].data)
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect(info.channels).to.equal(4);
    expect(data[3], 'alpha').to.be.closeTo(128, 10);
    expectColour([data[0], data[1], data[2]], GREEN, 'colour');
  });

  it('makes variants of the primary image only: not of its thumbnail or of other images', async () => {
    const primary = await cornerImage(320, 240).toBuffer();
    const other = await cornerImage(640, 480, RED_BODY, GREEN).toBuffer();
    const bytes = heifEnc(
      [
        { bytes: primary, ext: 'png' },
        { bytes: other, ext: 'png' },
      ],
      ['-t', '64'],
    );
    const result = await processed(bytes);
    expect(result.original).to.deep.equal({ format: 'image/heic', width: 320, height: 240 });
    await expectGreenCorner(result.variants[1].data, 'top-left');
  });

  it('never decodes a HEIC where the allowed types leave HEIC out', async () => {
    const noHeic = allowedContentTypes.filter(
      (type) => !['image/heic', 'image/heif'].includes(type),
    );
    expect(
      await processImage(heic, variants, { ...limits, allowedContentTypes: noHeic }),
    ).to.include({
      ok: false,
      reason: 'type-not-allowed',
    });
  });

  it('checks the declared size against the pixel limit before decoding', async () => {
    expect(
      await processImage(heic, variants, { ...limits, maxInputPixels: 320 * 240 - 1 }),
    ).to.include({
      ok: false,
      reason: 'too-many-pixels',
    });
  });

  it('rejects a HEIC whose decode needs more memory than its budget', async () => {
    const result = await processImage(heic, variants, { ...limits, maxDecodeBytes: 64 * 1024 });
    expect(result).to.include({ ok: false, reason: 'too-much-memory' });
  });

  it('stops a decode that passes the time limit, and decodes the next image', async () => {
    const big = await cornerHeic(2000, 1500);
    const result = await processImage(big, variants, { ...limits, heicDecodeTimeoutMs: 1 });
    expect(result).to.deep.include({ ok: false, reason: 'corrupt' });
    expect(result.ok === false && result.message).to.match(/longer than 0.001 s/);
    await processed(heic);
  });

  it('names AV1 when a file branded HEIC holds AV1-coded data', async () => {
    const avif = Buffer.from(
      await sharp({ create: { width: 64, height: 48, channels: 3, background: '#ff0000' } })
        .avif({ quality: 50 })
        .toBuffer(),
    );
    avif.write('heic', 8, 'latin1');
    const result = await processImage(avif, variants, limits);
    expect(result).to.include({ ok: false, reason: 'unsupported-codec' });
    expect(result.ok === false && result.message).to.contain('AV1');
  });
});
