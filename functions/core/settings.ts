/**
 * The app's typed configuration: every name and limit the functions read, with its
 * app-setting key, default and validation. Infra writes these settings with
 * `toAppSettings`, the functions read them with `parseSettings`, local mode uses both.
 */
import { DECODABLE_CONTENT_TYPES } from './decoders';
import { STORAGE_NAMES } from './definitions';

export type OutputFormat = 'webp' | 'avif' | 'jpeg' | 'png';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['webp', 'avif', 'jpeg', 'png'];

export interface VariantSpec {
  /** Short name, used in the output blob name and the status response. */
  name: string;
  /** Target width in pixels; smaller images are never enlarged. */
  width: number;
  format: OutputFormat;
  /** Encoder quality, 1–100. */
  quality: number;
}

export interface DirectdropSettings {
  landingContainer: string;
  processedContainer: string;
  eventsQueue: string;
  /** Where validated originals go when `keepOriginals` is on. */
  originalsContainer: string;
  /** Keep each processed upload's original (private, never served) for reprocessing. */
  keepOriginals: boolean;
  /** Largest upload accepted, in bytes. */
  maxUploadBytes: number;
  /** Largest decoded image accepted (width × height), against decompression bombs. */
  maxInputPixels: number;
  allowedContentTypes: string[];
  variants: VariantSpec[];
  /** Lifetime of an upload SAS. */
  uploadUrlTtlSeconds: number;
  /** Lifetime of the read SAS on processed outputs returned by the status endpoint. */
  readUrlTtlSeconds: number;
  /** Process an upload only after a clean malware-scan verdict for its exact version. */
  malwareScanning: boolean;
  /** ARM ID of the Event Grid topic verdicts must come from; required while scanning is on. */
  scanResultsTopic: string;
  /** How long an upload waits for its verdict before it ends `failed` (`scan-timeout`). */
  scanVerdictTimeoutSeconds: number;
  /** What an `Error` or `Not scanned` verdict leads to; see ScanUnverifiedPolicy. */
  scanUnverifiedPolicy: ScanUnverifiedPolicy;
  /**
   * Largest decode accepted, in bytes (width × height × channels × bytes per sample, doubled
   * for interlaced and progressive images), so no single image can exhaust an instance.
   */
  maxDecodeBytes: number;
  /** How callers of the HTTP API identify themselves; see AuthMode. */
  authMode: AuthMode;
  /** oidc: the identity provider's issuer, exactly as tokens carry it in `iss`. */
  authIssuer: string;
  /** oidc: accepted `aud` values (or `client_id` of Cognito-style access tokens). */
  authAudiences: string[];
  /** oidc: a scope or role every token must carry (`scp`, `scope`, `permissions`, `roles`); '' for none. */
  authRequiredScope: string;
  /** oidc: signature algorithms accepted; asymmetric only. */
  authAlgorithms: string[];
  /** Per caller: upload URLs issued per minute, sustained. */
  quotaUrlsPerMinute: number;
  /** Per caller: URLs that may be issued at once before the per-minute pace applies. */
  quotaUrlBurst: number;
  /** Per caller: uploads issued whose outcome is not recorded yet. */
  quotaOutstandingUploads: number;
  /** Per caller: bytes declared in issued URLs per UTC day. */
  quotaBytesPerDay: number;
  /** All callers together: upload URLs issued per minute. */
  quotaGlobalUrlsPerMinute: number;
  /** Azure Table in the upload account holding quota counters and upload records. */
  uploadTable: string;
  /**
   * The API's base URL as clients reach it, e.g. `https://<app>.azurewebsites.net/api`:
   * `statusUrl` is built from it, never from the request's Host header. Required by the app
   * (see runtime.ts); '' only where nothing answers HTTP (operator commands).
   */
  publicBaseUrl: string;
  /** Upload-only containers for devices and partners, each with its own create-only SAS. */
  dropZones: DropZone[];
  /** Queue of reprocessing work items; apart from the events queue so it has its own pace. */
  reprocessQueue: string;
  /**
   * Reprocessing work items processed at once per instance, whatever the queue extension
   * fetches: its batch settings are app-wide, so this cap keeps live uploads' share.
   */
  reprocessConcurrency: number;
  /**
   * The Event Grid custom topic outcome events are published to
   * (`https://<topic>.<region>-1.eventgrid.azure.net/api/events`); '' publishes nothing.
   */
  outcomeTopicEndpoint: string;
  /** The CloudEvents `source` of every outcome event: `urn:directdrop:<stack>`. */
  eventSource: string;
}

