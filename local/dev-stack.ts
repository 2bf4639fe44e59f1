/**
 * What the committed development stack says about settings local mode mirrors, so
 * `npm start` behaves like the dev deployment unless told otherwise.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';

const KEY = 'malwareScanning';

/** `directdrop:malwareScanning` in Pulumi.dev.yaml, else Pulumi.yaml's default. */
export async function devStackMalwareScanning(repoRoot: string): Promise<boolean> {
  const stack = parse(await readFile(join(repoRoot, 'Pulumi.dev.yaml'), 'utf8')) as {
    config?: Record<string, unknown>;
  } | null;
  const value = stack?.config?.[`directdrop:${KEY}`];
  if (typeof value === 'boolean') return value;
  const project = parse(await readFile(join(repoRoot, 'Pulumi.yaml'), 'utf8')) as {
    config?: Record<string, { default?: unknown }>;
  } | null;
  return project?.config?.[KEY]?.default === true;
}
