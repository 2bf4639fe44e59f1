import { expect } from 'chai';
import {
  parseReprocessWorkItem,
  reprocessNeed,
  reprocessedOutputPrefix,
  variantSetHash,
} from '../../functions/core/reprocess';
import { outputPrefix } from '../../functions/core/manifest';
import { DEFAULT_SETTINGS } from '../../functions/core/settings';

describe('reprocess (work items and variant sets)', () => {
  const variants = DEFAULT_SETTINGS.variants;
  const id = '0b6f7c1e-2d3a-4b5c-8d9e-0f1a2b3c4d5e';

  it('hashes a variant set by content, whatever order its fields were written in', () => {
    const reordered = variants.map(({ quality, format, width, name }) => ({
      quality,
      format,
      width,
      name,
    }));
    expect(variantSetHash(reordered)).to.equal(variantSetHash(variants));
    expect(variantSetHash(variants)).to.match(/^[0-9a-f]{16}$/);
    const changed = [{ ...variants[0], quality: variants[0].quality + 1 }, variants[1]];
    expect(variantSetHash(changed)).not.to.equal(variantSetHash(variants));
    expect(variantSetHash([...variants].reverse())).not.to.equal(variantSetHash(variants));
  });

  it('accepts only well-formed work items', () => {
    const variantSet = variantSetHash(variants);
    expect(parseReprocessWorkItem({ uploadId: id, variantSet, extra: 1 })).to.deep.equal({
      uploadId: id,
      variantSet,
    });
    expect(
      parseReprocessWorkItem({ uploadId: id, variantSet, run: '00ff00ff00ff00ff' }),
    ).to.deep.equal({ uploadId: id, variantSet, run: '00ff00ff00ff00ff' });
    for (const bad of [
      { uploadId: id, variantSet, run: 'not-hex' },
      undefined,
      'text',
      { uploadId: id },
      { uploadId: 'nope', variantSet },
      { uploadId: id, variantSet: 'ABC' },
      { uploadId: `../${id}`, variantSet },
    ])
      expect(parseReprocessWorkItem(bad), JSON.stringify(bad)).to.equal(undefined);
  });

  it('names a reprocessed folder apart from the original and from other variant sets', () => {
    const a = reprocessedOutputPrefix(id, '"e1"', '0000000000000001');
    expect(a).to.match(/^[0-9a-f]{32}$/);
    expect(a).not.to.equal(outputPrefix(id, '"e1"'));
    expect(a).not.to.equal(reprocessedOutputPrefix(id, '"e1"', '0000000000000002'));
    expect(a).to.equal(reprocessedOutputPrefix(id, '"e1"', '0000000000000001'));
  });

  it('says why an upload needs no reprocessing', () => {
    const base = {
      version: 1 as const,
      uploadId: id,
      owner: 'o',
      metadata: {},
      caller: { kind: 'anonymous' as const },
      issuedAt: '2026-01-01T00:00:00Z',
      source: { blobName: 'b', eTag: 'e', sequencer: '1' },
      uploadedAt: '2026-01-01T00:00:00Z',
      completedAt: '2026-01-01T00:00:00Z',
    };
    const processed = {
      ...base,
      status: 'processed' as const,
      outputPrefix: 'p',
      outputs: [],
      original: { format: 'image/jpeg', width: 1, height: 1, size: 1 },
    };
    expect(reprocessNeed(undefined, 'v')).to.equal('not-processed');
    expect(
      reprocessNeed({ ...base, status: 'rejected', reason: 'corrupt', message: '' }, 'v'),
    ).to.equal('not-processed');
    expect(reprocessNeed(processed, 'v')).to.equal('no-original');
    expect(reprocessNeed({ ...processed, originalBlobName: 'o' }, 'v')).to.equal('reprocess');
    expect(reprocessNeed({ ...processed, originalBlobName: 'o', variantSet: 'v' }, 'v')).to.equal(
      'current',
    );
  });
});