/**
 * `oidc`: a JWT bearer token from the app's identity provider, checked in the function.
 * `functionKey`: server-to-server callers with a function key (the host checks it).
 * `anonymous`: no sign-in; callers are told apart by client IP (explicit opt-in).
 */
export type AuthMode = 'oidc' | 'functionKey' | 'anonymous';
export const AUTH_MODES: readonly AuthMode[] = ['oidc', 'functionKey', 'anonymous'];

/** Asymmetric JWS algorithms only: `none` and HMAC (a shared secret, or a public key misused as one) never. */
export const ASYMMETRIC_JWT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;

export interface DropZone {
  /** Lower-case letters, digits and hyphens; the container is `dropzone-<name>`. */
  name: string;
  /** Days a dropped blob stays in the zone's container before lifecycle deletes it. */
  retentionDays: number;
  /** Longest lifetime of a zone SAS, in hours (at most 7 days). */
  maxSasHours: number;
}

/** The private container of one drop zone. */
export function dropZoneContainer(zoneName: string): string {
  return `dropzone-${zoneName}`;
}

/**
 * `fail`: the upload ends `failed` (`scan-failed`), as nothing is wrong with the file as far
 * as anyone knows; `reject`: it ends `rejected` (`not-scanned`); `process`: it is processed
 * as if clean (only where availability outweighs the risk).
 */
export type ScanUnverifiedPolicy = 'fail' | 'reject' | 'process';
export const SCAN_UNVERIFIED_POLICIES: readonly ScanUnverifiedPolicy[] = [
  'fail',
  'reject',
  'process',
];

export const MIB = 1024 * 1024;

export const DEFAULT_SETTINGS: Readonly<DirectdropSettings> = {
  landingContainer: STORAGE_NAMES.landingContainer,
  processedContainer: STORAGE_NAMES.processedContainer,
  eventsQueue: STORAGE_NAMES.eventsQueue,
  originalsContainer: STORAGE_NAMES.originalsContainer,
  // Originals carry EXIF and GPS: none is kept unless a stack opts in.
  keepOriginals: false,
  maxUploadBytes: 25 * MIB,
  maxInputPixels: 50_000_000,
  allowedContentTypes: [
    'image/jpeg',
    'image/png',
    'image/webp',
    'image/avif',
    'image/gif',
    'image/tiff',
    'image/heic',
    'image/heif',
  ],
  variants: [
    { name: 'thumb', width: 320, format: 'webp', quality: 80 },
    { name: 'display', width: 1600, format: 'webp', quality: 82 },
  ],
  uploadUrlTtlSeconds: 600,
  readUrlTtlSeconds: 900,
  // Off unless the deployment (or local mode) has a scanner that sends verdicts.
  malwareScanning: false,
  scanResultsTopic: '',
  // Defender scans an image-sized blob in seconds; its own timeouts (30 min+) are for huge archives.
  scanVerdictTimeoutSeconds: 900,
  scanUnverifiedPolicy: 'fail',
  // A 50 MP RGBA photo at 8 bits fits; six in flight stay within 80 % of a 2,048 MB instance.
  maxDecodeBytes: 192 * MIB,
  authMode: 'functionKey',
  authIssuer: '',
  authAudiences: [],
  authRequiredScope: '',
  authAlgorithms: ['RS256', 'ES256'],
  quotaUrlsPerMinute: 60,
  quotaUrlBurst: 20,
  quotaOutstandingUploads: 50,
  quotaBytesPerDay: 2048 * MIB,
  quotaGlobalUrlsPerMinute: 6000,
  uploadTable: STORAGE_NAMES.uploadTable,
  publicBaseUrl: '',
  dropZones: [],
  reprocessQueue: STORAGE_NAMES.reprocessQueue,
  reprocessConcurrency: 1,
  outcomeTopicEndpoint: '',
  eventSource: 'urn:directdrop:local',
};

