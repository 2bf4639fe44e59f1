/**
 * Reads the parts of host.json the local host honours, the way the Functions host
 * does: host.json first, then `AzureFunctionsJobHost__a__b` environment variables
 * overriding `a.b` (keys case-insensitive), then the queue extension's defaults and
 * validation (Microsoft.Azure.WebJobs.Extensions.Storage, QueuesOptions.cs).
 */
import { readFile } from 'node:fs/promises';

export type MessageEncoding = 'base64' | 'none';

export interface QueueTriggerOptions {
  batchSize: number;
  newBatchThreshold: number;
  maxDequeueCount: number;
  /** Delay before a failed message becomes visible again. */
  visibilityTimeoutMs: number;
  maxPollingIntervalMs: number;
  messageEncoding: MessageEncoding;
}

export interface HostConfig {
  /** `extensions.http.routePrefix`; HTTP routes live under `/<prefix>/`. */
  routePrefix: string;
  /** `functionTimeout`; undefined means unbounded (`-1`). */
  functionTimeoutMs: number | undefined;
  queues: QueueTriggerOptions;
}

export class HostConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'HostConfigError';
  }
}

export const ENV_OVERRIDE_PREFIX = 'AzureFunctionsJobHost__';
/** QueuePollingIntervals.Minimum / DefaultMaximum in the queue extension. */
export const MIN_POLLING_INTERVAL_MS = 100;
const DEFAULT_MAX_POLLING_INTERVAL_MS = 60_000;
const MAX_BATCH_SIZE = 32;
/** The Flex Consumption default the host applies when host.json sets none. */
const DEFAULT_FUNCTION_TIMEOUT_MS = 30 * 60_000;

type JsonObject = Record<string, unknown>;
type Env = Readonly<Record<string, string | undefined>>;

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Finds `key` case-insensitively, as .NET configuration does. */
function keyIn(object: JsonObject, key: string): string {
  return Object.keys(object).find((k) => k.toLowerCase() === key.toLowerCase()) ?? key;
}

/** host.json with every `AzureFunctionsJobHost__…` environment variable applied on top. */
export function applyEnvOverrides(hostJson: unknown, env: Env): JsonObject {
  const merged: JsonObject = structuredClone(isObject(hostJson) ? hostJson : {});
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || !name.toLowerCase().startsWith(ENV_OVERRIDE_PREFIX.toLowerCase()))
      continue;
    const path = name.slice(ENV_OVERRIDE_PREFIX.length).split('__').filter(Boolean);
    if (path.length === 0) continue;
    let node = merged;
    for (const segment of path.slice(0, -1)) {
      const key = keyIn(node, segment);
      if (!isObject(node[key])) node[key] = {};
      node = node[key] as JsonObject;
    }
    node[keyIn(node, path[path.length - 1])] = value;
  }
  return merged;
}

function get(object: JsonObject, path: string[]): unknown {
  let node: unknown = object;
  for (const segment of path) {
    if (!isObject(node)) return undefined;
    node = node[keyIn(node, segment)];
  }
  return node;
}

/**
 * Parses a .NET TimeSpan in constant format, `[d.]hh:mm[:ss[.fffffff]]`. Bare numbers
 * are refused: .NET would read "10" as ten days, which is never what was meant.
 */
export function parseTimeSpan(value: string, setting: string): number {
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$/.exec(
    value.trim(),
  );
  if (!match) {
    throw new HostConfigError(`${setting} must be a time span like "00:00:30", not "${value}"`);
  }
  const [, days, hours, minutes, seconds, fraction] = match;
  if (Number(hours) > 23 || Number(minutes) > 59 || Number(seconds ?? 0) > 59) {
    throw new HostConfigError(`${setting} "${value}" has an hour, minute or second out of range`);
  }
  return (
    (((Number(days ?? 0) * 24 + Number(hours)) * 60 + Number(minutes)) * 60 +
      Number(seconds ?? 0)) *
      1000 +
    Math.round(Number(`0.${fraction ?? '0'}`) * 1000)
  );
}

