/**
 * The processing benchmark's baseline: the default variants made with sharp alone from
 * an in-memory buffer, with none of the handler's checks or storage calls.
 */
import sharp from 'sharp';
import type { VariantSpec } from '../functions/core/settings';

/** Decoded once at the largest width (JPEG shrink-on-load), then fanned out: the fastest we measured. */
export async function decodeOnce(
  input: Buffer,
  variants: readonly VariantSpec[],
  sequentialRead: boolean,
) {
  const largest = Math.max(...variants.map((v) => v.width));
  const base = await sharp(input, { sequentialRead })
    .rotate()
    .resize({ width: largest, withoutEnlargement: true })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const raw = { width: base.info.width, height: base.info.height, channels: base.info.channels };
  return Promise.all(
    variants.map((v) =>
      sharp(base.data, { raw })
        .resize({ width: v.width, withoutEnlargement: true })
        .webp({ quality: v.quality, effort: 2 })
        .toBuffer({ resolveWithObject: true }),
    ),
  );
}

/** Each clone decodes on its own, with shrink-on-load for its own width. */
export function perVariant(
  input: Buffer,
  variants: readonly VariantSpec[],
  sequentialRead: boolean,
) {
  const base = sharp(input, { sequentialRead }).rotate();
  return Promise.all(
    variants.map((v) =>
      base
        .clone()
        .resize({ width: v.width, withoutEnlargement: true })
        .webp({ quality: v.quality, effort: 2 })
        .toBuffer({ resolveWithObject: true }),
    ),
  );
}
