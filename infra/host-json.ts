/**
 * The queue settings in the repository's host.json, and the app settings that
 * override them per stack. host.json stays the single source of the defaults.
 */
import hostJson from '../host.json';

export interface QueueHostSettings {
  batchSize: number;
  newBatchThreshold: number;
  maxDequeueCount: number;
}

const { batchSize, newBatchThreshold, maxDequeueCount } = hostJson.extensions.queues;

export const HOST_JSON_QUEUE_SETTINGS: Readonly<QueueHostSettings> = Object.freeze({
  batchSize,
  newBatchThreshold,
  maxDequeueCount,
});

/** Functions reads `AzureFunctionsJobHost__<path>` app settings as host.json overrides. */
function queueOverrideSettingName(setting: keyof QueueHostSettings): string {
  return `AzureFunctionsJobHost__extensions__queues__${setting}`;
}

/** App settings for the values that differ from host.json; none when a stack keeps the defaults. */
export function queueHostOverrides(values: QueueHostSettings): Record<string, string> {
  const overrides: Record<string, string> = {};
  for (const setting of Object.keys(HOST_JSON_QUEUE_SETTINGS) as (keyof QueueHostSettings)[]) {
    if (values[setting] !== HOST_JSON_QUEUE_SETTINGS[setting]) {
      overrides[queueOverrideSettingName(setting)] = String(values[setting]);
    }
  }
  return overrides;
}
