import { expect } from 'chai';
import { uploadLimits } from '../../functions/core/limits';
import { MIB, parseSettings } from '../../functions/core/settings';
import { MAX_FILE_NAME_LENGTH } from '../../functions/core/upload-request';

describe('advertised upload limits', () => {
  it('states the settings the API and the processor enforce, whatever they are', () => {
    const settings = parseSettings({
      DIRECTDROP_MAX_UPLOAD_BYTES: String(50 * MIB),
      DIRECTDROP_ALLOWED_CONTENT_TYPES: 'image/png,image/jpeg',
      DIRECTDROP_VARIANTS: '[{"name":"small","width":200,"format":"avif","quality":60}]',
      DIRECTDROP_UPLOAD_URL_TTL_SECONDS: '120',
    });
    expect(uploadLimits(settings)).to.deep.equal({
      maxBytes: 50 * MIB,
      allowedContentTypes: ['image/png', 'image/jpeg'],
      maxFileNameLength: MAX_FILE_NAME_LENGTH,
      maxInputPixels: settings.maxInputPixels,
      variants: [{ name: 'small', width: 200, format: 'avif' }],
      uploadUrlTtlSeconds: 120,
      readUrlTtlSeconds: settings.readUrlTtlSeconds,
      metadata: { maxEntries: 16, maxBytes: 2048, keyPattern: '^[a-zA-Z][a-zA-Z0-9_.-]{0,63}$' },
    });
  });
});
