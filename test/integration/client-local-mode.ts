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
import { UNTHROTTLED_QUOTA_ENV } from '../../local/local-mode-process';

export interface LocalMode {
  /** e.g. http://localhost:41234, where the page is served. */
  baseUrl: string;
  apiBaseUrl: string;
  /** Local mode's Azurite blob endpoint; the well-known development key opens it. */
  blobEndpoint: string;
  /** The local Event Grid topic's origin, e.g. http://127.0.0.1:41235. */
  eventsBaseUrl: string;
  /** Its data folder (what `.local` is to `npm start`). */
  dataDir: string;
  /** The token local mode printed, when started with sign-in. */
  token?: string;
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

/**
 * `settings`: app settings for the functions, as environment variables (they win over
 * local.settings.json). Sign-in is off (`--anonymous`) and quotas out of reach unless
 * `signIn` asks for `npm start`'s defaults.
 */
export async function startLocalMode(
  options: { signIn?: boolean; settings?: Record<string, string> } = {},
): Promise<LocalMode> {
  const dataDir = await mkdtemp(join(tmpdir(), 'directdrop-local-'));
  const [port, blobPort, queuePort, tablePort, eventsPort] = [
    await freePort(),
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
      ...['--events-port', String(eventsPort), '--data', dataDir],
      ...(options.signIn ? [] : ['--anonymous']),
    ],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        ...(options.signIn ? {} : UNTHROTTLED_QUOTA_ENV),
        ...options.settings,
      },
    },
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
    const token = /TOKEN=(\S+)/.exec(output)?.[1];
    const ready = await fetch(probe, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    }).then(
      (r) => r.status === 404,
      () => false,
    );
    if (ready) {
      return {
        baseUrl,
        token,
        apiBaseUrl: `${baseUrl}/api`,
        blobEndpoint: `http://127.0.0.1:${blobPort}/${DEV_ACCOUNT_NAME}`,
        eventsBaseUrl: `http://127.0.0.1:${eventsPort}`,
        dataDir,
        output: () => output,
        stop,
      };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await stop();
  throw new Error(`Local mode did not become ready:\n${output}`);
}
