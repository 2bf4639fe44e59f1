/**
 * HEIC fixtures made on demand with Debian's heif-enc (libheif-examples; x265 is built into
 * bookworm's libheif1), plus the container edits heif-enc cannot make: the irot/imir
 * transforms an iPhone writes, and hostile header values. Nothing is downloaded.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';

export type Colour = [number, number, number];
export const GREEN: Colour = [20, 220, 20];
export const RED_BODY: Colour = [220, 20, 20];

/** Encodes images (JPEG or PNG bytes) into one HEIC file; the first is the primary image. */
export function heifEnc(
  inputs: Array<{ bytes: Buffer; ext: 'jpg' | 'png' }>,
  args: string[] = [],
): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'directdrop-heic-'));
  try {
    const files = inputs.map(({ bytes, ext }, index) => {
      const file = join(dir, `in${index}.${ext}`);
      writeFileSync(file, bytes);
      return file;
    });
    const output = join(dir, 'out.heic');
    const result = spawnSync('heif-enc', ['-q', '80', ...args, '-o', output, ...files], {
      encoding: 'utf8',
    });
    if (result.error || result.status !== 0)
      throw new Error(
        `heif-enc failed (${result.error?.message ?? `exit ${result.status}`}); install Debian's ` +
          `libheif-examples (.ci/run does): ${result.stderr}`,
      );
    return readFileSync(output);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A body of one colour with a block of another in its top-left corner, so every turn and flip shows. */
export function cornerImage(
  width: number,
  height: number,
  corner: Colour = GREEN,
  body: Colour = RED_BODY,
): sharp.Sharp {
  const block = { width: Math.round(width / 4), height: Math.round(height / 4) };
  const [r, g, b] = corner;
  const [br, bg, bb] = body;
  return sharp({ create: { width, height, channels: 3, background: { r: br, g: bg, b: bb } } })
    .composite([
      {
        input: { create: { ...block, channels: 3, background: { r, g, b } } },
        left: 0,
        top: 0,
      },
    ])
    .removeAlpha()
    .png();
}

/** A small HEIC (HEVC) of cornerImage. */
export async function cornerHeic(width = 320, height = 240): Promise<Buffer> {
  return heifEnc([{ bytes: await cornerImage(width, height).toBuffer(), ext: 'png' }]);
}

// ---------------------------------------------------------------------------
// ISO-BMFF editing: just enough to add item properties and rewrite header fields.

interface Box {
  type: string;
  /** For full boxes (meta, ipma, iloc…), the version and flags; otherwise empty. */
  fullHeader: Buffer;
  payload: Buffer;
  children?: Box[];
}

const FULL_BOXES = new Set(['meta', 'ipma', 'iloc', 'pitm', 'iinf', 'hdlr', 'ispe']);
const CONTAINERS = new Set(['meta', 'iprp', 'ipco']);

function parseBoxes(bytes: Buffer): Box[] {
  const boxes: Box[] = [];
  for (let at = 0; at < bytes.length;) {
    const size = bytes.readUInt32BE(at);
    const type = bytes.toString('latin1', at + 4, at + 8);
    const headerEnd = at + 8 + (FULL_BOXES.has(type) ? 4 : 0);
    const box: Box = {
      type,
      fullHeader: bytes.subarray(at + 8, headerEnd),
      payload: bytes.subarray(headerEnd, at + size),
    };
    if (CONTAINERS.has(type)) box.children = parseBoxes(box.payload);
    boxes.push(box);
    at += size;
  }
  return boxes;
}

function serialize(boxes: Box[]): Buffer {
  return Buffer.concat(
    boxes.map((box) => {
      const body = Buffer.concat([
        box.fullHeader,
        box.children ? serialize(box.children) : box.payload,
      ]);
      const header = Buffer.alloc(8);
      header.writeUInt32BE(8 + body.length);
      header.write(box.type, 4, 'latin1');
      return Buffer.concat([header, body]);
    }),
  );
}

function child(parent: Box, type: string): Box {
  const found = parent.children?.find((box) => box.type === type);
  if (!found) throw new Error(`no ${type} box in ${parent.type}`);
  return found;
}

/**
 * Edits a heif-enc file's meta box, then moves the file-offset extents in iloc by however
 * much the meta box grew (heif-enc writes ftyp, meta, mdat in that order).
 */
function editMeta(heic: Buffer, edit: (meta: Box) => void): Buffer {
  const boxes = parseBoxes(heic);
  const meta = boxes.find((box) => box.type === 'meta')!;
  const before = serialize([meta]).length;
  edit(meta);
  const delta = serialize([meta]).length - before;
  if (delta !== 0) shiftIlocOffsets(child(meta, 'iloc'), delta);
  return serialize(boxes);
}

function shiftIlocOffsets(iloc: Box, delta: number): void {
  const version = iloc.fullHeader[0];
  const p = Buffer.from(iloc.payload);
  const offsetSize = p[0] >> 4;
  const lengthSize = p[0] & 15;
  const baseOffsetSize = p[1] >> 4;
  const indexSize = version >= 1 ? p[1] & 15 : 0;
  let at = 2;
  const read = (size: number) => {
    const value =
      size === 8 ? Number(p.readBigUInt64BE(at)) : size > 0 ? p.readUIntBE(at, size) : 0;
    at += size;
    return value;
  };
  const add = (size: number) => {
    if (size === 4) p.writeUInt32BE(p.readUInt32BE(at) + delta, at);
    else if (size === 8) p.writeBigUInt64BE(p.readBigUInt64BE(at) + BigInt(delta), at);
    at += size;
  };
  const itemCount = read(version < 2 ? 2 : 4);
  for (let item = 0; item < itemCount; item++) {
    read(version < 2 ? 2 : 4); // item_ID
    const method = version >= 1 ? read(2) & 15 : 0;
    read(2); // data_reference_index
    const inFile = method === 0;
    if (inFile && baseOffsetSize > 0) add(baseOffsetSize);
    else read(baseOffsetSize);
    const extents = read(2);
    for (let extent = 0; extent < extents; extent++) {
      read(indexSize);
      if (inFile && baseOffsetSize === 0) add(offsetSize);
      else read(offsetSize);
      read(lengthSize);
    }
  }
  iloc.payload = p;
}

function primaryItemId(meta: Box): number {
  const pitm = child(meta, 'pitm');
  return pitm.fullHeader[0] === 0 ? pitm.payload.readUInt16BE(0) : pitm.payload.readUInt32BE(0);
}

/** Appends properties to ipco and associates them, in order, with the primary item. */
function addPrimaryProperties(meta: Box, properties: Box[], essential = true): void {
  const ipco = child(child(meta, 'iprp'), 'ipco');
  const ipma = child(child(meta, 'iprp'), 'ipma');
  const firstIndex = ipco.children!.length + 1;
  ipco.children!.push(...properties);
  const version = ipma.fullHeader[0];
  const wide = (ipma.fullHeader[3] & 1) === 1;
  const p = ipma.payload;
  const out: Buffer[] = [p.subarray(0, 4)];
  const entries = p.readUInt32BE(0);
  let at = 4;
  for (let entry = 0; entry < entries; entry++) {
    const idSize = version < 1 ? 2 : 4;
    const id = idSize === 2 ? p.readUInt16BE(at) : p.readUInt32BE(at);
    const count = p[at + idSize];
    const end = at + idSize + 1 + count * (wide ? 2 : 1);
    if (id !== primaryItemId(meta)) {
      out.push(p.subarray(at, end));
    } else {
      const head = Buffer.from(p.subarray(at, at + idSize + 1));
      head[idSize] = count + properties.length;
      const added = properties.map((_, i) => {
        const index = firstIndex + i;
        const association = Buffer.alloc(wide ? 2 : 1);
        const flag = essential ? 1 : 0;
        if (wide) association.writeUInt16BE((flag << 15) | index);
        else association[0] = (flag << 7) | index;
        return association;
      });
      out.push(head, p.subarray(at + idSize + 1, end), ...added);
    }
    at = end;
  }
  ipma.payload = Buffer.concat(out);
}

/**
 * The HEIF transforms of the primary image, as a camera writes them: `irot` turns the
 * decoded image anticlockwise by quarter turns, then `imir` mirrors it (0: top and bottom
 * swap, 1: left and right swap).
 */
export function withTransforms(
  heic: Buffer,
  transforms: { anticlockwiseTurns?: 1 | 2 | 3; mirrorAxis?: 0 | 1 },
): Buffer {
  const properties: Box[] = [];
  if (transforms.anticlockwiseTurns)
    properties.push({
      type: 'irot',
      fullHeader: Buffer.alloc(0),
      payload: Buffer.from([transforms.anticlockwiseTurns]),
    });
  if (transforms.mirrorAxis !== undefined)
    properties.push({
      type: 'imir',
      fullHeader: Buffer.alloc(0),
      payload: Buffer.from([transforms.mirrorAxis]),
    });
  return editMeta(heic, (meta) => addPrimaryProperties(meta, properties));
}

/**
 * Labels the primary image's colour with nclx (ITU-T H.273) code points, in a colr box:
 * heif-enc 1.15 writes none for its --colour_primaries options.
 */
export function withNclx(
  heic: Buffer,
  { primaries, transfer, matrix }: { primaries: number; transfer: number; matrix: number },
): Buffer {
  const payload = Buffer.alloc(11);
  payload.write('nclx', 0, 'latin1');
  payload.writeUInt16BE(primaries, 4);
  payload.writeUInt16BE(transfer, 6);
  payload.writeUInt16BE(matrix, 8);
  payload[10] = 0x80; // full range, as heif-enc encodes
  const colr: Box = { type: 'colr', fullHeader: Buffer.alloc(0), payload };
  return editMeta(heic, (meta) => addPrimaryProperties(meta, [colr], false));
}

/** Rewrites every ispe (image spatial extents) property, as a file lying about its size would. */
export function withImageSize(heic: Buffer, width: number, height: number): Buffer {
  return editMeta(heic, (meta) => {
    for (const ispe of child(child(meta, 'iprp'), 'ipco').children!.filter(
      (box) => box.type === 'ispe',
    )) {
      const payload = Buffer.alloc(8);
      payload.writeUInt32BE(width, 0);
      payload.writeUInt32BE(height, 4);
      ispe.payload = payload;
    }
  });
}

/** Overwrites the HEVC decoder configuration (hvcC: VPS, SPS, PPS) with the given bytes. */
export function withHvcc(heic: Buffer, replacement: (hvcc: Buffer) => Buffer): Buffer {
  return editMeta(heic, (meta) => {
    const hvcc = child(child(child(meta, 'iprp'), 'ipco'), 'hvcC');
    hvcc.payload = replacement(Buffer.from(hvcc.payload));
  });
}

/** Adds `count` data-less items (infe entries of type `hvc1`) after the real ones. */
export function withExtraItems(heic: Buffer, count: number): Buffer {
  return editMeta(heic, (meta) => {
    const iinf = child(meta, 'iinf');
    const wide = iinf.fullHeader[0] !== 0;
    const existing = wide ? iinf.payload.readUInt32BE(0) : iinf.payload.readUInt16BE(0);
    const entries = Array.from({ length: count }, (_, i) => {
      const infe = Buffer.alloc(8 + 4 + 9);
      infe.writeUInt32BE(infe.length);
      infe.write('infe', 4, 'latin1');
      infe[8] = 2; // version 2: 16-bit item_ID, then protection index and item type
      infe.writeUInt16BE(1000 + i, 12);
      infe.write('hvc1', 16, 'latin1');
      return infe;
    });
    const countField = Buffer.alloc(wide ? 4 : 2);
    if (wide) countField.writeUInt32BE(existing + count);
    else countField.writeUInt16BE(existing + count);
    iinf.payload = Buffer.concat([countField, iinf.payload.subarray(wide ? 4 : 2), ...entries]);
  });
}

/** Claims far more items than the iinf box holds. */
export function withItemCountClaim(heic: Buffer, count: number): Buffer {
  return editMeta(heic, (meta) => {
    const iinf = child(meta, 'iinf');
    const payload = Buffer.from(iinf.payload);
    if (iinf.fullHeader[0] === 0) payload.writeUInt16BE(Math.min(count, 0xffff), 0);
    else payload.writeUInt32BE(count, 0);
    iinf.payload = payload;
  });
}
