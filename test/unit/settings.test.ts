import { expect } from 'chai';
import {
  DEFAULT_SETTINGS,
  SETTING_KEYS,
  OWNER_KEY_SETTING,
  SettingsError,
  httpAuthLevel,
  parseSettings,
  readOwnerKey,
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
      malwareScanning: true,
      scanResultsTopic:
        '/subscriptions/1/resourceGroups/rg/providers/Microsoft.EventGrid/topics/scan-results',
      scanVerdictTimeoutSeconds: 60,
      scanUnverifiedPolicy: 'reject' as const,
      reprocessQueue: 'other-reprocess',
      reprocessConcurrency: 3,
      publicBaseUrl: 'https://app.example.com/api',
    };
    expect(parseSettings(toAppSettings(custom))).to.deep.equal(custom);
  });

  it('requires the results topic while malware scanning is on', () => {
    const attempt = () => parseSettings({ [SETTING_KEYS.malwareScanning]: 'true' });
    expect(attempt).to.throw(SettingsError, `${SETTING_KEYS.scanResultsTopic}: is required`);
  });

  it('takes drop zones with malware scanning on: the gate waits on zone blobs too', () => {
    const zones = JSON.stringify([{ name: 'cameras' }]);
    const scanning = {
      [SETTING_KEYS.malwareScanning]: 'true',
      [SETTING_KEYS.scanResultsTopic]:
        '/subscriptions/1/resourceGroups/rg/providers/Microsoft.EventGrid/topics/scan-results',
    };
    expect(
      parseSettings({ ...scanning, [SETTING_KEYS.dropZones]: zones }).dropZones,
    ).to.have.length(1);
  });

  it('publishes outcome events only to an https topic endpoint, or http on loopback', () => {
    expect(parseSettings({})).to.include({
      outcomeTopicEndpoint: '',
      eventSource: 'urn:directdrop:local',
    });
    const endpoint = 'https://outcomes.westeurope-1.eventgrid.azure.net/api/events';
    expect(
      parseSettings({
        [SETTING_KEYS.outcomeTopicEndpoint]: endpoint,
        [SETTING_KEYS.eventSource]: 'urn:directdrop:prod',
      }),
    ).to.include({ outcomeTopicEndpoint: endpoint, eventSource: 'urn:directdrop:prod' });
    const local = 'http://127.0.0.1:10003/api/events';
    expect(
      parseSettings({ [SETTING_KEYS.outcomeTopicEndpoint]: local }).outcomeTopicEndpoint,
    ).to.equal(local);
    for (const bad of ['http://topic.example.com/api/events', 'not a url', 'ftp://127.0.0.1/x'])
      expect(() => parseSettings({ [SETTING_KEYS.outcomeTopicEndpoint]: bad }), bad).to.throw(
        SettingsError,
        SETTING_KEYS.outcomeTopicEndpoint,
      );
    for (const bad of ['directdrop dev', 'not-a-uri'])
      expect(() => parseSettings({ [SETTING_KEYS.eventSource]: bad }), bad).to.throw(
        SettingsError,
        SETTING_KEYS.eventSource,
      );
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
    ['malwareScanning', 'yes'],
    ['scanResultsTopic', '/subscriptions/1/resourceGroups/rg/providers/Microsoft.Storage/x'],
    ['scanVerdictTimeoutSeconds', '1'],
    ['scanUnverifiedPolicy', 'ignore'],
    ['authMode', 'jwt'],
    ['authIssuer', 'http://idp.example.com/'],
    ['authIssuer', 'not a url'],
    ['authAlgorithms', 'HS256'],
    ['authAlgorithms', 'RS256,none'],
    ['authRequiredScope', 'two scopes'],
    ['quotaUrlsPerMinute', '0'],
    ['quotaUrlBurst', '1.5'],
    ['quotaOutstandingUploads', '501'],
    ['quotaBytesPerDay', '-1'],
    ['quotaGlobalUrlsPerMinute', 'many'],
    ['uploadTable', 'has-hyphens'],
    ['publicBaseUrl', 'http://app.example.com/api'],
    ['publicBaseUrl', 'app.example.com/api'],
    ['publicBaseUrl', 'https://app.example.com/api?code=x'],
    ['publicBaseUrl', 'https://app.example.com/api#x'],
    ['publicBaseUrl', 'https://user:pass@app.example.com/api'],
    ['dropZones', '[{"name":"Bad_Name"}]'],
    ['dropZones', '[{"name":"cams","maxSasHours":169}]'],
  ];
  for (const [field, value] of invalid) {
    it(`rejects ${field}=${JSON.stringify(value)} naming ${SETTING_KEYS[field]}`, () => {
      const attempt = () => parseSettings({ [SETTING_KEYS[field]]: value });
      expect(attempt).to.throw(SettingsError, SETTING_KEYS[field]);
    });
  }

  it('the public base URL: https, or http on loopback only, kept without a trailing slash', () => {
    const read = (value: string) => parseSettings({ [SETTING_KEYS.publicBaseUrl]: value });
    expect(read('https://app.example.com/api/').publicBaseUrl).to.equal(
      'https://app.example.com/api',
    );
    expect(read('http://localhost:7071/api').publicBaseUrl).to.equal('http://localhost:7071/api');
    expect(read('http://[::1]:7071/api').publicBaseUrl).to.equal('http://[::1]:7071/api');
    expect(parseSettings({}).publicBaseUrl).to.equal('');
  });

  it('oidc needs an issuer and an audience, and an owner key', () => {
    const oidc = { [SETTING_KEYS.authMode]: 'oidc' };
    expect(() => parseSettings(oidc)).to.throw(SettingsError, SETTING_KEYS.authIssuer);
    const withIssuer = { ...oidc, [SETTING_KEYS.authIssuer]: 'https://idp.example/' };
    expect(() => parseSettings(withIssuer)).to.throw(SettingsError, SETTING_KEYS.authAudiences);
    const complete = { ...withIssuer, [SETTING_KEYS.authAudiences]: 'api://a, b' };
    expect(parseSettings(complete).authAudiences).to.deep.equal(['api://a', 'b']);
    expect(() => readOwnerKey(complete, 'oidc')).to.throw(SettingsError, OWNER_KEY_SETTING);
    expect(() => readOwnerKey({ [OWNER_KEY_SETTING]: 'short' }, 'oidc')).to.throw(
      SettingsError,
      'at least 32 characters',
    );
    expect(readOwnerKey({}, 'functionKey')).to.equal(undefined);
  });

  it('registers HTTP functions with a function key only in functionKey mode', () => {
    expect(httpAuthLevel({})).to.equal('function');
    expect(httpAuthLevel({ [SETTING_KEYS.authMode]: 'functionKey' })).to.equal('function');
    expect(httpAuthLevel({ [SETTING_KEYS.authMode]: 'oidc' })).to.equal('anonymous');
    expect(httpAuthLevel({ [SETTING_KEYS.authMode]: 'anonymous' })).to.equal('anonymous');
    // A misspelt mode fails startup in parseSettings; until then the host keeps keys on.
    expect(httpAuthLevel({ [SETTING_KEYS.authMode]: 'Oidc' })).to.equal('function');
  });
});
