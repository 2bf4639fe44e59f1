/**
 * Local mode (any role) as a child process that the fault tests and the soak can signal
 * (SIGKILL for a crash, SIGINT for Ctrl-C), with its log read line by line as it arrives.
 * It runs `local/start.ts` the way `npm start` does, but in one process, so a signal
 * reaches the host itself rather than npm or tsx in front of it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { UNTHROTTLED_QUOTA_ENV, freePort } from './azurite-sandbox';

export { UNTHROTTLED_QUOTA_ENV };
import { isPortInUse } from './azurite';
import type { LocalModeRole } from './options';

const REPO_ROOT = resolve(__dirname, '..');
const READY = /directdrop local mode.* is ready/;

export interface LocalModePorts {
  port: number;
  blobPort: number;
  queuePort: number;
  tablePort: number;
  /** The storage half's Event Grid topic. */
  eventsPort: number;
}

export async function freeLocalModePorts(): Promise<LocalModePorts> {
  return {
    port: await freePort(),
    blobPort: await freePort(),
    queuePort: await freePort(),
    tablePort: await freePort(),
    eventsPort: await freePort(),
  };
}

export interface LocalModeProcessOptions {
  role: LocalModeRole;
  ports: LocalModePorts;
  dataDir: string;
  /** More flags, such as `--message-lease 6`. */
  args?: readonly string[];
  /** Check sign-in as `npm start` does; by default the harness runs `--anonymous`, unthrottled. */
  signIn?: boolean;
  /** Added to this process's environment (host.json overrides, settings). */
  env?: Record<string, string>;
}

export interface LocalModeProcess {
  readonly child: ChildProcess;
  readonly role: LocalModeRole;
  /** Everything it printed so far, both streams. */
  output(): string;
  /** Called with each complete line from now on. */
  onLine(listener: (line: string) => void): void;
  exited: Promise<void>;
  /** Resolves once it says it is ready; rejects with its output if it exits or stalls first. */
  ready(timeoutMs?: number): Promise<void>;
  /** Sends `signal` and waits until the process has gone. */
  signal(signal: NodeJS.Signals): Promise<void>;
}

export function startLocalModeProcess(options: LocalModeProcessOptions): LocalModeProcess {
  const { ports } = options;
  const args = [
    '--import',
    'tsx',
    join(REPO_ROOT, 'local', 'start.ts'),
    ...['--role', options.role, '--data', options.dataDir],
    ...['--port', String(ports.port), '--blob-port', String(ports.blobPort)],
    ...['--queue-port', String(ports.queuePort), '--table-port', String(ports.tablePort)],
    ...['--events-port', String(ports.eventsPort)],
    ...(options.signIn ? [] : ['--anonymous']),
    ...(options.args ?? []),
  ];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...(options.signIn ? {} : UNTHROTTLED_QUOTA_ENV), ...options.env },
  });
  let output = '';
  const listeners: Array<(line: string) => void> = [];
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      output += `${line}\n`;
      for (const listener of listeners) listener(line);
    });
  }
  const exited = new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) done();
    else child.once('exit', () => done());
  });
  const hasExited = () => child.exitCode !== null || child.signalCode !== null;

  return {
    child,
    role: options.role,
    output: () => output,
    onLine: (listener) => listeners.push(listener),
    exited,
    async ready(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!READY.test(output)) {
        if (hasExited() || Date.now() > deadline) {
          throw new Error(`local mode (${options.role}) did not become ready:\n${output}`);
        }
        await sleep(25);
      }
    },
    async signal(signal) {
      if (!hasExited()) child.kill(signal);
      await exited;
    },
  };
}

/**
 * After a storage half dies, its Azurite child notices and shuts down on its own (see
 * azurite.ts); a new storage half can start once the ports are free again.
 */
export async function waitForPortsFree(
  ports: readonly number[],
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const port of ports) {
    while (await isPortInUse('127.0.0.1', port)) {
      if (Date.now() > deadline) throw new Error(`port ${port} is still in use`);
      await sleep(50);
    }
  }
}

/**
 * Counts a queue function's invocations in flight from the host's own log lines
 * ("Executing '<name>'" … "Executed '<name>'"), as the Functions host prints them.
 */
export class InvocationCounter {
  now = 0;
  max = 0;
  /** Every invocation started, in order: its DequeueCount and when its line arrived. */
  readonly starts: Array<{ dequeueCount: number; at: number }> = [];

  constructor(private readonly functionName: string) {}

  observe(line: string): void {
    if (line.includes(`Executing '${this.functionName}'`)) {
      this.now += 1;
      this.max = Math.max(this.max, this.now);
      const dequeueCount = Number(/DequeueCount=(\d+)/.exec(line)?.[1] ?? 1);
      this.starts.push({ dequeueCount, at: performance.now() });
    } else if (line.includes(`Executed '${this.functionName}'`)) {
      this.now -= 1;
    }
  }
}
