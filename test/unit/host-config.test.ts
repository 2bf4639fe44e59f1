import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  HostConfigError,
  applyEnvOverrides,
  parseHostConfig,
  parseTimeSpan,
  resolveAppSettingExpression,
} from '../../local/host-config';

const base = { version: '2.0' };
const withQueues = (queues: Record<string, unknown>) => ({ ...base, extensions: { queues } });

describe('host-config', () => {
  it('reads the committed host.json', () => {
    const hostJson = JSON.parse(readFileSync(join(__dirname, '../../host.json'), 'utf8'));
    const config = parseHostConfig(hostJson, {}, 2);
    const { queues } = hostJson.extensions;
    expect(config.queues).to.deep.equal({
      batchSize: queues.batchSize,
      newBatchThreshold: queues.newBatchThreshold,
      maxDequeueCount: queues.maxDequeueCount,
      visibilityTimeoutMs: parseTimeSpan(queues.visibilityTimeout, 'x'),
      maxPollingIntervalMs: parseTimeSpan(queues.maxPollingInterval, 'x'),
      messageEncoding: queues.messageEncoding,
    });
    expect(config.routePrefix).to.equal('api');
    expect(config.functionTimeoutMs).to.equal(parseTimeSpan(hostJson.functionTimeout, 'x'));
  });

  it("applies the queue extension's defaults, newBatchThreshold from processors", () => {
    expect(parseHostConfig(base, {}, 2).queues).to.deep.equal({
      batchSize: 16,
      newBatchThreshold: 16,
      maxDequeueCount: 5,
      visibilityTimeoutMs: 0,
      maxPollingIntervalMs: 60_000,
      messageEncoding: 'base64',
    });
    expect(parseHostConfig(withQueues({ batchSize: 5 }), {}, 3).queues.newBatchThreshold).to.equal(
      6,
    );
  });

  it('lets AzureFunctionsJobHost__ variables override host.json, keys case-insensitive', () => {
    const env = {
      AzureFunctionsJobHost__extensions__queues__batchSize: '2',
      AZUREFUNCTIONSJOBHOST__Extensions__Queues__NewBatchThreshold: '1',
      AzureFunctionsJobHost__extensions__queues__visibilityTimeout: '00:00:01.5',
      AzureFunctionsJobHost__extensions__http__routePrefix: 'v1',
      AzureFunctionsJobHost__functionTimeout: '00:00:20',
      Unrelated__extensions__queues__batchSize: '30',
    };
    const config = parseHostConfig(withQueues({ batchSize: 4, newBatchThreshold: 2 }), env, 2);
    expect(config.queues.batchSize).to.equal(2);
    expect(config.queues.newBatchThreshold).to.equal(1);
    expect(config.queues.visibilityTimeoutMs).to.equal(1500);
    expect(config.routePrefix).to.equal('v1');
    expect(config.functionTimeoutMs).to.equal(20_000);
  });

  it('does not modify the host.json object it was given', () => {
    const hostJson = withQueues({ batchSize: 4 });
    applyEnvOverrides(hostJson, { AzureFunctionsJobHost__extensions__queues__batchSize: '9' });
    expect(hostJson.extensions.queues.batchSize).to.equal(4);
  });

  it('accepts an empty route prefix and an unbounded timeout', () => {
    const config = parseHostConfig(
      { ...base, functionTimeout: '-1', extensions: { http: { routePrefix: '' } } },
      {},
      1,
    );
    expect(config.routePrefix).to.equal('');
    expect(config.functionTimeoutMs).to.equal(undefined);
  });

  const invalid: Array<[string, unknown]> = [
    ['batchSize 0', withQueues({ batchSize: 0 })],
    ['batchSize 33', withQueues({ batchSize: 33 })],
    ['a negative newBatchThreshold', withQueues({ newBatchThreshold: -1 })],
    ['maxDequeueCount 0', withQueues({ maxDequeueCount: 0 })],
    ['maxPollingInterval under 100 ms', withQueues({ maxPollingInterval: '00:00:00.05' })],
    ['an unknown encoding', withQueues({ messageEncoding: 'utf8' })],
    ['a bare number time span', withQueues({ visibilityTimeout: '10' })],
    ['a missing version', { extensions: {} }],
    ['dynamic concurrency', { ...base, concurrency: { dynamicConcurrencyEnabled: true } }],
  ];
  for (const [what, hostJson] of invalid) {
    it(`refuses ${what}`, () => {
      expect(() => parseHostConfig(hostJson, {}, 2)).to.throw(HostConfigError);
    });
  }

  it('names the offending setting', () => {
    expect(() => parseHostConfig(withQueues({ batchSize: 64 }), {}, 2)).to.throw(
      /extensions\.queues\.batchSize/,
    );
  });

  it('parses .NET constant-format time spans', () => {
    expect(parseTimeSpan('00:00:10', 'x')).to.equal(10_000);
    expect(parseTimeSpan('00:05:00', 'x')).to.equal(300_000);
    expect(parseTimeSpan('1.02:00:00', 'x')).to.equal(26 * 3_600_000);
    expect(parseTimeSpan('00:00:00.1', 'x')).to.equal(100);
    expect(parseTimeSpan('00:30', 'x')).to.equal(1_800_000);
    expect(() => parseTimeSpan('00:61:00', 'x')).to.throw(HostConfigError);
    expect(() => parseTimeSpan('soon', 'x')).to.throw(HostConfigError);
  });

  it('resolves %SETTING% binding expressions and refuses unknown ones', () => {
    const env = { DIRECTDROP_EVENTS_QUEUE: 'upload-events' };
    expect(resolveAppSettingExpression('%DIRECTDROP_EVENTS_QUEUE%-poison', env)).to.equal(
      'upload-events-poison',
    );
    expect(resolveAppSettingExpression('plain', env)).to.equal('plain');
    expect(() => resolveAppSettingExpression('%MISSING%', env)).to.throw(/MISSING/);
  });
});
