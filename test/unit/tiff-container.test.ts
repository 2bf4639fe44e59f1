import { expect } from 'chai';
import sharp from 'sharp';
import { uncompressedTiff } from '../../functions/core/tiff-container';

/** libvips' Display P3 profile, read back from an image tagged with it. */
async function p3Profile(): Promise<Buffer> {
  const tagged = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } })
    .withIccProfile('p3')
    .png()
    .toBuffer();
  return (await sharp(tagged).metadata()).icc!;
}

describe('tiff-container', () => {
  for (const channels of [3, 4] as const) {
    it(`carries ${channels}-channel pixels across several strips, and the ICC profile, to libvips unchanged`, async () => {
      // 130 rows: three strips of 64, the last one short.
      const [width, height] = [37, 130];
      const pixels = Uint8Array.from(
        { length: width * height * channels },
        (_, i) => (i * 7) % 251,
      );
      const icc = await p3Profile();
      const tiff = uncompressedTiff({ width, height, channels, pixels }, icc);

      const metadata = await sharp(tiff).metadata();
      expect([metadata.format, metadata.width, metadata.height, metadata.channels]).to.deep.equal([
        'tiff',
        width,
        height,
        channels,
      ]);
      expect(Buffer.compare(metadata.icc!, icc)).to.equal(0);
      // Read back as stored: no profile conversion, nothing premultiplied.
      const { data } = await sharp(tiff, { ignoreIcc: true })
        .raw()
        .toBuffer({ resolveWithObject: true });
      expect(Buffer.compare(data, Buffer.from(pixels))).to.equal(0);
    });
  }

  it('refuses a pixel buffer that does not match its dimensions', () => {
    expect(() =>
      uncompressedTiff(
        { width: 2, height: 2, channels: 3, pixels: new Uint8Array(11) },
        new Uint8Array(4),
      ),
    ).to.throw(/does not match/);
  });
});