/** Allowed ranges, shared with the Pulumi config validation. */
export const SETTING_LIMITS = {
  maxUploadBytes: { min: 1, max: 256 * MIB },
  maxInputPixels: { min: 1, max: 1_000_000_000 },
  // An upload URL is for one upload now; a read URL for a page view, not a permanent link.
  uploadUrlTtlSeconds: { min: 30, max: 3600 },
  readUrlTtlSeconds: { min: 30, max: 24 * 3600 },
  maxDecodeBytes: { min: 1 * MIB, max: 4096 * MIB },
  reprocessConcurrency: { min: 1, max: 8 },
  variantWidth: { min: 16, max: 8192 },
  variantQuality: { min: 1, max: 100 },
  variantCount: { min: 1, max: 8 },
  scanVerdictTimeoutSeconds: { min: 2, max: 24 * 3600 },
  quotaUrlsPerMinute: { min: 1, max: 100_000 },
  quotaUrlBurst: { min: 1, max: 10_000 },
  /** Counted per minute in the caller's quota entity, so its size sets no bound; 500 keeps one caller's unused URLs in check. */
  quotaOutstandingUploads: { min: 1, max: 500 },
  quotaBytesPerDay: { min: 1, max: 1024 * 1024 * MIB },
  quotaGlobalUrlsPerMinute: { min: 1, max: 1_000_000 },
  dropZoneRetentionDays: { min: 1, max: 365 },
  /** A zone SAS lives at most 7 days, the longest a user delegation key is valid. */
  dropZoneMaxSasHours: { min: 1, max: 7 * 24 },
  dropZoneCount: { min: 0, max: 10 },
} as const;

/** App-setting keys, one per field. */
export const SETTING_KEYS: { readonly [K in keyof DirectdropSettings]: string } = {
  landingContainer: 'DIRECTDROP_LANDING_CONTAINER',
  processedContainer: 'DIRECTDROP_PROCESSED_CONTAINER',
  eventsQueue: 'DIRECTDROP_EVENTS_QUEUE',
  originalsContainer: 'DIRECTDROP_ORIGINALS_CONTAINER',
  keepOriginals: 'DIRECTDROP_KEEP_ORIGINALS',
  maxUploadBytes: 'DIRECTDROP_MAX_UPLOAD_BYTES',
  maxInputPixels: 'DIRECTDROP_MAX_INPUT_PIXELS',
  allowedContentTypes: 'DIRECTDROP_ALLOWED_CONTENT_TYPES',
  variants: 'DIRECTDROP_VARIANTS',
  uploadUrlTtlSeconds: 'DIRECTDROP_UPLOAD_URL_TTL_SECONDS',
  readUrlTtlSeconds: 'DIRECTDROP_READ_URL_TTL_SECONDS',
  malwareScanning: 'DIRECTDROP_MALWARE_SCANNING',
  scanResultsTopic: 'DIRECTDROP_SCAN_RESULTS_TOPIC',
  scanVerdictTimeoutSeconds: 'DIRECTDROP_SCAN_VERDICT_TIMEOUT_SECONDS',
  scanUnverifiedPolicy: 'DIRECTDROP_SCAN_UNVERIFIED_POLICY',
  maxDecodeBytes: 'DIRECTDROP_MAX_DECODE_BYTES',
  authMode: 'DIRECTDROP_AUTH_MODE',
  authIssuer: 'DIRECTDROP_AUTH_ISSUER',
  authAudiences: 'DIRECTDROP_AUTH_AUDIENCE',
  authRequiredScope: 'DIRECTDROP_AUTH_REQUIRED_SCOPE',
  authAlgorithms: 'DIRECTDROP_AUTH_ALGORITHMS',
  quotaUrlsPerMinute: 'DIRECTDROP_QUOTA_URLS_PER_MINUTE',
  quotaUrlBurst: 'DIRECTDROP_QUOTA_URL_BURST',
  quotaOutstandingUploads: 'DIRECTDROP_QUOTA_OUTSTANDING_UPLOADS',
  quotaBytesPerDay: 'DIRECTDROP_QUOTA_BYTES_PER_DAY',
  quotaGlobalUrlsPerMinute: 'DIRECTDROP_QUOTA_GLOBAL_URLS_PER_MINUTE',
  uploadTable: 'DIRECTDROP_UPLOAD_TABLE',
  publicBaseUrl: 'DIRECTDROP_PUBLIC_BASE_URL',
  dropZones: 'DIRECTDROP_DROP_ZONES',
  reprocessQueue: 'DIRECTDROP_REPROCESS_QUEUE',
  reprocessConcurrency: 'DIRECTDROP_REPROCESS_CONCURRENCY',
  outcomeTopicEndpoint: 'DIRECTDROP_OUTCOME_TOPIC_ENDPOINT',
  eventSource: 'DIRECTDROP_EVENT_SOURCE',
};

