/**
 * Loads and validates every stack config key at runtime. Pulumi's own checks stop at
 * the types declared in Pulumi.yaml (and `requireObject` checks nothing), so each key
 * is checked here and a bad one fails the preview with its name and allowed range.
 */
import { existsSync } from 'node:fs';
import * as pulumi from '@pulumi/pulumi';
import {
  AUTH_MODES,
  type AuthMode,
  DEFAULT_SETTINGS,
  MIB,
  type DirectdropSettings,
  SCAN_UNVERIFIED_POLICIES,
  type DropZone,
  SETTING_LIMITS,
  SettingsError,
  type VariantSpec,
  validateAlgorithms,
  validateContentTypes,
  validateDropZones,
  validateIssuer,
  validateVariants,
} from '../functions/core/settings';
import { HOST_JSON_QUEUE_SETTINGS, type QueueHostSettings } from './host-json';
import {
  type OutcomeSubscriber,
  SubscriberError,
  parseOutcomeSubscribers,
} from './outcome-subscribers';

/** The project name in Pulumi.yaml, which namespaces every key (`directdrop:<key>`). */
export const CONFIG_NAMESPACE = 'directdrop';

/** What config.ts needs from `pulumi.Config`; tests pass a plain reader. */
export interface ConfigSource {
  /** The raw value: plain text, or JSON for lists and objects. */
  get(key: string): string | undefined;
}

