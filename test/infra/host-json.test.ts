import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { ALERT_QUERIES, triggerStalledQuery } from '../../infra/alerts';
import { HOST_JSON_QUEUE_SETTINGS, queueHostOverrides } from '../../infra/host-json';
import { useMocks, valueOf } from './helpers/pulumi-mocks';

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

/**
 * Where each Application Insights table an alert reads comes from (Microsoft's Functions
 * configure-monitoring, "Configure categories"): requests from Host.Results, traces from
 * Function.<name> (the trigger's lines) and Function.<name>.User (the worker's own).
 * AzureMetrics comes from a diagnostic setting, not from the host.
 */
const TABLE_SOURCES: Record<string, { category: string; telemetryType: string } | 'not from host'> =
  {
    requests: { category: 'Host.Results', telemetryType: 'Request' },
    AppRequests: { category: 'Host.Results', telemetryType: 'Request' },
    traces: { category: 'Function', telemetryType: 'Trace' },
    AzureMetrics: 'not from host',
  };
const LEVELS = ['Trace', 'Debug', 'Information', 'Warning', 'Error', 'Critical', 'None'];

describe('infra host.json logging, as the alerts read it', () => {
  const logging = (
    JSON.parse(readFileSync('host.json', 'utf8')) as {
      logging: {
        logLevel: Record<string, string>;
        applicationInsights: { samplingSettings: { isEnabled: boolean; excludedTypes: string } };
      };
    }
  ).logging;

  /** The level a category logs at: the longest matching prefix in logLevel, else default. */
  function levelOf(category: string): string {
    const match = Object.keys(logging.logLevel)
      .filter((key) => key !== 'default' && (category === key || category.startsWith(`${key}.`)))
      .sort((a, b) => b.length - a.length)[0];
    return logging.logLevel[match ?? 'default'];
  }

  async function tablesRead(): Promise<string[]> {
    await useMocks();
    const queries = [...Object.values(ALERT_QUERIES), await valueOf(triggerStalledQuery('id', 15))];
    // The first table of each query and of each toscalar(...) inside it.
    const tables = queries.flatMap((query) =>
      [...query.matchAll(/(?:^|toscalar\(|; )([A-Za-z]+) \|/g)].map((m) => m[1]),
    );
    return [...new Set(tables)];
  }

  it('knows where every table an alert reads comes from', async () => {
    const tables = await tablesRead();
    expect(tables).to.include.members(['requests', 'traces', 'AppRequests', 'AzureMetrics']);
    for (const table of tables) expect(TABLE_SOURCES, table).to.have.property(table);
  });

  it('logs every category those tables come from at Information, so successes are counted too', async () => {
    for (const table of await tablesRead()) {
      const source = TABLE_SOURCES[table];
      if (source === 'not from host') continue;
      expect(
        LEVELS.indexOf(levelOf(source.category)),
        `${table} (${source.category})`,
      ).to.be.at.most(LEVELS.indexOf('Information'));
    }
  });

  it('never samples away the telemetry those tables hold', async () => {
    const excluded = logging.applicationInsights.samplingSettings.excludedTypes.split(';');
    for (const table of await tablesRead()) {
      const source = TABLE_SOURCES[table];
      if (source === 'not from host') continue;
      expect(excluded, table).to.include(source.telemetryType);
    }
    expect(excluded).to.include('Exception');
  });
});
