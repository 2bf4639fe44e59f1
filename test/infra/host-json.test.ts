import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { HOST_JSON_QUEUE_SETTINGS, queueHostOverrides } from '../../infra/host-json';

describe('infra host.json queue settings', () => {
  const hostJson = JSON.parse(readFileSync('host.json', 'utf8')) as {
    extensions: { queues: Record<string, unknown> };
  };

  it('takes its defaults from the repository host.json', () => {
    const { batchSize, newBatchThreshold, maxDequeueCount } = hostJson.extensions.queues;
    expect(HOST_JSON_QUEUE_SETTINGS).to.deep.equal({
      batchSize,
      newBatchThreshold,
      maxDequeueCount,
    });
  });

  it('writes no override while a stack keeps host.json values', () => {
    expect(queueHostOverrides({ ...HOST_JSON_QUEUE_SETTINGS })).to.deep.equal({});
  });

  it('writes an AzureFunctionsJobHost__ app setting for each value that differs', () => {
    const overrides = queueHostOverrides({
      ...HOST_JSON_QUEUE_SETTINGS,
      batchSize: 1,
      newBatchThreshold: 0,
    });
    expect(overrides).to.deep.equal({
      AzureFunctionsJobHost__extensions__queues__batchSize: '1',
      AzureFunctionsJobHost__extensions__queues__newBatchThreshold: '0',
    });
  });
});