export const ENVIRONMENTS = ['development', 'production'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

/**
 * Node versions for Functions v4 on Flex Consumption: 24 is GA on Flex since 2026-06-01 and
 * 22 is supported; Azure Functions ended Node 20 support on 2026-04-30 (Azure Updates 502957,
 * 562647), so 20 is refused.
 */
export const NODE_VERSIONS = ['24', '22'] as const;
export type NodeVersion = (typeof NODE_VERSIONS)[number];

/** Flex Consumption instance sizes (Microsoft's Flex samples: 512, 2048, 4096). */
export const INSTANCE_MEMORY_SIZES_MB = [512, 2048, 4096] as const;
export type InstanceMemoryMB = (typeof INSTANCE_MEMORY_SIZES_MB)[number];

export const CONFIG_LIMITS = {
  maxUploadBytes: SETTING_LIMITS.maxUploadBytes,
  maxInputPixels: SETTING_LIMITS.maxInputPixels,
  uploadUrlTtlSeconds: SETTING_LIMITS.uploadUrlTtlSeconds,
  readUrlTtlSeconds: SETTING_LIMITS.readUrlTtlSeconds,
  maxDecodeBytes: SETTING_LIMITS.maxDecodeBytes,
  /** QueuesOptions.MaxBatchSize is 32. */
  queueBatchSize: { min: 1, max: 32 },
  /** No documented maximum; past 32 more images would be in flight than an instance's memory holds. */
  queueNewBatchThreshold: { min: 0, max: 32 },
  /** At least one try; past 20 a broken upload only takes longer to reach the poison queue. */
  queueMaxDequeueCount: { min: 1, max: 20 },
  /** Microsoft's Flex samples use @minValue(40) @maxValue(1000); lower values are unconfirmed. */
  maximumInstanceCount: { min: 40, max: 1000 },
  uploadRetentionDays: { min: 1, max: 365 },
  deadLetterRetentionDays: { min: 1, max: 365 },
  /** 0 keeps processed outputs and manifests for good. */
  processedRetentionDays: { min: 0, max: 3650 },
  originalsRetentionDays: { min: 1, max: 3650 },
  /** Log Analytics pay-as-you-go retention range. */
  logRetentionDays: { min: 30, max: 730 },
  /** Role assignments take up to 10 minutes to apply (Azure RBAC troubleshooting docs). */
  deployRetryMinutes: { min: 1, max: 60 },
  alertFailureRatePercent: { min: 1, max: 100 },
  /** Up to a day: the events queue keeps messages for 7 days. */
  alertBacklogAgeMinutes: { min: 1, max: 1440 },
  /** 5 PiB is a standard storage account's maximum capacity. */
  alertUsedCapacityGiB: { min: 1, max: 5_242_880 },
  alertScanFailurePercent: { min: 1, max: 100 },
  /** In the billing account's currency; 0 creates no budget (a subscription's first 48 hours). */
  monthlyBudget: { min: 0, max: 1_000_000 },
  /** Defender for Storage's monthly scan cap per account; Defender's own default is 10,000 GB. */
  malwareScanningCapGBPerMonth: { min: 1, max: 1_000_000 },
  scanVerdictTimeoutSeconds: SETTING_LIMITS.scanVerdictTimeoutSeconds,
  quotaUrlsPerMinute: SETTING_LIMITS.quotaUrlsPerMinute,
  quotaUrlBurst: SETTING_LIMITS.quotaUrlBurst,
  quotaOutstandingUploads: SETTING_LIMITS.quotaOutstandingUploads,
  quotaBytesPerDay: SETTING_LIMITS.quotaBytesPerDay,
  quotaGlobalUrlsPerMinute: SETTING_LIMITS.quotaGlobalUrlsPerMinute,
} as const;

type IntegerKey = keyof typeof CONFIG_LIMITS;

/** Defaults for every optional key; Pulumi.yaml repeats them and a test keeps the two equal. */
export const CONFIG_DEFAULTS = {
  location: 'eastus',
  environment: 'development' as Environment,
  maxUploadBytes: DEFAULT_SETTINGS.maxUploadBytes,
  maxInputPixels: DEFAULT_SETTINGS.maxInputPixels,
  allowedContentTypes: DEFAULT_SETTINGS.allowedContentTypes,
  variants: DEFAULT_SETTINGS.variants,
  uploadUrlTtlSeconds: DEFAULT_SETTINGS.uploadUrlTtlSeconds,
  readUrlTtlSeconds: DEFAULT_SETTINGS.readUrlTtlSeconds,
  maxDecodeBytes: DEFAULT_SETTINGS.maxDecodeBytes,
  queueBatchSize: HOST_JSON_QUEUE_SETTINGS.batchSize,
  queueNewBatchThreshold: HOST_JSON_QUEUE_SETTINGS.newBatchThreshold,
  queueMaxDequeueCount: HOST_JSON_QUEUE_SETTINGS.maxDequeueCount,
  nodeVersion: '24' as NodeVersion,
  maximumInstanceCount: 40,
  instanceMemoryMB: 2048 as InstanceMemoryMB,
  uploadRetentionDays: 1,
  deadLetterRetentionDays: 30,
  processedRetentionDays: 0,
  keepOriginals: DEFAULT_SETTINGS.keepOriginals,
  originalsRetentionDays: 30,
  logRetentionDays: 30,
  functionPackagePath: '',
  deployRetryMinutes: 10,
  alertEmails: [] as string[],
  alertFailureRatePercent: 5,
  alertBacklogAgeMinutes: 15,
  alertUsedCapacityGiB: 100,
  alertScanFailurePercent: 10,
  monthlyBudget: 50,
  // Defender for Storage bills per account and per GB scanned, so a stack opts in.
  malwareScanning: false,
  malwareScanningCapGBPerMonth: 100,
  scanVerdictTimeoutSeconds: DEFAULT_SETTINGS.scanVerdictTimeoutSeconds,
  scanUnverifiedPolicy: DEFAULT_SETTINGS.scanUnverifiedPolicy,
  authMode: DEFAULT_SETTINGS.authMode as AuthMode,
  authIssuer: DEFAULT_SETTINGS.authIssuer,
  authAudiences: DEFAULT_SETTINGS.authAudiences,
  authRequiredScope: DEFAULT_SETTINGS.authRequiredScope,
  authAlgorithms: DEFAULT_SETTINGS.authAlgorithms,
  quotaUrlsPerMinute: DEFAULT_SETTINGS.quotaUrlsPerMinute,
  quotaUrlBurst: DEFAULT_SETTINGS.quotaUrlBurst,
  quotaOutstandingUploads: DEFAULT_SETTINGS.quotaOutstandingUploads,
  quotaBytesPerDay: DEFAULT_SETTINGS.quotaBytesPerDay,
  quotaGlobalUrlsPerMinute: DEFAULT_SETTINGS.quotaGlobalUrlsPerMinute,
  dropZones: DEFAULT_SETTINGS.dropZones,
  outcomeSubscribers: [] as OutcomeSubscriber[],
} as const;

/** Every key the program reads; `allowedCorsOrigins` alone has no default. */
export const CONFIG_KEYS = [
  'allowedCorsOrigins',
  ...Object.keys(CONFIG_DEFAULTS),
] as readonly string[];

export interface InfraConfig {
  location: string;
  environment: Environment;
  allowedCorsOrigins: string[];
  /** Names and limits handed to the functions as app settings. */
  app: DirectdropSettings;
  queue: QueueHostSettings;
  functionApp: {
    nodeVersion: NodeVersion;
    maximumInstanceCount: number;
    instanceMemoryMB: InstanceMemoryMB;
    deployRetryMinutes: number;
  };
  retention: {
    uploadDays: number;
    deadLetterDays: number;
    /** Processed outputs and manifests; 0 keeps them. */
    processedDays: number;
    /** Kept originals, when `app.keepOriginals` is on. */
    originalsDays: number;
    logDays: number;
  };
  /** A prebuilt function package; undefined means build one from source. */
  functionPackagePath?: string;
  alerts: {
    emails: string[];
    failureRatePercent: number;
    backlogAgeMinutes: number;
    usedCapacityGiB: number;
    /** Share of outcomes that are scan-timeout or scan-failed (when scanning is on). */
    scanFailurePercent: number;
  };
  /** 0: no budget. */
  budget: { monthlyAmount: number };
  /** Event subscriptions on the outcome topic (infra/outcome-events.ts). */
  outcomes: { subscribers: OutcomeSubscriber[] };
  /** Defender for Storage on-upload scanning of the upload account, gating processing. */
  malwareScanning: { enabled: boolean; capGBPerMonth: number };
}

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`Invalid config ${CONFIG_NAMESPACE}:${key}: ${message}`);
    this.name = 'ConfigError';
  }
}

