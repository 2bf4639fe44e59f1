/**
 * `local.settings.json`, the file `func start` reads app settings from. The committed
 * `local.settings.example.json` is generated from the shared definitions by
 * `localSettingsExample()`; a unit test fails when the two drift apart.
 */
import { readFile } from 'node:fs/promises';
import { STORAGE_CONNECTION, WORKER_PROCESS_ENV } from '../functions/core/definitions';
import { DEFAULT_SETTINGS, toAppSettings } from '../functions/core/settings';
import { WEBHOOK_FLAG } from './options';

/** Azurite's default endpoints, which both the SDKs and the Functions host understand. */
export const DEVELOPMENT_STORAGE = 'UseDevelopmentStorage=true';
export const LOCAL_HTTP_PORT = 7071;
export const LOCAL_PUBLIC_BASE_URL = `http://localhost:${LOCAL_HTTP_PORT}/api`;

export interface LocalSettingsFile {
  IsEncrypted: boolean;
  Values: Record<string, string>;
  Host: { LocalHttpPort: number };
}

export function localSettingsExample(): LocalSettingsFile {
  return {
    IsEncrypted: false,
    Values: {
      FUNCTIONS_WORKER_RUNTIME: 'node',
      AzureWebJobsStorage: DEVELOPMENT_STORAGE,
      [STORAGE_CONNECTION]: DEVELOPMENT_STORAGE,
      // statusUrl leads back to func start's own port.
      ...toAppSettings({ ...DEFAULT_SETTINGS, publicBaseUrl: LOCAL_PUBLIC_BASE_URL }),
      // Local mode's, not the app's: webhooks its Event Grid topic delivers outcome events to.
      [WEBHOOK_FLAG.env]: '',
      // Core Tools starts the Node worker with these in its environment, as Azure does.
      ...WORKER_PROCESS_ENV,
    },
    Host: { LocalHttpPort: LOCAL_HTTP_PORT },
  };
}

/** The file's text as committed: two-space JSON and a final newline, as Prettier leaves it. */
export function localSettingsExampleText(): string {
  return `${JSON.stringify(localSettingsExample(), null, 2)}\n`;
}

/**
 * The `Values` of a local.settings.json, or {} when there is none. Like Core Tools v4,
 * callers let real environment variables win over these.
 */
export async function readLocalSettingsValues(path: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const values = (parsed as { Values?: unknown } | null)?.Values;
  if (values === undefined) return {};
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    throw new Error(`${path}: "Values" must be an object of strings`);
  }
  if ((parsed as { IsEncrypted?: unknown }).IsEncrypted === true) {
    throw new Error(`${path} is encrypted; run "func settings decrypt" first`);
  }
  return Object.fromEntries(
    Object.entries(values as Record<string, unknown>).map(([key, value]) => [key, String(value)]),
  );
}