function readInteger(raw: unknown, setting: string, min: number, max: number): number | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const value = typeof raw === 'number' ? raw : Number(String(raw).trim());
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new HostConfigError(
      `${setting} must be an integer from ${min} to ${max}, not ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

function readTimeSpan(raw: unknown, setting: string): number | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw !== 'string')
    throw new HostConfigError(`${setting} must be a time span string like "00:00:30"`);
  return parseTimeSpan(raw, setting);
}

function readQueues(config: JsonObject, processorCount: number): QueueTriggerOptions {
  const setting = (name: string) => `extensions.queues.${name}`;
  const raw = (name: string) => get(config, ['extensions', 'queues', name]);

  const batchSize = readInteger(raw('batchSize'), setting('batchSize'), 1, MAX_BATCH_SIZE) ?? 16;
  const newBatchThreshold =
    readInteger(
      raw('newBatchThreshold'),
      setting('newBatchThreshold'),
      0,
      Number.MAX_SAFE_INTEGER,
    ) ?? Math.floor(batchSize / 2) * processorCount;
  const maxDequeueCount =
    readInteger(raw('maxDequeueCount'), setting('maxDequeueCount'), 1, Number.MAX_SAFE_INTEGER) ??
    5;
  const visibilityTimeoutMs =
    readTimeSpan(raw('visibilityTimeout'), setting('visibilityTimeout')) ?? 0;
  const maxPollingIntervalMs =
    readTimeSpan(raw('maxPollingInterval'), setting('maxPollingInterval')) ??
    DEFAULT_MAX_POLLING_INTERVAL_MS;
  if (maxPollingIntervalMs < MIN_POLLING_INTERVAL_MS) {
    throw new HostConfigError(`${setting('maxPollingInterval')} must not be less than 00:00:00.1`);
  }
  const encodingRaw = raw('messageEncoding') ?? 'base64';
  const messageEncoding = String(encodingRaw).toLowerCase();
  if (messageEncoding !== 'base64' && messageEncoding !== 'none') {
    throw new HostConfigError(`${setting('messageEncoding')} must be "base64" or "none"`);
  }
  return {
    batchSize,
    newBatchThreshold,
    maxDequeueCount,
    visibilityTimeoutMs,
    maxPollingIntervalMs,
    messageEncoding,
  };
}

/**
 * The effective host configuration. `processorCount` feeds the default newBatchThreshold,
 * (batchSize / 2) × processors, exactly as the queue extension computes it.
 */
export function parseHostConfig(hostJson: unknown, env: Env, processorCount: number): HostConfig {
  const config = applyEnvOverrides(hostJson, env);
  if (String(get(config, ['version']) ?? '') !== '2.0') {
    throw new HostConfigError('host.json must declare "version": "2.0" (Functions runtime v4)');
  }
  if (
    get(config, ['concurrency', 'dynamicConcurrencyEnabled'])?.toString().toLowerCase() === 'true'
  ) {
    // With it on, batchSize/newBatchThreshold are ignored in Azure; emulating its tuning is out of scope.
    throw new HostConfigError(
      'concurrency.dynamicConcurrencyEnabled is not supported by the local host; use batchSize/newBatchThreshold',
    );
  }
  const prefixRaw = get(config, ['extensions', 'http', 'routePrefix']);
  const routePrefix = (prefixRaw === undefined ? 'api' : String(prefixRaw)).replace(
    /^\/+|\/+$/g,
    '',
  );
  const timeoutRaw = get(config, ['functionTimeout']);
  const functionTimeoutMs =
    timeoutRaw === '-1' || timeoutRaw === -1
      ? undefined
      : (readTimeSpan(timeoutRaw, 'functionTimeout') ?? DEFAULT_FUNCTION_TIMEOUT_MS);
  return { routePrefix, functionTimeoutMs, queues: readQueues(config, processorCount) };
}

export async function readHostConfig(
  path: string,
  env: Env,
  processorCount: number,
): Promise<HostConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new HostConfigError(`Cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new HostConfigError(`${path} is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parseHostConfig(json, env, processorCount);
}

/**
 * Resolves `%SETTING%` binding expressions from app settings, as the host does at
 * startup; an unknown setting stops startup, as it does in Azure.
 */
export function resolveAppSettingExpression(expression: string, env: Env): string {
  return expression.replace(/%([^%]+)%/g, (_match, name: string) => {
    const value = env[name];
    if (value === undefined || value === '') {
      throw new HostConfigError(
        `'%${name}%' does not resolve to a value: app setting ${name} is not set`,
      );
    }
    return value;
  });
}
