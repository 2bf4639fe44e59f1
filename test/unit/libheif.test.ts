/**
 * libheif's WebAssembly decoder on its own, with no sharp pre-check in front of it: each
 * hostile HEIC must come back as a reason, never a throw or a trap, and the same module
 * must then still decode a good file.
 */
import { expect } from 'chai';
import { decodeHeic } from '../../functions/core/libheif';
import {
  cornerHeic,
  withExtraItems,
  withHvcc,
  withImageSize,
  withItemCountClaim,
  withTransforms,
} from '../helpers/heic';

const limits = { maxInputPixels: 50_000_000, maxDecodeBytes: 800_000_000 };

describe('libheif (WebAssembly)', function () {
  this.timeout(30_000);
  let heic: Buffer;
  before(async () => {
    heic = await cornerHeic(320, 240);
  });

  it('reads the primary image and its transforms from the container, then decodes it', () => {
    const result = decodeHeic(withTransforms(heic, { anticlockwiseTurns: 1 }), limits);
    if (!result.ok) throw new Error(result.message);
    expect(result.image.info).to.deep.equal({
      width: 240,
      height: 320,
      codedWidth: 320,
      codedHeight: 240,
      hasAlpha: false,
      codec: 'hvc1',
    });
    expect([result.image.channels, result.image.pixels.length]).to.deep.equal([3, 240 * 320 * 3]);
  });

  const hostile: Array<[string, () => Buffer, string]> = [
    ['truncated', () => heic.subarray(0, Math.floor(heic.length * 0.7)), 'corrupt'],
    ['cut inside the meta box', () => heic.subarray(0, 200), 'corrupt'],
    ['an ispe of 100000×100000', () => withImageSize(heic, 100_000, 100_000), 'too-many-pixels'],
    ['an ispe of 0×0', () => withImageSize(heic, 0, 0), 'corrupt'],
    [
      'an ispe of 16×16 over a 320×240 stream',
      () => withImageSize(heic, 16, 16),
      'too-many-pixels',
    ],
    ['an hvcC of noise', () => withHvcc(heic, (h) => h.fill(0x5a, 4)), 'corrupt'],
    ['an hvcC cut to 4 bytes', () => withHvcc(heic, (h) => h.subarray(0, 4)), 'corrupt'],
    ['zero bytes', () => Buffer.alloc(0), 'corrupt'],
  ];
  for (const [what, make, reason] of hostile) {
    it(`answers ${reason} for a HEIC with ${what}`, () => {
      const result = decodeHeic(make(), limits);
      expect(result).to.include({ ok: false, reason });
      expect(result.ok === false && result.message)
        .to.be.a('string')
        .and.not.equal('');
    });
  }

  // sharp's own libheif refuses these before any decoding; this one reads past them to the primary image.
  for (const [what, make] of [
    ['60000 items claimed by iinf', () => withItemCountClaim(heic, 60_000)],
    ['2000 extra items without data', () => withExtraItems(heic, 2000)],
  ] as const) {
    it(`decodes the primary image of a HEIC with ${what}`, () => {
      const result = decodeHeic(make(), limits);
      expect(result.ok && [result.image.info.width, result.image.info.height]).to.deep.equal([
        320, 240,
      ]);
    });
  }

  it('still decodes a good file after all of them', () => {
    expect(decodeHeic(heic, limits)).to.include({ ok: true });
  });
});