/**
 * The key of the owner hash (HMAC of issuer and subject). A secret, so it is not part of
 * DirectdropSettings: infra passes a generated secret, local mode one kept per data folder.
 */
export const OWNER_KEY_SETTING = 'DIRECTDROP_OWNER_KEY';
/**
 * The outcome topic's access key (`aeg-sas-key`), local mode only: a secret like the owner
 * key, so not part of DirectdropSettings. Without it the app's managed identity publishes.
 */
export const OUTCOME_TOPIC_KEY_SETTING = 'DIRECTDROP_OUTCOME_TOPIC_KEY';
/** Shortest owner key accepted: 32 characters, e.g. 24 random bytes in Base64. */
export const MIN_OWNER_KEY_LENGTH = 32;

export class SettingsError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`Invalid app setting ${setting}: ${message}`);
    this.name = 'SettingsError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const CONTAINER_NAME = /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const VARIANT_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const CONTENT_TYPE = /^[a-z]+\/[a-z0-9.+-]+$/;

function readName(
  env: Env,
  field:
    | 'landingContainer'
    | 'processedContainer'
    | 'eventsQueue'
    | 'originalsContainer'
    | 'reprocessQueue',
) {
  const key = SETTING_KEYS[field];
  const value = env[key] ?? DEFAULT_SETTINGS[field];
  if (!CONTAINER_NAME.test(value)) {
    throw new SettingsError(
      key,
      `"${value}" is not a valid container or queue name (3-63 of a-z, 0-9, -)`,
    );
  }
  return value;
}

type IntegerField =
  | 'maxUploadBytes'
  | 'maxInputPixels'
  | 'uploadUrlTtlSeconds'
  | 'readUrlTtlSeconds'
  | 'quotaUrlsPerMinute'
  | 'quotaUrlBurst'
  | 'quotaOutstandingUploads'
  | 'quotaBytesPerDay'
  | 'quotaGlobalUrlsPerMinute'
  | 'scanVerdictTimeoutSeconds'
  | 'maxDecodeBytes'
  | 'reprocessConcurrency';

function readInteger(env: Env, field: IntegerField): number {
  const key = SETTING_KEYS[field];
  const raw = env[key];
  if (raw === undefined || raw === '') return DEFAULT_SETTINGS[field];
  const value = Number(raw);
  const { min, max } = SETTING_LIMITS[field];
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SettingsError(key, `"${raw}" must be an integer from ${min} to ${max}`);
  }
  return value;
}

function readBoolean(env: Env, field: 'keepOriginals'): boolean {
  const key = SETTING_KEYS[field];
  const raw = env[key];
  if (raw === undefined || raw === '') return DEFAULT_SETTINGS[field];
  if (raw !== 'true' && raw !== 'false')
    throw new SettingsError(key, `"${raw}" must be true or false`);
  return raw === 'true';
}

export function validateContentTypes(values: readonly string[], setting: string): string[] {
  const normalised = values.map((v) => v.trim().toLowerCase()).filter((v) => v !== '');
  if (normalised.length === 0)
    throw new SettingsError(setting, 'at least one content type is required');
  const bad = normalised.find((v) => !CONTENT_TYPE.test(v));
  if (bad) throw new SettingsError(setting, `"${bad}" is not a content type like image/jpeg`);
  const undecodable = normalised.find((v) => !DECODABLE_CONTENT_TYPES.includes(v));
  if (undecodable) {
    throw new SettingsError(
      setting,
      `"${undecodable}" cannot be processed; choose from ${DECODABLE_CONTENT_TYPES.join(', ')}`,
    );
  }
  return [...new Set(normalised)];
}

