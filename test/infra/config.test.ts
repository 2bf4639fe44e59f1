import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { DEFAULT_SETTINGS } from '../../functions/core/settings';
import { CONFIG_DEFAULTS, ConfigError, type ConfigSource, loadConfig } from '../../infra/config';
import { HOST_JSON_QUEUE_SETTINGS } from '../../infra/host-json';
import { useMocks } from './helpers/pulumi-mocks';

const ORIGINS = JSON.stringify(['https://app.example.com']);

function source(values: Record<string, string>): ConfigSource {
  return { get: (key) => values[key] };
}

function load(values: Record<string, string>) {
  return loadConfig(source({ allowedCorsOrigins: ORIGINS, ...values }));
}

/** The error loadConfig throws for these values; fails the test when it throws none. */
function rejection(values: Record<string, string>): ConfigError {
  try {
    load(values);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`expected ${JSON.stringify(values)} to be rejected`);
}

describe('infra config', () => {
  it('fills every optional key from the code defaults', () => {
    const config = load({});
    expect(config.location).to.equal(CONFIG_DEFAULTS.location);
    expect(config.environment).to.equal('development');
    expect(config.allowedCorsOrigins).to.deep.equal(['https://app.example.com']);
    expect(config.app).to.deep.equal({ ...DEFAULT_SETTINGS });
    expect(config.queue).to.deep.equal(HOST_JSON_QUEUE_SETTINGS);
    expect(config.functionApp).to.deep.equal({
      nodeVersion: '24',
      maximumInstanceCount: 40,
      instanceMemoryMB: 2048,
      deployRetryMinutes: 10,
    });
    expect(config.retention).to.deep.equal({
      uploadDays: 1,
      deadLetterDays: 30,
      // Processed outputs are kept; originals are not kept at all unless a stack opts in.
      processedDays: 0,
      originalsDays: 30,
      logDays: 30,
    });
    expect(config.app.keepOriginals).to.equal(false);
    expect(config.functionPackagePath).to.equal(undefined);
    expect(config.alerts).to.deep.equal({
      emails: [],
      failureRatePercent: 5,
      backlogAgeMinutes: 15,
      usedCapacityGiB: 100,
    });
    expect(config.budget).to.deep.equal({ monthlyAmount: 50 });
  });

  it('reads keepOriginals and the originals and processed retentions', () => {
    const config = load({
      keepOriginals: 'true',
      originalsRetentionDays: '14',
      processedRetentionDays: '365',
    });
    expect(config.app.keepOriginals).to.equal(true);
    expect(config.retention).to.deep.include({ originalsDays: 14, processedDays: 365 });
    expect(rejection({ keepOriginals: 'yes' }).message).to.equal(
      'Invalid config directdrop:keepOriginals: "yes" must be true or false',
    );
    expect(rejection({ originalsRetentionDays: '0' }).key).to.equal('originalsRetentionDays');
  });

  it('reads integers, choices, lists and variants as Pulumi hands them over (text, JSON for lists)', () => {
    const config = load({
      location: 'westeurope',
      environment: 'production',
      maxUploadBytes: '1048576',
      allowedContentTypes: '["image/png","IMAGE/JPEG"]',
      variants: '[{"name":"small","width":200,"format":"avif","quality":50}]',
      queueBatchSize: '32',
      queueNewBatchThreshold: '0',
      queueMaxDequeueCount: '1',
      // 32 images of 64 MiB + 320 MiB fit 80 % of 4,096 MB.
      maxDecodeBytes: String(64 * 1024 * 1024),
      nodeVersion: '22',
      instanceMemoryMB: '4096',
      maximumInstanceCount: '1000',
      deployRetryMinutes: '30',
      alertEmails: '["ops@example.com","oncall@example.org","ops@example.com"]',
      alertFailureRatePercent: '10',
      alertBacklogAgeMinutes: '60',
      alertUsedCapacityGiB: '2048',
      monthlyBudget: '1000',
    });
    expect(config.location).to.equal('westeurope');
    expect(config.environment).to.equal('production');
    expect(config.app.maxUploadBytes).to.equal(1048576);
    expect(config.app.maxDecodeBytes).to.equal(64 * 1024 * 1024);
    expect(config.app.allowedContentTypes).to.deep.equal(['image/png', 'image/jpeg']);
    expect(config.app.variants).to.deep.equal([
      { name: 'small', width: 200, format: 'avif', quality: 50 },
    ]);
    expect(config.queue).to.deep.equal({ batchSize: 32, newBatchThreshold: 0, maxDequeueCount: 1 });
    expect(config.functionApp).to.deep.equal({
      nodeVersion: '22',
      maximumInstanceCount: 1000,
      instanceMemoryMB: 4096,
      deployRetryMinutes: 30,
    });
    expect(config.alerts).to.deep.equal({
      emails: ['ops@example.com', 'oncall@example.org'],
      failureRatePercent: 10,
      backlogAgeMinutes: 60,
      usedCapacityGiB: 2048,
    });
    expect(config.budget).to.deep.equal({ monthlyAmount: 1000 });
  });

  it('accepts top-level wildcard, port and localhost origins', () => {
    const origins = [
      'https://*.example.com',
      'http://localhost:7071',
      'https://app.example.com:8443',
    ];
    expect(load({ allowedCorsOrigins: JSON.stringify(origins) }).allowedCorsOrigins).to.deep.equal(
      origins,
    );
  });

  it('reads the stack config through pulumi.Config by default', async () => {
    await useMocks({ allowedCorsOrigins: ORIGINS, queueBatchSize: '3' });
    const config = loadConfig();
    expect(config.queue.batchSize).to.equal(3);
    expect(config.allowedCorsOrigins).to.deep.equal(['https://app.example.com']);
  });

  describe('rejects, naming the key and what is allowed', () => {
    for (const batchSize of ['0', '64', '4.5', 'four', '-1']) {
      it(`queueBatchSize ${batchSize}`, () => {
        const error = rejection({ queueBatchSize: batchSize });
        expect(error.key).to.equal('queueBatchSize');
        expect(error.message).to.equal(
          `Invalid config directdrop:queueBatchSize: "${batchSize}" must be an integer from 1 to 32`,
        );
      });
    }

    it('a negative SAS TTL', () => {
      expect(rejection({ uploadUrlTtlSeconds: '-60' }).message).to.equal(
        'Invalid config directdrop:uploadUrlTtlSeconds: "-60" must be an integer from 30 to 3600',
      );
      expect(rejection({ readUrlTtlSeconds: '0' }).key).to.equal('readUrlTtlSeconds');
    });

    it('origin "*" in production, but not in development', () => {
      const error = rejection({ environment: 'production', allowedCorsOrigins: '["*"]' });
      expect(error.message).to.match(
        /^Invalid config directdrop:allowedCorsOrigins: "\*" is not allowed in production/,
      );
      expect(load({ allowedCorsOrigins: '["*"]' }).allowedCorsOrigins).to.deep.equal(['*']);
    });

    it('http:// origins in production', () => {
      const error = rejection({
        environment: 'production',
        allowedCorsOrigins: '["http://app.example.com"]',
      });
      expect(error.message)
        .to.contain('directdrop:allowedCorsOrigins')
        .and.contain('must use https://');
    });

    it('a missing or empty origin list', () => {
      expect(loadConfigError({})).to.contain(
        'directdrop:allowedCorsOrigins: at least one origin is required',
      );
      expect(rejection({ allowedCorsOrigins: '[]' }).key).to.equal('allowedCorsOrigins');
      expect(rejection({ allowedCorsOrigins: 'https://app.example.com' }).message).to.contain(
        'must be a list of strings',
      );
    });

    for (const origin of [
      'https://app.example.com/',
      'https://app.example.com/upload',
      'https://App.Example.com',
      'app.example.com',
      'https://app.*.example.com',
      'ftp://app.example.com',
      `https://${'a'.repeat(250)}.example.com`,
    ]) {
      it(`origin ${origin.length > 40 ? `${origin.slice(0, 40)}...` : origin}`, () => {
        const error = rejection({ allowedCorsOrigins: JSON.stringify([origin]) });
        expect(error.key).to.equal('allowedCorsOrigins');
        expect(error.message).to.contain('must be "*" or an origin like https://app.example.com');
      });
    }

    const outOfRange: [string, string, string][] = [
      ['maxUploadBytes', '0', 'from 1 to 268435456'],
      ['maxInputPixels', '1000000001', 'from 1 to 1000000000'],
      ['queueNewBatchThreshold', '-1', 'from 0 to 32'],
      ['queueMaxDequeueCount', '0', 'from 1 to 20'],
      ['maximumInstanceCount', '10', 'from 40 to 1000'],
      ['uploadRetentionDays', '0', 'from 1 to 365'],
      ['deadLetterRetentionDays', '400', 'from 1 to 365'],
      ['logRetentionDays', '7', 'from 30 to 730'],
      ['deployRetryMinutes', '0', 'from 1 to 60'],
      ['alertFailureRatePercent', '0', 'from 1 to 100'],
      ['alertBacklogAgeMinutes', '1441', 'from 1 to 1440'],
      ['alertUsedCapacityGiB', '0', 'from 1 to 5242880'],
      ['monthlyBudget', '0', 'from 1 to 1000000'],
      ['malwareScanningCapGBPerMonth', '0', 'from 1 to 1000000'],
      ['scanVerdictTimeoutSeconds', '90000', 'from 2 to 86400'],
    ];
    for (const [key, value, range] of outOfRange) {
      it(`${key} ${value}`, () => {
        const error = rejection({ [key]: value });
        expect(error.key).to.equal(key);
        expect(error.message).to.equal(
          `Invalid config directdrop:${key}: "${value}" must be an integer ${range}`,
        );
      });
    }

    const badChoices: [string, string, string][] = [
      ['environment', 'staging', 'development, production'],
      ['nodeVersion', 'lts', '24, 22'],
      ['instanceMemoryMB', '1024', '512, 2048, 4096'],
      ['scanUnverifiedPolicy', 'ignore', 'fail, reject, process'],
    ];
    for (const [key, value, choices] of badChoices) {
      it(`${key} ${value}`, () => {
        expect(rejection({ [key]: value }).message).to.equal(
          `Invalid config directdrop:${key}: "${value}" must be one of ${choices}`,
        );
      });
    }

    for (const retired of ['20', '18']) {
      it(`nodeVersion ${retired}, which Azure Functions no longer runs`, () => {
        const error = rejection({ nodeVersion: retired });
        expect(error.key).to.equal('nodeVersion');
        expect(error.message).to.equal(
          `Invalid config directdrop:nodeVersion: "${retired}" is not supported by Azure Functions (Node 20 support ended 2026-04-30); use one of 24, 22`,
        );
      });
    }

    it('alert e-mail addresses that are not addresses, and none in production', () => {
      expect(rejection({ alertEmails: '["ops"]' }).message).to.equal(
        'Invalid config directdrop:alertEmails: "ops" must be an e-mail address like ops@example.com',
      );
      expect(rejection({ alertEmails: '"ops@example.com"' }).key).to.equal('alertEmails');
      expect(rejection({ environment: 'production' }).message).to.equal(
        'Invalid config directdrop:alertEmails: production needs at least one address for alerts and budget notices, e.g. ["ops@example.com"]',
      );
    });

    it('malwareScanning that is not a boolean', () => {
      expect(rejection({ malwareScanning: 'yes' }).message).to.equal(
        'Invalid config directdrop:malwareScanning: "yes" must be true or false',
      );
    });

    it('a location that is not a region name', () => {
      expect(rejection({ location: 'West Europe' }).message).to.contain(
        'directdrop:location: "West Europe" must be an Azure region',
      );
    });

    it('SAS lifetimes past an hour for uploads or a day for reads', () => {
      expect(rejection({ uploadUrlTtlSeconds: '3601' }).key).to.equal('uploadUrlTtlSeconds');
      expect(rejection({ readUrlTtlSeconds: '86401' }).key).to.equal('readUrlTtlSeconds');
    });

    it('more decode memory in flight than 80 % of the instance, naming every key involved', () => {
      // 2,048 MB × 80 % = 1,638 MiB; (4 + 2) × 256 MiB + 320 MiB = 1,856 MiB.
      const error = rejection({ maxDecodeBytes: String(256 * 1024 * 1024) });
      expect(error.key).to.equal('maxDecodeBytes');
      for (const key of [
        'queueBatchSize',
        'queueNewBatchThreshold',
        'maxDecodeBytes',
        'instanceMemoryMB',
      ])
        expect(error.message).to.contain(key);
      expect(error.message).to.contain('1856 MiB');
      // The same budget fits once fewer images are in flight, or on a larger instance.
      expect(() =>
        load({ maxDecodeBytes: String(256 * 1024 * 1024), queueNewBatchThreshold: '0' }),
      ).not.to.throw();
      expect(() =>
        load({ maxDecodeBytes: String(256 * 1024 * 1024), instanceMemoryMB: '4096' }),
      ).not.to.throw();
      expect(rejection({ instanceMemoryMB: '512' }).key).to.equal('maxDecodeBytes');
    });

    it('dead letters kept for less time than uploads', () => {
      const error = rejection({ uploadRetentionDays: '14', deadLetterRetentionDays: '7' });
      expect(error.key).to.equal('deadLetterRetentionDays');
      expect(error.message).to.contain('must be at least uploadRetentionDays (14)');
    });

    it('bad variants, through the validator the functions use, under the config key', () => {
      const error = rejection({ variants: '[{"name":"thumb","width":5}]' });
      expect(error.message).to.equal(
        'Invalid config directdrop:variants: variant 1: width must be an integer from 16 to 8192',
      );
      expect(rejection({ variants: '{"name":"thumb"}' }).message).to.contain(
        'directdrop:variants: must be a list of 1 to 8',
      );
      expect(rejection({ variants: 'thumb' }).message).to.contain(
        'directdrop:variants: must be a list of variants',
      );
    });

    it('bad content types', () => {
      expect(rejection({ allowedContentTypes: '["jpeg"]' }).message).to.equal(
        'Invalid config directdrop:allowedContentTypes: "jpeg" is not a content type like image/jpeg',
      );
      expect(rejection({ allowedContentTypes: '["image/svg+xml"]' }).message).to.contain(
        'Invalid config directdrop:allowedContentTypes: "image/svg+xml" cannot be processed; choose from image/jpeg,',
      );
    });

    it('a function package that does not exist, and takes one that does', () => {
      expect(rejection({ functionPackagePath: '/nonexistent/functions.zip' }).key).to.equal(
        'functionPackagePath',
      );
      const zip = join(mkdtempSync(join(tmpdir(), 'directdrop-')), 'functions.zip');
      writeFileSync(zip, 'zip');
      expect(load({ functionPackagePath: zip }).functionPackagePath).to.equal(zip);
    });
  });
});

