/**
 * What the soak uploads: photos of mixed sizes and formats, generated once per run, the
 * hostile files from the test corpus that the API accepts but processing must reject,
 * and the EICAR test file dressed as a JPEG, which the malware-scan gate must refuse.
 */
import type { RejectReason } from '../functions/core/manifest';
import { EICAR_TEST_STRING } from '../local/malware-scanner';
import { HOSTILE_FILES } from '../test/helpers/hostile-files';
import { cameraNoise } from '../test/helpers/images';

export interface SoakFile {
  name: string;
  contentType: string;
  bytes: Buffer;
  expected: { status: 'processed' } | { status: 'rejected'; reason: RejectReason };
}

/** Size classes and how often each appears among the ordinary uploads. */
const PHOTOS: ReadonlyArray<{
  name: string;
  contentType: string;
  weight: number;
  make(): Promise<Buffer>;
}> = [
  {
    name: 'small.jpg',
    contentType: 'image/jpeg',
    weight: 40,
    make: () => cameraNoise(640, 480).jpeg({ quality: 85 }).toBuffer(),
  },
  {
    name: 'medium.jpg',
    contentType: 'image/jpeg',
    weight: 30,
    make: () => cameraNoise(1600, 1200).jpeg({ quality: 85 }).toBuffer(),
  },
  {
    name: 'large.jpg',
    contentType: 'image/jpeg',
    weight: 10,
    make: () => cameraNoise(3000, 2000).jpeg({ quality: 85 }).toBuffer(),
  },
  {
    name: 'screenshot.png',
    contentType: 'image/png',
    weight: 10,
    make: () => cameraNoise(1280, 800).png({ compressionLevel: 6 }).toBuffer(),
  },
  {
    name: 'phone.webp',
    contentType: 'image/webp',
    weight: 10,
    make: () => cameraNoise(1200, 1600).webp({ quality: 80 }).toBuffer(),
  },
];

/** A JPEG's first bytes, then the EICAR string: what an attacker's "photo" might look like. */
const EICAR_PHOTO: SoakFile = {
  name: 'eicar.jpg',
  contentType: 'image/jpeg',
  bytes: Buffer.concat([
    Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]),
    Buffer.from(EICAR_TEST_STRING, 'latin1'),
  ]),
  expected: { status: 'rejected', reason: 'malware' },
};

/**
 * `count` uploads, a `hostileShare` of them hostile and a `malwareShare` EICAR, spread
 * evenly through the run so every phase (and every injected crash) meets some.
 */
export async function buildSoakCorpus(
  count: number,
  hostileShare: number,
  malwareShare = 0,
): Promise<SoakFile[]> {
  const photos = await Promise.all(
    PHOTOS.map(async (p) => ({
      ...p,
      file: {
        name: p.name,
        contentType: p.contentType,
        bytes: await p.make(),
        expected: { status: 'processed' as const },
      },
    })),
  );
  // The hostile files the API accepts (a declared size that matches, a non-empty body).
  const hostile: SoakFile[] = [];
  for (const h of HOSTILE_FILES) {
    if (h.expected.status !== 'rejected' || h.declaredSize) continue;
    const bytes = await h.make();
    if (bytes.length === 0) continue;
    hostile.push({
      name: h.file,
      contentType: h.contentType,
      bytes,
      expected: { status: 'rejected', reason: h.expected.reason },
    });
  }
  const totalWeight = photos.reduce((sum, p) => sum + p.weight, 0);
  const files: SoakFile[] = [];
  let hostileUsed = 0;
  let malwareUsed = 0;
  for (let i = 0; i < count; i++) {
    if (Math.floor((i + 1) * malwareShare) > malwareUsed) {
      files.push(EICAR_PHOTO);
      malwareUsed++;
      continue;
    }
    if (Math.floor((i + 1) * hostileShare) > hostileUsed) {
      files.push(hostile[hostileUsed % hostile.length]);
      hostileUsed++;
      continue;
    }
    // Deterministic weighted round robin over the photo classes.
    let slot = (i * 37) % totalWeight;
    const photo = photos.find((p) => (slot -= p.weight) < 0) ?? photos[0];
    files.push(photo.file);
  }
  return files;
}