export function validateVariants(value: unknown, setting: string): VariantSpec[] {
  const { variantCount, variantWidth, variantQuality } = SETTING_LIMITS;
  if (!Array.isArray(value) || value.length < variantCount.min || value.length > variantCount.max) {
    throw new SettingsError(
      setting,
      `must be a list of ${variantCount.min} to ${variantCount.max} variants like {"name":"thumb","width":320,"format":"webp","quality":80}`,
    );
  }
  const names = new Set<string>();
  return value.map((item: unknown, index) => {
    const v = (item ?? {}) as Record<string, unknown>;
    const where = `variant ${index + 1}`;
    if (typeof v.name !== 'string' || !VARIANT_NAME.test(v.name) || v.name === 'manifest') {
      throw new SettingsError(
        setting,
        `${where}: name must match ${VARIANT_NAME} and not be "manifest"`,
      );
    }
    if (names.has(v.name)) throw new SettingsError(setting, `${where}: duplicate name "${v.name}"`);
    names.add(v.name);
    if (
      !Number.isInteger(v.width) ||
      (v.width as number) < variantWidth.min ||
      (v.width as number) > variantWidth.max
    ) {
      throw new SettingsError(
        setting,
        `${where}: width must be an integer from ${variantWidth.min} to ${variantWidth.max}`,
      );
    }
    const format = v.format ?? 'webp';
    if (!OUTPUT_FORMATS.includes(format as OutputFormat)) {
      throw new SettingsError(
        setting,
        `${where}: format must be one of ${OUTPUT_FORMATS.join(', ')}`,
      );
    }
    const quality = v.quality ?? 80;
    if (
      !Number.isInteger(quality) ||
      (quality as number) < variantQuality.min ||
      (quality as number) > variantQuality.max
    ) {
      throw new SettingsError(
        setting,
        `${where}: quality must be an integer from ${variantQuality.min} to ${variantQuality.max}`,
      );
    }
    return {
      name: v.name,
      width: v.width as number,
      format: format as OutputFormat,
      quality: quality as number,
    };
  });
}

function readVariants(env: Env): VariantSpec[] {
  const key = SETTING_KEYS.variants;
  const raw = env[key];
  if (raw === undefined || raw === '') return DEFAULT_SETTINGS.variants.map((v) => ({ ...v }));
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new SettingsError(key, 'is not valid JSON');
  }
  return validateVariants(parsed, key);
}

function readMalwareScanning(env: Env): boolean {
  const key = SETTING_KEYS.malwareScanning;
  const raw = env[key];
  if (raw === undefined || raw === '') return DEFAULT_SETTINGS.malwareScanning;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  throw new SettingsError(key, `"${raw}" must be true or false`);
}

// An ARM resource ID of an Event Grid custom topic.
const TOPIC_ID =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.EventGrid\/topics\/[^/]+$/i;

function readScanResultsTopic(env: Env, scanning: boolean): string {
  const key = SETTING_KEYS.scanResultsTopic;
  const raw = env[key] ?? '';
  if (raw === '') {
    if (scanning)
      throw new SettingsError(key, `is required while ${SETTING_KEYS.malwareScanning} is true`);
    return '';
  }
  if (!TOPIC_ID.test(raw)) {
    throw new SettingsError(
      key,
      `"${raw}" must be an Event Grid topic ID like /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.EventGrid/topics/<name>`,
    );
  }
  return raw;
}

const TABLE_NAME = /^[A-Za-z][A-Za-z0-9]{2,62}$/;
const ZONE_NAME = /^[a-z0-9](?:[a-z0-9]|-(?!-)){0,38}[a-z0-9]$/;

export function validateAuthMode(value: string, setting: string): AuthMode {
  if (!AUTH_MODES.includes(value as AuthMode)) {
    throw new SettingsError(setting, `"${value}" must be one of ${AUTH_MODES.join(', ')}`);
  }
  return value as AuthMode;
}

function isLoopback(url: URL): boolean {
  return ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}

/**
 * The API base URL: https (http only on loopback, where local mode serves), no query,
 * fragment or credentials; returned without a trailing slash so paths append cleanly.
 */
export function validatePublicBaseUrl(value: string, setting: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new SettingsError(
      setting,
      `"${value}" is not a URL like https://<app>.azurewebsites.net/api`,
    );
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url))) {
    throw new SettingsError(setting, `"${value}" must use https:// (http:// only on loopback)`);
  }
  if (
    url.search ||
    url.hash ||
    url.username ||
    url.password ||
    value.includes('?') ||
    value.includes('#')
  ) {
    throw new SettingsError(setting, 'must have no query, fragment or credentials');
  }
  return url.href.replace(/\/+$/, '');
}

/** An https URL, or http on loopback (where local mode serves), or a SettingsError for `example`. */
function secureUrl(value: string, setting: string, example: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new SettingsError(setting, `"${value}" is not a URL like ${example}`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url))) {
    throw new SettingsError(setting, `"${value}" must use https:// (http:// only on loopback)`);
  }
  return url;
}

/** An issuer is an https URL (http only for loopback, where local mode's provider lives). */
export function validateIssuer(value: string, setting: string): string {
  const url = secureUrl(value, setting, 'https://login.example.com/');
  if (url.search || url.hash) throw new SettingsError(setting, 'must have no query or fragment');
  return value;
}

