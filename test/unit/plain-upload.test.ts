import { expect } from 'chai';
import { type LandedBlobFacts, plainUploadViolation } from '../../functions/core/plain-upload';

const plain: LandedBlobFacts = {
  api: 'PutBlob',
  blobType: 'BlockBlob',
  copied: false,
  hasSnapshots: false,
  explicitTier: undefined,
};

describe('plain-upload', () => {
  it('accepts a Put Blob or Put Block List of a block blob in the default or an explicit Hot tier', () => {
    expect(plainUploadViolation(plain)).to.equal(undefined);
    expect(plainUploadViolation({ ...plain, api: 'PutBlockList' })).to.equal(undefined);
    expect(plainUploadViolation({ ...plain, explicitTier: 'Hot' })).to.equal(undefined);
  });

  it('refuses an explicit Archive, Cold or Cool tier, naming it', () => {
    for (const tier of ['Archive', 'Cold', 'Cool'])
      expect(plainUploadViolation({ ...plain, explicitTier: tier })).to.contain(tier);
  });

  it('refuses page and append blobs, copies and snapshots', () => {
    expect(plainUploadViolation({ ...plain, blobType: 'PageBlob' })).to.contain('PageBlob');
    expect(plainUploadViolation({ ...plain, copied: true })).to.contain('copied');
    expect(plainUploadViolation({ ...plain, api: 'CopyBlob' })).to.contain('copied');
    expect(plainUploadViolation({ ...plain, hasSnapshots: true })).to.contain('snapshots');
  });
});
