import { expect } from 'chai';
import { METADATA_LIMITS, validateMetadata } from '../../functions/core/metadata';

describe('metadata', () => {
  const refusal = (value: unknown) => {
    const result = validateMetadata(value);
    if (result.ok) throw new Error('accepted');
    return { field: result.field, message: result.message };
  };

  it('accepts string pairs within the limits, and none at all', () => {
    expect(validateMetadata(undefined)).to.deep.equal({ ok: true, value: {} });
    expect(validateMetadata({})).to.deep.equal({ ok: true, value: {} });
    const value = { postId: '42', 'album.name': 'Été 2026', a_b: '', 'x-1': '✓' };
    expect(validateMetadata(value)).to.deep.equal({ ok: true, value });
  });

  it('accepts exactly 16 entries and 2048 bytes; refuses a 17th entry and one byte more', () => {
    const sixteen = Object.fromEntries(
      Array.from({ length: 16 }, (_, i) => [`k${String(i).padStart(2, '0')}`, 'v'.repeat(125)]),
    );
    // 16 × (3 + 125) = 2048 bytes.
    expect(validateMetadata(sixteen).ok).to.equal(true);
    expect(refusal({ ...sixteen, k16: '' })).to.deep.equal({
      field: 'metadata',
      message: 'metadata: must have at most 16 entries.',
    });
    expect(refusal({ ...sixteen, k00: 'v'.repeat(126) }).message).to.equal(
      'metadata: keys and values together must be at most 2048 bytes of UTF-8 (these are 2049).',
    );
  });

  it('counts bytes of UTF-8, not characters', () => {
    // 'é' is two bytes: 1 + 1023 × 2 = 2047, then 1 + 1024 × 2 = 2049.
    expect(validateMetadata({ k: 'é'.repeat(1023) }).ok).to.equal(true);
    expect(refusal({ k: 'é'.repeat(1024) }).field).to.equal('metadata');
  });

  it('refuses anything but an object', () => {
    for (const value of [null, 'postId=42', 42, true, ['a', 'b']]) {
      expect(refusal(value), JSON.stringify(value)).to.deep.equal({
        field: 'metadata',
        message: 'metadata: must be an object of string values, e.g. {"postId": "42"}.',
      });
    }
  });

  it('refuses values that are not strings, naming the key', () => {
    for (const value of [42, null, true, { nested: 'x' }, ['x']]) {
      expect(refusal({ postId: value })).to.deep.equal({
        field: 'metadata.postId',
        message: 'metadata.postId: must be a string.',
      });
    }
  });

  it('refuses a value with a lone surrogate, which has no UTF-8 form', () => {
    expect(refusal({ k: 'a\uD800b' }).field).to.equal('metadata.k');
    expect(refusal({ k: '\uDC00' }).field).to.equal('metadata.k');
    expect(validateMetadata({ k: '😀' }).ok).to.equal(true);
  });

  it(`refuses keys outside ${METADATA_LIMITS.keyPattern}, quoting them safely`, () => {
    const bad = [
      '',
      '1abc',
      '_a',
      '.a',
      'a b',
      'a/b',
      'a:b',
      'é',
      '__proto__',
      'a'.repeat(65),
      'a\nb',
    ];
    for (const key of bad) {
      const { field, message } = refusal({ [key]: 'x' });
      expect(field, key).to.equal(
        `metadata.${JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key)}`,
      );
      expect(message).to.contain(METADATA_LIMITS.keyPattern);
      expect(message).to.not.contain('\n');
    }
    expect(validateMetadata({ ['a'.repeat(64)]: 'x' }).ok).to.equal(true);
  });

  it('keeps a key named like an Object.prototype member as plain data', () => {
    const result = validateMetadata(JSON.parse('{"constructor": "x", "toString": "y"}'));
    expect(result.ok && result.value).to.deep.equal({ constructor: 'x', toString: 'y' });
  });
});
