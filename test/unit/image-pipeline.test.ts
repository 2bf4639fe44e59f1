import { expect } from 'chai';
import sharp from 'sharp';
import { decodeMemoryBytes, processImage } from '../../functions/core/image-pipeline';
import { DEFAULT_SETTINGS } from '../../functions/core/settings';
import {
  pixelBomb,
  pngImage,
  sidewaysPhotoWithGps,
  textPretendingToBeJpeg,
  truncatedJpeg,
} from '../helpers/images';
import { animatedRedThenBlue } from '../helpers/hostile-files';
import { rejection } from '../helpers/rejection';

const { variants, maxInputPixels, maxDecodeBytes, allowedContentTypes } = DEFAULT_SETTINGS;
const limits = { maxInputPixels, maxDecodeBytes, allowedContentTypes };

describe('image-pipeline', () => {
  it('makes every variant auto-oriented, at its width, as WebP, with no metadata', async () => {
    // 1200×800 stored sideways (orientation 6) is a 800×1200 portrait photo.
    const result = await processImage(await sidewaysPhotoWithGps(1200, 800), variants, limits);
    if (!result.ok) throw new Error(`rejected: ${result.reason}`);
    expect(result.original).to.deep.equal({ format: 'image/jpeg', width: 800, height: 1200 });
    const [thumb, display] = result.variants;
    expect([thumb.name, thumb.width, thumb.height]).to.deep.equal(['thumb', 320, 480]);
    // The display width (1600) exceeds the source: never enlarged.
    expect([display.name, display.width, display.height]).to.deep.equal(['display', 800, 1200]);
    for (const variant of result.variants) {
      const metadata = await sharp(variant.data).metadata();
      expect(metadata.format).to.equal('webp');
      expect(variant.contentType).to.equal('image/webp');
      expect([metadata.width, metadata.height]).to.deep.equal([variant.width, variant.height]);
      expect(metadata.exif, 'EXIF (incl. GPS) stripped').to.equal(undefined);
      expect(metadata.xmp, 'XMP stripped').to.equal(undefined);
      expect(metadata.orientation ?? 1).to.equal(1);
    }
    // Rotated clockwise: the red left half of the stored image is now the top.
    const { data } = await sharp(display.data).raw().toBuffer({ resolveWithObject: true });
    const topLeft = [data[0], data[1], data[2]];
    expect(topLeft[0]).to.be.greaterThan(200);
    expect(topLeft[2]).to.be.lessThan(60);
  });

  it('keeps transparency and honours other output formats', async () => {
    const result = await processImage(
      await pngImage(640, 480),
      [{ name: 'small', width: 100, format: 'png', quality: 80 }],
      limits,
    );
    if (!result.ok) throw new Error(`rejected: ${result.reason}`);
    const metadata = await sharp(result.variants[0].data).metadata();
    expect([metadata.format, metadata.hasAlpha, metadata.width]).to.deep.equal(['png', true, 100]);
  });

  it('rejects a text file with not-an-image', async () => {
    expect(await processImage(textPretendingToBeJpeg, variants, limits)).to.include({
      ok: false,
      reason: 'not-an-image',
    });
  });

  it('rejects a truncated JPEG as corrupt', async () => {
    expect(await processImage(await truncatedJpeg(), variants, limits)).to.include({
      ok: false,
      reason: 'corrupt',
    });
  });

  it('rejects a decompression bomb before decoding it', async () => {
    const bomb = await pixelBomb();
    expect(bomb.length).to.be.lessThan(1024 * 1024);
    expect(await processImage(bomb, variants, limits)).to.include({
      ok: false,
      reason: 'too-many-pixels',
    });
  });

  it('never parses a format it has no decoder for: SVG reads as not an image', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
    expect(await processImage(svg, variants, limits)).to.include({
      ok: false,
      reason: 'not-an-image',
    });
    // The switch is process-wide: nothing in this process parses SVG any more.
    await rejection(sharp(svg).metadata(), Error);
  });

  it('judges the type by the bytes, not by any declared type', async () => {
    const jpegOnly = { ...limits, allowedContentTypes: ['image/jpeg'] };
    expect(await processImage(await pngImage(50, 50), variants, jpegOnly)).to.include({
      ok: false,
      reason: 'type-not-allowed',
    });
  });

  it("fits a tall strip within each encoder's largest side instead of failing", async () => {
    const strip = await sharp({
      create: { width: 2, height: 40_000, channels: 3, background: '#ff0000' },
    })
      .png()
      .toBuffer();
    const result = await processImage(
      strip,
      [
        { name: 'webp', width: 320, format: 'webp', quality: 80 },
        { name: 'avif', width: 320, format: 'avif', quality: 50 },
        { name: 'png', width: 320, format: 'png', quality: 80 },
      ],
      limits,
    );
    if (!result.ok) throw new Error(`rejected: ${result.reason}`);
    expect(result.variants.map((v) => [v.name, v.width, v.height])).to.deep.equal([
      ['webp', 1, 16383],
      ['avif', 1, 16384],
      ['png', 2, 40_000],
    ]);
  });

  for (const format of ['gif', 'webp'] as const) {
    it(`makes stills from the first frame of an animated ${format.toUpperCase()}`, async () => {
      const result = await processImage(await animatedRedThenBlue(format), variants, limits);
      if (!result.ok) throw new Error(`rejected: ${result.reason}`);
      expect(result.original).to.deep.equal({ format: `image/${format}`, width: 200, height: 100 });
      for (const variant of result.variants) {
        const metadata = await sharp(variant.data).metadata();
        expect([metadata.pages ?? 1, variant.width, variant.height]).to.deep.equal([1, 200, 100]);
        const { data } = await sharp(variant.data).raw().toBuffer({ resolveWithObject: true });
        expect(data[0], 'red from the first frame').to.be.above(180);
        expect(data[2]).to.be.below(80);
      }
    });
  }

  it('counts decode memory from the header: samples × depth, doubled for interlaced images', () => {
    const header = { width: 7071, height: 7071, channels: 4 as const, depth: 'ushort' as const };
    expect(decodeMemoryBytes({ ...header, isProgressive: false })).to.equal(7071 * 7071 * 8);
    expect(decodeMemoryBytes({ ...header, isProgressive: true })).to.equal(7071 * 7071 * 16);
    expect(
      decodeMemoryBytes({
        width: 100,
        height: 10,
        channels: 3,
        depth: 'uchar',
        isProgressive: false,
      }),
    ).to.equal(3000);
  });

  it('refuses, before decoding, an image that would take more memory than one image may', async () => {
    const png = await sharp({
      create: { width: 1000, height: 1000, channels: 4, background: '#123456' },
    })
      .toColourspace('rgb16')
      .png({ progressive: true })
      .toBuffer();
    // 1000 × 1000 × 4 channels × 2 bytes × 2 (interlaced) = 16 MB.
    const result = await processImage(png, variants, {
      ...limits,
      maxDecodeBytes: 15 * 1024 * 1024,
    });
    expect(result).to.deep.include({ ok: false, reason: 'too-much-memory' });
    expect((result as { message: string }).message).to.match(
      /about 16 MiB; one image may take 15 MiB/,
    );
    const allowed = await processImage(png, variants, {
      ...limits,
      maxDecodeBytes: 16 * 1024 * 1024,
    });
    expect(allowed.ok).to.equal(true);
  });
});