function isSet(raw: string | undefined): raw is string {
  return raw !== undefined && raw !== '';
}

function readInteger(source: ConfigSource, key: IntegerKey): number {
  const raw = source.get(key);
  if (!isSet(raw)) return CONFIG_DEFAULTS[key];
  const value = Number(raw);
  const { min, max } = CONFIG_LIMITS[key];
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(key, `"${raw}" must be an integer from ${min} to ${max}`);
  }
  return value;
}

function readBoolean(source: ConfigSource, key: 'keepOriginals' | 'malwareScanning'): boolean {
  const raw = source.get(key);
  if (!isSet(raw)) return CONFIG_DEFAULTS[key];
  if (raw !== 'true' && raw !== 'false')
    throw new ConfigError(key, `"${raw}" must be true or false`);
  return raw === 'true';
}

function readChoice<T extends string | number>(
  source: ConfigSource,
  key: keyof typeof CONFIG_DEFAULTS,
  choices: readonly T[],
  fallback: T,
): T {
  const raw = source.get(key);
  if (!isSet(raw)) return fallback;
  const choice = choices.find((c) => String(c) === raw);
  if (choice === undefined)
    throw new ConfigError(key, `"${raw}" must be one of ${choices.join(', ')}`);
  return choice;
}

/**
 * Lists arrive as JSON text (a YAML list in the stack file, or `pulumi config set --path`).
 * `holdsSecrets` keeps the raw text out of the error.
 */
function readJson(
  source: ConfigSource,
  key: string,
  expected: string,
  holdsSecrets = false,
): unknown {
  const raw = source.get(key);
  if (!isSet(raw)) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    throw new ConfigError(key, `must be ${expected}${holdsSecrets ? '' : `, not "${raw}"`}`);
  }
}

function readStringList(source: ConfigSource, key: string, example: string): string[] | undefined {
  const expected = `a list of strings like ["${example}"]`;
  const value = readJson(source, key, expected);
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    throw new ConfigError(key, `must be ${expected}`);
  }
  return value as string[];
}

/** Re-raises a shared validator's error under the config key instead of the app setting. */
function asConfigError<T>(key: string, validate: () => T): T {
  try {
    return validate();
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    throw new ConfigError(key, error.message.replace(`Invalid app setting ${key}: `, ''));
  }
}