function loadConfigError(values: Record<string, string>): string {
  try {
    loadConfig(source(values));
  } catch (error) {
    return (error as Error).message;
  }
  return 'no error';
}

describe('infra config: sign-in, quota and drop zone keys', () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ authMode: 'saml' }, 'authMode'],
    [{ authMode: 'anonymous', environment: 'production' }, 'authMode'],
    [{ authMode: 'oidc' }, 'authIssuer'],
    [{ authMode: 'oidc', authIssuer: 'https://idp.example/' }, 'authAudiences'],
    [{ authIssuer: 'http://idp.example/' }, 'authIssuer'],
    [{ authAlgorithms: '["HS256"]' }, 'authAlgorithms'],
    [{ authAlgorithms: '"RS256"' }, 'authAlgorithms'],
    [{ authRequiredScope: 'a b' }, 'authRequiredScope'],
    [{ quotaUrlsPerMinute: '0' }, 'quotaUrlsPerMinute'],
    [{ quotaUrlBurst: '10001' }, 'quotaUrlBurst'],
    [{ quotaOutstandingUploads: '0' }, 'quotaOutstandingUploads'],
    [{ quotaBytesPerDay: 'lots' }, 'quotaBytesPerDay'],
    [{ quotaGlobalUrlsPerMinute: '1.5' }, 'quotaGlobalUrlsPerMinute'],
    [{ dropZones: '[{"name":"x"}]' }, 'dropZones'],
    [{ dropZones: '{"name":"cams"}' }, 'dropZones'],
  ];
  for (const [values, key] of cases) {
    it(`rejects ${JSON.stringify(values)} naming ${key}`, () => {
      expect(rejection(values).key).to.equal(key);
    });
  }

  it('reads a complete oidc configuration and drop zones', () => {
    const config = load({
      authMode: 'oidc',
      authIssuer: 'https://login.microsoftonline.com/t/v2.0',
      authAudiences: '["api://directdrop"]',
      authRequiredScope: 'Uploads.Write',
      quotaUrlBurst: '5',
      dropZones: '[{"name":"cameras","retentionDays":3,"maxSasHours":48}]',
    });
    expect(config.app).to.deep.include({
      authMode: 'oidc',
      authAudiences: ['api://directdrop'],
      authRequiredScope: 'Uploads.Write',
      quotaUrlBurst: 5,
      dropZones: [{ name: 'cameras', retentionDays: 3, maxSasHours: 48 }],
    });
  });
});