export function validateAlgorithms(values: readonly string[], setting: string): string[] {
  const list = values.map((v) => v.trim()).filter((v) => v !== '');
  if (list.length === 0) throw new SettingsError(setting, 'at least one algorithm is required');
  const bad = list.find((v) => !(ASYMMETRIC_JWT_ALGORITHMS as readonly string[]).includes(v));
  if (bad !== undefined) {
    throw new SettingsError(
      setting,
      `"${bad}" is not allowed; choose from ${ASYMMETRIC_JWT_ALGORITHMS.join(', ')}`,
    );
  }
  return [...new Set(list)];
}

export function validateDropZones(value: unknown, setting: string): DropZone[] {
  const { dropZoneCount, dropZoneRetentionDays, dropZoneMaxSasHours } = SETTING_LIMITS;
  if (!Array.isArray(value) || value.length > dropZoneCount.max) {
    throw new SettingsError(
      setting,
      `must be a list of at most ${dropZoneCount.max} zones like {"name":"cameras","retentionDays":7,"maxSasHours":24}`,
    );
  }
  const names = new Set<string>();
  return value.map((item: unknown, index) => {
    const z = (item ?? {}) as Record<string, unknown>;
    const where = `zone ${index + 1}`;
    if (typeof z.name !== 'string' || !ZONE_NAME.test(z.name)) {
      throw new SettingsError(
        setting,
        `${where}: name must be 2-40 of a-z, 0-9 and single hyphens, starting and ending with a letter or digit`,
      );
    }
    if (names.has(z.name)) throw new SettingsError(setting, `${where}: duplicate name "${z.name}"`);
    names.add(z.name);
    const integer = (
      field: string,
      fallback: number,
      { min, max }: { min: number; max: number },
    ) => {
      const v = z[field] ?? fallback;
      if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) {
        throw new SettingsError(
          setting,
          `${where}: ${field} must be an integer from ${min} to ${max}`,
        );
      }
      return v as number;
    };
    return {
      name: z.name,
      retentionDays: integer('retentionDays', 7, dropZoneRetentionDays),
      maxSasHours: integer('maxSasHours', 24, dropZoneMaxSasHours),
    };
  });
}

function readList(env: Env, field: 'authAudiences' | 'authAlgorithms'): string[] | undefined {
  const raw = env[SETTING_KEYS[field]];
  return raw === undefined || raw === '' ? undefined : raw.split(',');
}

function readDropZones(env: Env): DropZone[] {
  const key = SETTING_KEYS.dropZones;
  const raw = env[key];
  if (raw === undefined || raw === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new SettingsError(key, 'is not valid JSON');
  }
  return validateDropZones(parsed, key);
}

/** The auth fields, checked together: oidc needs an issuer and an audience. */
function readAuth(env: Env) {
  const modeKey = SETTING_KEYS.authMode;
  const authMode = validateAuthMode(env[modeKey] || DEFAULT_SETTINGS.authMode, modeKey);
  const issuerRaw = env[SETTING_KEYS.authIssuer] ?? '';
  const authIssuer = issuerRaw === '' ? '' : validateIssuer(issuerRaw, SETTING_KEYS.authIssuer);
  const authAudiences = (readList(env, 'authAudiences') ?? [])
    .map((a) => a.trim())
    .filter((a) => a !== '');
  const algorithms = readList(env, 'authAlgorithms');
  const authAlgorithms =
    algorithms === undefined
      ? [...DEFAULT_SETTINGS.authAlgorithms]
      : validateAlgorithms(algorithms, SETTING_KEYS.authAlgorithms);
  const authRequiredScope = (env[SETTING_KEYS.authRequiredScope] ?? '').trim();
  if (/\s/.test(authRequiredScope)) {
    throw new SettingsError(SETTING_KEYS.authRequiredScope, 'must be one scope or role, no spaces');
  }
  if (authMode === 'oidc') {
    if (authIssuer === '')
      throw new SettingsError(SETTING_KEYS.authIssuer, `is required when ${modeKey} is oidc`);
    if (authAudiences.length === 0)
      throw new SettingsError(SETTING_KEYS.authAudiences, `is required when ${modeKey} is oidc`);
  }
  return { authMode, authIssuer, authAudiences, authRequiredScope, authAlgorithms };
}

/**
 * The owner-hash key. Required when callers are people (oidc) or addresses (anonymous),
 * so their hashes cannot be recomputed from a guessed subject; a function-key stack has
 * one caller and may leave it unset.
 */