// Origins as Azure Storage CORS takes them: scheme and host (optional port), no path. A
// wildcard may only be a leading "*." label: Event Grid subscriptions fail to create on
// accounts with other wildcard origins (learn.microsoft.com storage-blob-event-overview).
const ORIGIN =
  /^https?:\/\/(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$/;
const MAX_ORIGIN_LENGTH = 256;

function readCorsOrigins(source: ConfigSource, environment: Environment): string[] {
  const key = 'allowedCorsOrigins';
  const origins = readStringList(source, key, 'https://app.example.com');
  if (origins === undefined || origins.length === 0) {
    throw new ConfigError(key, 'at least one origin is required, e.g. ["https://app.example.com"]');
  }
  for (const origin of origins) {
    if (origin === '*') {
      if (environment === 'production') {
        throw new ConfigError(
          key,
          '"*" is not allowed in production; list the origins that upload',
        );
      }
      continue;
    }
    if (origin.length > MAX_ORIGIN_LENGTH || !ORIGIN.test(origin)) {
      throw new ConfigError(
        key,
        `"${origin}" must be "*" or an origin like https://app.example.com or https://*.example.com (lower case, no path, at most ${MAX_ORIGIN_LENGTH} characters)`,
      );
    }
    if (environment === 'production' && !origin.startsWith('https://')) {
      throw new ConfigError(key, `"${origin}" must use https:// in production`);
    }
  }
  return [...new Set(origins)];
}

function readLocation(source: ConfigSource): string {
  const raw = source.get('location');
  if (!isSet(raw)) return CONFIG_DEFAULTS.location;
  if (!/^[a-z][a-z0-9]{1,39}$/.test(raw)) {
    throw new ConfigError(
      'location',
      `"${raw}" must be an Azure region name like eastus or swedencentral`,
    );
  }
  return raw;
}

const EMAIL = /^[^\s@,;"<>]+@[^\s@,;"<>]+\.[a-z]{2,}$/i;
const MAX_ALERT_EMAILS = 20;

/** Production must e-mail someone; development may leave alerts to the portal. */
function readAlertEmails(source: ConfigSource, environment: Environment): string[] {
  const key = 'alertEmails';
  const emails = readStringList(source, key, 'ops@example.com') ?? [];
  if (emails.length > MAX_ALERT_EMAILS) {
    throw new ConfigError(key, `at most ${MAX_ALERT_EMAILS} addresses, not ${emails.length}`);
  }
  for (const email of emails) {
    if (email.length > 254 || !EMAIL.test(email)) {
      throw new ConfigError(key, `"${email}" must be an e-mail address like ops@example.com`);
    }
  }
  if (environment === 'production' && emails.length === 0) {
    throw new ConfigError(
      key,
      'production needs at least one address for alerts and budget notices, e.g. ["ops@example.com"]',
    );
  }
  return [...new Set(emails)];
}

function readNodeVersion(source: ConfigSource): NodeVersion {
  const raw = source.get('nodeVersion');
  if (raw !== undefined && /^(?:1\d|20|21|23)$/.test(raw)) {
    throw new ConfigError(
      'nodeVersion',
      `"${raw}" is not supported by Azure Functions (Node 20 support ended 2026-04-30); use one of ${NODE_VERSIONS.join(', ')}`,
    );
  }
  return readChoice(source, 'nodeVersion', NODE_VERSIONS, CONFIG_DEFAULTS.nodeVersion);
}

function readFunctionPackagePath(source: ConfigSource): string | undefined {
  const raw = source.get('functionPackagePath');
  if (!isSet(raw)) return undefined;
  if (!raw.endsWith('.zip') || !existsSync(raw)) {
    throw new ConfigError(
      'functionPackagePath',
      `"${raw}" must be an existing .zip built by npm run package:functions`,
    );
  }
  return raw;
}

function readVariants(source: ConfigSource): VariantSpec[] {
  const value = readJson(
    source,
    'variants',
    'a list of variants like [{"name":"thumb","width":320}]',
  );
  if (value === undefined) return CONFIG_DEFAULTS.variants.map((variant) => ({ ...variant }));
  return asConfigError('variants', () => validateVariants(value, 'variants'));
}

function readContentTypes(source: ConfigSource): string[] {
  const types = readStringList(source, 'allowedContentTypes', 'image/jpeg');
  if (types === undefined) return [...CONFIG_DEFAULTS.allowedContentTypes];
  return asConfigError('allowedContentTypes', () =>
    validateContentTypes(types, 'allowedContentTypes'),
  );
}

/**
 * Memory an instance's Functions host and Node worker hold before any image: measured at
 * about 280 MiB for the test process with every module loaded (docs/reliability.md).
 */
export const HOST_BASELINE_MB = 320;
/** Share of an instance's memory that images in flight plus the baseline may plan for. */
export const INSTANCE_MEMORY_HEADROOM = 0.8;

/**
 * Every message an instance holds may be decoding at once: (batchSize + newBatchThreshold)
 * images of up to maxDecodeBytes each, over the host's baseline, must fit the headroom.
 */
function checkDecodeMemory(
  maxDecodeBytes: number,
  queue: QueueHostSettings,
  instanceMemoryMB: number,
): void {
  const inFlight = queue.batchSize + queue.newBatchThreshold;
  const plannedMB = (inFlight * maxDecodeBytes) / MIB + HOST_BASELINE_MB;
  const allowedMB = instanceMemoryMB * INSTANCE_MEMORY_HEADROOM;
  if (plannedMB > allowedMB) {
    throw new ConfigError(
      'maxDecodeBytes',
      `(queueBatchSize ${queue.batchSize} + queueNewBatchThreshold ${queue.newBatchThreshold}) × maxDecodeBytes ${Math.round(maxDecodeBytes / MIB)} MiB + ${HOST_BASELINE_MB} MiB host baseline = ${Math.round(plannedMB)} MiB, over 80 % of instanceMemoryMB ${instanceMemoryMB} (${Math.floor(allowedMB)} MiB); lower maxDecodeBytes, queueBatchSize or queueNewBatchThreshold, or raise instanceMemoryMB`,
    );
  }
}

/** Sign-in: oidc needs issuer and audience; anonymous is refused in production. */
function readAuth(source: ConfigSource, environment: Environment) {
  const authMode = readChoice(source, 'authMode', AUTH_MODES, CONFIG_DEFAULTS.authMode);
  if (authMode === 'anonymous' && environment === 'production') {
    throw new ConfigError(
      'authMode',
      '"anonymous" is not allowed in production; use oidc (end users) or functionKey (servers)',
    );
  }
  const issuerRaw = source.get('authIssuer');
  const authIssuer = isSet(issuerRaw)
    ? asConfigError('authIssuer', () => validateIssuer(issuerRaw, 'authIssuer'))
    : '';
  const authAudiences = (readStringList(source, 'authAudiences', 'api://directdrop') ?? [])
    .map((a) => a.trim())
    .filter((a) => a !== '');
  const algorithms = readStringList(source, 'authAlgorithms', 'RS256');
  const authAlgorithms =
    algorithms === undefined
      ? [...CONFIG_DEFAULTS.authAlgorithms]
      : asConfigError('authAlgorithms', () => validateAlgorithms(algorithms, 'authAlgorithms'));
  const authRequiredScope = (source.get('authRequiredScope') ?? '').trim();
  if (/\s/.test(authRequiredScope))
    throw new ConfigError('authRequiredScope', 'must be one scope or role, without spaces');
  if (authMode === 'oidc') {
    if (authIssuer === '')
      throw new ConfigError(
        'authIssuer',
        'is required when authMode is oidc, e.g. https://login.microsoftonline.com/<tenant>/v2.0',
      );
    if (authAudiences.length === 0)
      throw new ConfigError(
        'authAudiences',
        'is required when authMode is oidc, e.g. ["api://directdrop"]',
      );
  }
  return { authMode, authIssuer, authAudiences, authRequiredScope, authAlgorithms };
}

/** Zone uploads pass the same scan gate as landing uploads (the scan results cover zones). */
function readDropZones(source: ConfigSource): DropZone[] {
  const value = readJson(
    source,
    'dropZones',
    'a list of zones like [{"name":"cameras","retentionDays":7,"maxSasHours":24}]',
  );
  if (value === undefined) return [];
  return asConfigError('dropZones', () => validateDropZones(value, 'dropZones'));
}

function readOutcomeSubscribers(source: ConfigSource): OutcomeSubscriber[] {
  const key = 'outcomeSubscribers';
  const value = readJson(
    source,
    key,
    'a list of subscribers like [{"name":"backend","webhookUrl":"https://app.example.com/api/directdrop-events","webhookSecret":"…"}]',
    true,
  );
  if (value === undefined) return [];
  try {
    return parseOutcomeSubscribers(value);
  } catch (error) {
    if (error instanceof SubscriberError) throw new ConfigError(key, error.message);
    throw error;
  }
}

/** Reads the stack's config; throws a ConfigError naming the first bad key. */
export function loadConfig(
  source: ConfigSource = new pulumi.Config(CONFIG_NAMESPACE),
): InfraConfig {
  const environment = readChoice(source, 'environment', ENVIRONMENTS, CONFIG_DEFAULTS.environment);
  const uploadDays = readInteger(source, 'uploadRetentionDays');
  const deadLetterDays = readInteger(source, 'deadLetterRetentionDays');
  if (deadLetterDays < uploadDays) {
    throw new ConfigError(
      'deadLetterRetentionDays',
      `${deadLetterDays} must be at least uploadRetentionDays (${uploadDays}): dead letters explain uploads, so they outlive them`,
    );
  }
  const malwareScanning = readBoolean(source, 'malwareScanning');
  const queue: QueueHostSettings = {
    batchSize: readInteger(source, 'queueBatchSize'),
    newBatchThreshold: readInteger(source, 'queueNewBatchThreshold'),
    maxDequeueCount: readInteger(source, 'queueMaxDequeueCount'),
  };
  const instanceMemoryMB = readChoice(
    source,
    'instanceMemoryMB',
    INSTANCE_MEMORY_SIZES_MB,
    CONFIG_DEFAULTS.instanceMemoryMB,
  );
  const maxDecodeBytes = readInteger(source, 'maxDecodeBytes');
  checkDecodeMemory(maxDecodeBytes, queue, instanceMemoryMB);
  return {
    location: readLocation(source),
    environment,
    allowedCorsOrigins: readCorsOrigins(source, environment),
    app: {
      landingContainer: DEFAULT_SETTINGS.landingContainer,
      processedContainer: DEFAULT_SETTINGS.processedContainer,
      eventsQueue: DEFAULT_SETTINGS.eventsQueue,
      originalsContainer: DEFAULT_SETTINGS.originalsContainer,
      keepOriginals: readBoolean(source, 'keepOriginals'),
      maxUploadBytes: readInteger(source, 'maxUploadBytes'),
      maxInputPixels: readInteger(source, 'maxInputPixels'),
      allowedContentTypes: readContentTypes(source),
      variants: readVariants(source),
      uploadUrlTtlSeconds: readInteger(source, 'uploadUrlTtlSeconds'),
      readUrlTtlSeconds: readInteger(source, 'readUrlTtlSeconds'),
      ...readAuth(source, environment),
      quotaUrlsPerMinute: readInteger(source, 'quotaUrlsPerMinute'),
      quotaUrlBurst: readInteger(source, 'quotaUrlBurst'),
      quotaOutstandingUploads: readInteger(source, 'quotaOutstandingUploads'),
      quotaBytesPerDay: readInteger(source, 'quotaBytesPerDay'),
      quotaGlobalUrlsPerMinute: readInteger(source, 'quotaGlobalUrlsPerMinute'),
      uploadTable: DEFAULT_SETTINGS.uploadTable,
      // The app's host name exists only once deployed; index.ts sets it.
      publicBaseUrl: '',
      dropZones: readDropZones(source),
      malwareScanning,
      // The topic's ID exists only once deployed; index.ts sets it.
      scanResultsTopic: '',
      scanVerdictTimeoutSeconds: readInteger(source, 'scanVerdictTimeoutSeconds'),
      scanUnverifiedPolicy: readChoice(
        source,
        'scanUnverifiedPolicy',
        SCAN_UNVERIFIED_POLICIES,
        CONFIG_DEFAULTS.scanUnverifiedPolicy,
      ),
      maxDecodeBytes,
      reprocessQueue: DEFAULT_SETTINGS.reprocessQueue,
      reprocessConcurrency: DEFAULT_SETTINGS.reprocessConcurrency,
      // Set by the outcome-events part of the program (topic endpoint, urn:directdrop:<stack>).
      outcomeTopicEndpoint: DEFAULT_SETTINGS.outcomeTopicEndpoint,
      eventSource: DEFAULT_SETTINGS.eventSource,
    },
    queue,
    functionApp: {
      nodeVersion: readNodeVersion(source),
      maximumInstanceCount: readInteger(source, 'maximumInstanceCount'),
      instanceMemoryMB,
      deployRetryMinutes: readInteger(source, 'deployRetryMinutes'),
    },
    retention: {
      uploadDays,
      deadLetterDays,
      processedDays: readInteger(source, 'processedRetentionDays'),
      originalsDays: readInteger(source, 'originalsRetentionDays'),
      logDays: readInteger(source, 'logRetentionDays'),
    },
    functionPackagePath: readFunctionPackagePath(source),
    alerts: {
      emails: readAlertEmails(source, environment),
      failureRatePercent: readInteger(source, 'alertFailureRatePercent'),
      backlogAgeMinutes: readInteger(source, 'alertBacklogAgeMinutes'),
      usedCapacityGiB: readInteger(source, 'alertUsedCapacityGiB'),
      scanFailurePercent: readInteger(source, 'alertScanFailurePercent'),
    },
    budget: { monthlyAmount: readInteger(source, 'monthlyBudget') },
    outcomes: { subscribers: readOutcomeSubscribers(source) },
    malwareScanning: {
      enabled: malwareScanning,
      capGBPerMonth: readInteger(source, 'malwareScanningCapGBPerMonth'),
    },
  };
}
