/**
 * Starts Azurite (Blob, Queue and Table) from the `azurite` npm package as a child process.
 * Used by local mode and by the integration and e2e tests, so they run the same thing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { mkdir } from 'node:fs/promises';

/** Azurite's well-known development account; public by design, not a secret. */
export const DEV_ACCOUNT_NAME = 'devstoreaccount1';
export const DEV_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteOptions {
  /** Folder Azurite keeps its data in. */
  location: string;
  host?: string;
  blobPort?: number;
  queuePort?: number;
  /** Azurite always starts its Table service; defaults to queuePort + 1. */
  tablePort?: number;
  /** HTTPS certificate and key (PEM); needed for OAuth and user delegation keys. */
  cert?: string;
  key?: string;
  /** Enables Azurite's `--oauth basic` mode (requires cert and key). */
  oauth?: boolean;
  /** Where Azurite's own output goes; defaults to being discarded. */
  stdio?: 'ignore' | 'inherit';
}

export interface StorageEndpoints {
  blobEndpoint: string;
  queueEndpoint: string;
  tableEndpoint: string;
  /** Connection string for the development account against this instance. */
  connectionString: string;
}

export interface RunningAzurite extends StorageEndpoints {
  process: ChildProcess;
  stop(): Promise<void>;
}

/** The development account's endpoints on an Azurite listening at these ports. */
export function devStorageEndpoints(
  host: string,
  blobPort: number,
  queuePort: number,
  scheme: 'http' | 'https' = 'http',
  tablePort = queuePort + 1,
): StorageEndpoints {
  const blobEndpoint = `${scheme}://${host}:${blobPort}/${DEV_ACCOUNT_NAME}`;
  const queueEndpoint = `${scheme}://${host}:${queuePort}/${DEV_ACCOUNT_NAME}`;
  const tableEndpoint = `${scheme}://${host}:${tablePort}/${DEV_ACCOUNT_NAME}`;
  return {
    blobEndpoint,
    queueEndpoint,
    tableEndpoint,
    connectionString:
      `DefaultEndpointsProtocol=${scheme};AccountName=${DEV_ACCOUNT_NAME};AccountKey=${DEV_ACCOUNT_KEY};` +
      `BlobEndpoint=${blobEndpoint};QueueEndpoint=${queueEndpoint};TableEndpoint=${tableEndpoint};`,
  };
}

const AZURITE_BIN = require.resolve('azurite/dist/src/azurite.js');

function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = createConnection({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline)
          reject(new Error(`Azurite did not listen on ${host}:${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** True when something already accepts connections on host:port. */
export function isPortInUse(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export class PortInUseError extends Error {
  constructor(
    readonly host: string,
    readonly port: number,
    readonly role: string,
  ) {
    super(`${role} port ${port} on ${host} is already in use`);
    this.name = 'PortInUseError';
  }
}

/**
 * Runs Azurite's CLI in a child that stops itself when this process goes away (the IPC
 * channel closes even on SIGKILL), so a crashed local mode never leaves ports taken.
 * SIGTERM lets Azurite flush its metadata before exiting; the unref'd channel does not
 * keep it alive once its servers close.
 */
const CHILD_BOOTSTRAP = `process.channel.unref();
process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
require(process.argv[1]);`;

export async function startAzurite(options: AzuriteOptions): Promise<RunningAzurite> {
  const host = options.host ?? '127.0.0.1';
  const blobPort = options.blobPort ?? 10000;
  const queuePort = options.queuePort ?? 10001;
  // The upload table lives here; the default stays clash-free.
  const tablePort = options.tablePort ?? queuePort + 1;
  const ports: Array<[number, string]> = [
    [blobPort, 'Azurite blob'],
    [queuePort, 'Azurite queue'],
    [tablePort, 'Azurite table'],
  ];
  for (const [port, role] of ports) {
    // Azurite would exit on EADDRINUSE, and the port check below would then see the other process.
    if (await isPortInUse(host, port)) throw new PortInUseError(host, port, role);
  }
  await mkdir(options.location, { recursive: true });
  const args = [
    '-e',
    CHILD_BOOTSTRAP,
    AZURITE_BIN,
    '--silent',
    '--location',
    options.location,
    '--blobHost',
    host,
    '--blobPort',
    String(blobPort),
    '--queueHost',
    host,
    '--queuePort',
    String(queuePort),
    '--tableHost',
    host,
    '--tablePort',
    String(tablePort),
    // The storage SDKs send a newer x-ms-version than Azurite knows; without this every call is a 400.
    '--skipApiVersionCheck',
    '--disableTelemetry',
  ];
  if (options.cert && options.key) args.push('--cert', options.cert, '--key', options.key);
  if (options.oauth) args.push('--oauth', 'basic');

  const inherit = options.stdio === 'inherit';
  // Its own process group: a terminal Ctrl-C must not stop storage while our functions drain.
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', inherit ? 'inherit' : 'ignore', inherit ? 'inherit' : 'pipe', 'ipc'],
    detached: true,
    windowsHide: true,
  });
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString()).slice(-2000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let earlyExit: Error | undefined;
  child.once('exit', (code, signal) => {
    const detail = stderrTail.trim() ? `: ${stderrTail.trim()}` : '';
    earlyExit = new Error(`Azurite exited with ${signal ?? `code ${code}`}${detail}`);
  });
  try {
    await Promise.race([
      Promise.all(ports.map(([port]) => waitForPort(host, port, 15_000))),
      exited.then(() => Promise.reject(earlyExit)),
    ]);
  } catch (error) {
    child.kill();
    throw earlyExit ?? error;
  }

  return {
    ...devStorageEndpoints(host, blobPort, queuePort, options.cert ? 'https' : 'http', tablePort),
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