export function readOwnerKey(env: Env, authMode: AuthMode): string | undefined {
  const raw = env[OWNER_KEY_SETTING];
  if (raw === undefined || raw === '') {
    if (authMode === 'functionKey') return undefined;
    throw new SettingsError(OWNER_KEY_SETTING, `is required when the auth mode is ${authMode}`);
  }
  if (raw.length < MIN_OWNER_KEY_LENGTH) {
    // A secret: say how long it must be, never echo it.
    throw new SettingsError(
      OWNER_KEY_SETTING,
      `must be at least ${MIN_OWNER_KEY_LENGTH} characters`,
    );
  }
  return raw;
}

function readScanUnverifiedPolicy(env: Env): ScanUnverifiedPolicy {
  const key = SETTING_KEYS.scanUnverifiedPolicy;
  const raw = env[key];
  if (raw === undefined || raw === '') return DEFAULT_SETTINGS.scanUnverifiedPolicy;
  const policy = SCAN_UNVERIFIED_POLICIES.find((p) => p === raw);
  if (!policy)
    throw new SettingsError(key, `"${raw}" must be one of ${SCAN_UNVERIFIED_POLICIES.join(', ')}`);
  return policy;
}

function readOutcomeTopicEndpoint(env: Env): string {
  const key = SETTING_KEYS.outcomeTopicEndpoint;
  const raw = env[key] ?? '';
  if (raw === '') return '';
  const url = secureUrl(raw, key, 'https://<topic>.<region>-1.eventgrid.azure.net/api/events');
  if (url.search || url.hash) throw new SettingsError(key, 'must have no query or fragment');
  return raw;
}

/** A CloudEvents source is a URI reference; directdrop's are URNs such as urn:directdrop:dev. */
const EVENT_SOURCE = /^[a-z][a-z0-9+.-]*:[^\s]+$/i;

function readEventSource(env: Env): string {
  const key = SETTING_KEYS.eventSource;
  const raw = env[key] || DEFAULT_SETTINGS.eventSource;
  if (!EVENT_SOURCE.test(raw) || raw.length > 256)
    throw new SettingsError(key, `"${raw}" must be a URI such as urn:directdrop:dev`);
  return raw;
}

/** Reads and validates every directdrop setting; throws a SettingsError naming the bad one. */
export function parseSettings(env: Env): DirectdropSettings {
  const typesKey = SETTING_KEYS.allowedContentTypes;
  const typesRaw = env[typesKey];
  const malwareScanning = readMalwareScanning(env);
  const uploadTable = env[SETTING_KEYS.uploadTable] || DEFAULT_SETTINGS.uploadTable;
  if (!TABLE_NAME.test(uploadTable)) {
    throw new SettingsError(
      SETTING_KEYS.uploadTable,
      `"${uploadTable}" is not a valid table name (3-63 letters and digits, starting with a letter)`,
    );
  }
  return {
    landingContainer: readName(env, 'landingContainer'),
    processedContainer: readName(env, 'processedContainer'),
    eventsQueue: readName(env, 'eventsQueue'),
    originalsContainer: readName(env, 'originalsContainer'),
    keepOriginals: readBoolean(env, 'keepOriginals'),
    maxUploadBytes: readInteger(env, 'maxUploadBytes'),
    maxInputPixels: readInteger(env, 'maxInputPixels'),
    allowedContentTypes:
      typesRaw === undefined || typesRaw === ''
        ? [...DEFAULT_SETTINGS.allowedContentTypes]
        : validateContentTypes(typesRaw.split(','), typesKey),
    variants: readVariants(env),
    uploadUrlTtlSeconds: readInteger(env, 'uploadUrlTtlSeconds'),
    readUrlTtlSeconds: readInteger(env, 'readUrlTtlSeconds'),
    malwareScanning,
    scanResultsTopic: readScanResultsTopic(env, malwareScanning),
    scanVerdictTimeoutSeconds: readInteger(env, 'scanVerdictTimeoutSeconds'),
    scanUnverifiedPolicy: readScanUnverifiedPolicy(env),
    maxDecodeBytes: readInteger(env, 'maxDecodeBytes'),
    ...readAuth(env),
    quotaUrlsPerMinute: readInteger(env, 'quotaUrlsPerMinute'),
    quotaUrlBurst: readInteger(env, 'quotaUrlBurst'),
    quotaOutstandingUploads: readInteger(env, 'quotaOutstandingUploads'),
    quotaBytesPerDay: readInteger(env, 'quotaBytesPerDay'),
    quotaGlobalUrlsPerMinute: readInteger(env, 'quotaGlobalUrlsPerMinute'),
    uploadTable,
    publicBaseUrl:
      (env[SETTING_KEYS.publicBaseUrl] ?? '') === ''
        ? ''
        : validatePublicBaseUrl(
            env[SETTING_KEYS.publicBaseUrl] as string,
            SETTING_KEYS.publicBaseUrl,
          ),
    dropZones: readDropZones(env),
    reprocessQueue: readName(env, 'reprocessQueue'),
    reprocessConcurrency: readInteger(env, 'reprocessConcurrency'),
    outcomeTopicEndpoint: readOutcomeTopicEndpoint(env),
    eventSource: readEventSource(env),
  };
}

