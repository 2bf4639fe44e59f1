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
  /**
   * Largest decode accepted, in bytes (width × height × channels × bytes per sample, doubled
   * for interlaced and progressive images), so no single image can exhaust an instance.
   */
  maxDecodeBytes: number;
  /** Queue of reprocessing work items; apart from the events queue so it has its own pace. */
  reprocessQueue: string;
  /**
   * Reprocessing work items processed at once per instance, whatever the queue extension
   * fetches: its batch settings are app-wide, so this cap keeps live uploads' share.
   */
  reprocessConcurrency: number;
}

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
  // A 50 MP RGBA photo at 8 bits fits; six in flight stay within 80 % of a 2,048 MB instance.
  maxDecodeBytes: 192 * MIB,
  reprocessQueue: STORAGE_NAMES.reprocessQueue,
  reprocessConcurrency: 1,
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
  maxDecodeBytes: 'DIRECTDROP_MAX_DECODE_BYTES',
  reprocessQueue: 'DIRECTDROP_REPROCESS_QUEUE',
  reprocessConcurrency: 'DIRECTDROP_REPROCESS_CONCURRENCY',
};

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

function readInteger(
  env: Env,
  field:
    | 'maxUploadBytes'
    | 'maxInputPixels'
    | 'uploadUrlTtlSeconds'
    | 'readUrlTtlSeconds'
    | 'maxDecodeBytes'
    | 'reprocessConcurrency',
): number {
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

/** Reads and validates every directdrop setting; throws a SettingsError naming the bad one. */
export function parseSettings(env: Env): DirectdropSettings {
  const typesKey = SETTING_KEYS.allowedContentTypes;
  const typesRaw = env[typesKey];
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
    maxDecodeBytes: readInteger(env, 'maxDecodeBytes'),
    reprocessQueue: readName(env, 'reprocessQueue'),
    reprocessConcurrency: readInteger(env, 'reprocessConcurrency'),
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
    [SETTING_KEYS.maxDecodeBytes]: String(settings.maxDecodeBytes),
    [SETTING_KEYS.reprocessQueue]: settings.reprocessQueue,
    [SETTING_KEYS.reprocessConcurrency]: String(settings.reprocessConcurrency),
  };
}
