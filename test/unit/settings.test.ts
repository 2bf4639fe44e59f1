import { expect } from 'chai';
import {
  DEFAULT_SETTINGS,
  SETTING_KEYS,
  SettingsError,
  parseSettings,
  toAppSettings,
} from '../../functions/core/settings';

describe('settings', () => {
  it('defaults every setting when none is given', () => {
    expect(parseSettings({})).to.deep.equal(DEFAULT_SETTINGS);
  });

  it('round-trips through the app settings infra writes', () => {
    const custom = {
      ...DEFAULT_SETTINGS,
      maxUploadBytes: 1234,
      allowedContentTypes: ['image/png'],
      variants: [{ name: 'small', width: 64, format: 'avif' as const, quality: 50 }],
      uploadUrlTtlSeconds: 60,
      reprocessQueue: 'other-reprocess',
      reprocessConcurrency: 3,
    };
    expect(parseSettings(toAppSettings(custom))).to.deep.equal(custom);
  });

  it('allows only content types a decoder exists for, and lists them when refusing one', () => {
    const attempt = () =>
      parseSettings({ [SETTING_KEYS.allowedContentTypes]: 'image/png,image/jp2' });
    expect(attempt).to.throw(
      SettingsError,
      '"image/jp2" cannot be processed; choose from image/jpeg, image/png, image/webp, image/gif, image/tiff, image/avif, image/heic, image/heif',
    );
  });

  const invalid: Array<[keyof typeof SETTING_KEYS, string]> = [
    ['maxUploadBytes', '0'],
    ['maxUploadBytes', '1.5'],
    ['maxUploadBytes', 'lots'],
    ['maxInputPixels', '-1'],
    ['uploadUrlTtlSeconds', '5'],
    ['readUrlTtlSeconds', '99999999'],
    // Upload URLs live at most an hour, read URLs at most a day.
    ['uploadUrlTtlSeconds', '3601'],
    ['readUrlTtlSeconds', '86401'],
    ['landingContainer', 'Has_Capitals'],
    ['eventsQueue', 'a'],
    ['reprocessQueue', 'Bad_Name'],
    ['reprocessConcurrency', '0'],
    ['reprocessConcurrency', '9'],
    ['allowedContentTypes', ' , '],
    ['allowedContentTypes', 'jpeg'],
    ['allowedContentTypes', 'image/jpeg,image/svg+xml'],
    ['variants', 'not json'],
    ['variants', '[]'],
    ['variants', '[{"name":"thumb","width":5}]'],
    ['variants', '[{"name":"thumb","width":320},{"name":"thumb","width":640}]'],
    ['variants', '[{"name":"manifest","width":320}]'],
    ['variants', '[{"name":"thumb","width":320,"format":"bmp"}]'],
    ['variants', '[{"name":"thumb","width":320,"quality":0}]'],
  ];
  for (const [field, value] of invalid) {
    it(`rejects ${field}=${JSON.stringify(value)} naming ${SETTING_KEYS[field]}`, () => {
      const attempt = () => parseSettings({ [SETTING_KEYS[field]]: value });
      expect(attempt).to.throw(SettingsError, SETTING_KEYS[field]);
    });
  }
});