/** The app settings that reproduce `settings`; what infra and local mode hand to the app. */
export function toAppSettings(settings: DirectdropSettings): Record<string, string> {
  return {
    [SETTING_KEYS.landingContainer]: settings.landingContainer,
    [SETTING_KEYS.processedContainer]: settings.processedContainer,
    [SETTING_KEYS.eventsQueue]: settings.eventsQueue,
    [SETTING_KEYS.originalsContainer]: settings.originalsContainer,
    [SETTING_KEYS.keepOriginals]: String(settings.keepOriginals),
    [SETTING_KEYS.maxUploadBytes]: String(settings.maxUploadBytes),
    [SETTING_KEYS.maxInputPixels]: String(settings.maxInputPixels),
    [SETTING_KEYS.allowedContentTypes]: settings.allowedContentTypes.join(','),
    [SETTING_KEYS.variants]: JSON.stringify(settings.variants),
    [SETTING_KEYS.uploadUrlTtlSeconds]: String(settings.uploadUrlTtlSeconds),
    [SETTING_KEYS.readUrlTtlSeconds]: String(settings.readUrlTtlSeconds),
    [SETTING_KEYS.malwareScanning]: String(settings.malwareScanning),
    [SETTING_KEYS.scanResultsTopic]: settings.scanResultsTopic,
    [SETTING_KEYS.scanVerdictTimeoutSeconds]: String(settings.scanVerdictTimeoutSeconds),
    [SETTING_KEYS.scanUnverifiedPolicy]: settings.scanUnverifiedPolicy,
    [SETTING_KEYS.maxDecodeBytes]: String(settings.maxDecodeBytes),
    [SETTING_KEYS.authMode]: settings.authMode,
    [SETTING_KEYS.authIssuer]: settings.authIssuer,
    [SETTING_KEYS.authAudiences]: settings.authAudiences.join(','),
    [SETTING_KEYS.authRequiredScope]: settings.authRequiredScope,
    [SETTING_KEYS.authAlgorithms]: settings.authAlgorithms.join(','),
    [SETTING_KEYS.quotaUrlsPerMinute]: String(settings.quotaUrlsPerMinute),
    [SETTING_KEYS.quotaUrlBurst]: String(settings.quotaUrlBurst),
    [SETTING_KEYS.quotaOutstandingUploads]: String(settings.quotaOutstandingUploads),
    [SETTING_KEYS.quotaBytesPerDay]: String(settings.quotaBytesPerDay),
    [SETTING_KEYS.quotaGlobalUrlsPerMinute]: String(settings.quotaGlobalUrlsPerMinute),
    [SETTING_KEYS.uploadTable]: settings.uploadTable,
    [SETTING_KEYS.publicBaseUrl]: settings.publicBaseUrl,
    [SETTING_KEYS.dropZones]: JSON.stringify(settings.dropZones),
    [SETTING_KEYS.reprocessQueue]: settings.reprocessQueue,
    [SETTING_KEYS.reprocessConcurrency]: String(settings.reprocessConcurrency),
    [SETTING_KEYS.outcomeTopicEndpoint]: settings.outcomeTopicEndpoint,
    [SETTING_KEYS.eventSource]: settings.eventSource,
  };
}

/**
 * The Functions host checks function keys itself; in the other modes the function must be
 * reachable without one and checks the caller in code. Read once at startup.
 */
export function httpAuthLevel(env: Env): 'function' | 'anonymous' {
  const raw = env[SETTING_KEYS.authMode] || DEFAULT_SETTINGS.authMode;
  return raw === 'oidc' || raw === 'anonymous' ? 'anonymous' : 'function';
}
