/**
 * What `npm run start:func` needs around Azure Functions Core Tools: finding `func`,
 * building the app to package.json `main`, and a local.settings.json to start from.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, copyFile, readFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

export const CORE_TOOLS_INSTALL_HINT = [
  'Azure Functions Core Tools (`func`) was not found on PATH.',
  'Install version 4, then run this again:',
  '  npm install -g azure-functions-core-tools@4',
  '  or see https://learn.microsoft.com/azure/azure-functions/functions-run-local#install-the-azure-functions-core-tools',
  'Or run `npm start`, which needs no Core Tools.',
].join('\n');

/** The `func` executable on PATH, or undefined. */
export async function findCoreTools(
  env: Readonly<Record<string, string | undefined>>,
): Promise<string | undefined> {
  const names = process.platform === 'win32' ? ['func.cmd', 'func.exe'] : ['func'];
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    for (const name of names) {
      const candidate = join(dir, name);
      const found = await access(candidate, constants.X_OK).then(
        () => true,
        () => false,
      );
      if (found) return candidate;
    }
  }
  return undefined;
}

function run(command: string, args: string[], cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

/**
 * Compiles the functions with tsconfig.build.json and checks the result is where
 * package.json `main` tells the Functions host to load it from.
 */
export async function buildFunctionsApp(repoRoot: string): Promise<string> {
  const tsc = require.resolve('typescript/bin/tsc');
  const code = await run(process.execPath, [tsc, '-p', 'tsconfig.build.json'], repoRoot);
  if (code !== 0) throw new Error(`TypeScript build failed (exit code ${code})`);
  const { main } = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as {
    main?: string;
  };
  if (!main)
    throw new Error('package.json has no "main"; the Functions host loads the app from it');
  await access(join(repoRoot, main)).catch(() => {
    throw new Error(
      `The build did not produce ${main}, which package.json "main" points the host at`,
    );
  });
  return main;
}

/** Creates local.settings.json from the committed example when missing; true if it did. */
export async function ensureLocalSettings(repoRoot: string): Promise<boolean> {
  try {
    await copyFile(
      join(repoRoot, 'local.settings.example.json'),
      join(repoRoot, 'local.settings.json'),
      constants.COPYFILE_EXCL,
    );
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}
