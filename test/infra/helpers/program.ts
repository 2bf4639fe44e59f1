/**
 * Runs the whole Pulumi program (infra/index.ts) once under mocks, for every test file
 * that needs it: Node caches the module, so a second import would register nothing.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { loadConfig } from '../../../infra/config';
import { deployStack } from '../../../infra/stack';
import {
  type RecordedResource,
  optionsRecorder,
  recordedResources,
  resetRecorded,
  settle,
  useMocks,
} from './pulumi-mocks';

export const PROGRAM_CONFIG = {
  environment: 'production',
  location: 'westeurope',
  allowedCorsOrigins: JSON.stringify(['https://photos.example.com']),
  queueBatchSize: '3',
  alertEmails: JSON.stringify(['ops@photos.example.com']),
  monthlyBudget: '300',
  malwareScanning: 'true',
};

export type Program = typeof import('../../../infra/index');

let run:
  Promise<{ program: Program; resources: RecordedResource[]; packagePath: string }> | undefined;

export function runProgram() {
  run ??= (async () => {
    // A stand-in package: building the real one belongs to function-package.test.ts.
    const packagePath = join(mkdtempSync(join(tmpdir(), 'directdrop-')), 'functions.zip');
    writeFileSync(packagePath, 'stand-in package');
    await useMocks({ ...PROGRAM_CONFIG, functionPackagePath: packagePath });
    resetRecorded();
    // The .js path is what Node16 module resolution wants; tsx maps it to index.ts.
    const program = await import('../../../infra/index.js');
    await settle();
    return { program, resources: [...recordedResources()], packagePath };
  })();
  return run;
}

/**
 * Builds a stack from `values` (stack config keys) with deployStack, in a stack of its own, so
 * a test can try configs other than PROGRAM_CONFIG; records every resource's options too.
 */
export async function buildStack(values: Record<string, string>) {
  const packagePath = join(mkdtempSync(join(tmpdir(), 'directdrop-')), 'functions.zip');
  writeFileSync(packagePath, 'stand-in package');
  const config = loadConfig({
    get: (key) => ({ ...PROGRAM_CONFIG, functionPackagePath: packagePath, ...values })[key],
  });
  await useMocks();
  resetRecorded();
  const options = optionsRecorder();
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation(options.transformations[0]);
    deployStack(config);
    return {};
  });
  await settle();
  return { config, resources: [...recordedResources()], options };
}
