/**
 * Runs local mode (`local/start.ts`) as users do, on free ports with a throwaway data
 * folder, for the client integration and browser tests. Ready when the API answers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEV_ACCOUNT_NAME } from '../../local/azurite';
import { freePort } from '../../local/azurite-sandbox';

export interface LocalMode {
  /** e.g. http://localhost:41234, where the page is served. */
  baseUrl: string;
  apiBaseUrl: string;
  /** Local mode's Azurite blob endpoint; the well-known development key opens it. */
  blobEndpoint: string;
  /** Everything local mode printed, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

const REPO_ROOT = resolve(__dirname, '../..');
const READY_TIMEOUT_MS = 45_000;

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((done) => child.once('exit', () => done()));
}

/** `env` adds app settings (e.g. DIRECTDROP_MAX_UPLOAD_BYTES), as users set them. */
export async function startLocalMode(env: Record<string, string> = {}): Promise<LocalMode> {
  const dataDir = await mkdtemp(join(tmpdir(), 'directdrop-local-'));
  const [port, blobPort, queuePort, tablePort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'local/start.ts',
      ...['--port', String(port), '--blob-port', String(blobPort)],
      ...['--queue-port', String(queuePort), '--table-port', String(tablePort)],
      ...['--data', dataDir],
    ],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));

  const baseUrl = `http://localhost:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited(child);
    clearTimeout(killer);
    await rm(dataDir, { recursive: true, force: true });
  };

  // Ready when the status endpoint answers its JSON 404 for an unknown upload.
  const probe = `${baseUrl}/api/uploads/00000000-0000-4000-8000-000000000000`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    const ready = await fetch(probe).then(
      (r) => r.status === 404,
      () => false,
    );
    if (ready) {
      return {
        baseUrl,
        apiBaseUrl: `${baseUrl}/api`,
        blobEndpoint: `http://127.0.0.1:${blobPort}/${DEV_ACCOUNT_NAME}`,
        output: () => output,
        stop,
      };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await stop();
  throw new Error(`Local mode did not become ready:\n${output}`);
}
