/**
 * Runs the whole Pulumi program (infra/index.ts) once under mocks, for every test file
 * that needs it: Node caches the module, so a second import would register nothing.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type RecordedResource,
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
