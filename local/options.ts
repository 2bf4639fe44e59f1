/**
 * Command-line flags of `npm start` / `npm run start:func`, each with an environment
 * variable fallback so scripts and tests can move ports and the data folder.
 */
import { isAbsolute, resolve } from 'node:path';

export interface LocalModeOptions {
  /** Run `func start` (Core Tools) instead of the built-in host. */
  func: boolean;
  /** Functions HTTP port (`func start`'s default is 7071). */
  port: number;
  blobPort: number;
  queuePort: number;
  tablePort: number;
  /** Absolute folder for Azurite's data and the emulator's delivery record. */
  dataDir: string;
}

export type ParsedArgs = { help: true } | { help: false; options: LocalModeOptions };

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

interface PortFlag {
  flag: string;
  env: string;
  key: 'port' | 'blobPort' | 'queuePort' | 'tablePort';
  fallback: number;
  what: string;
}

const PORT_FLAGS: readonly PortFlag[] = [
  {
    flag: '--port',
    env: 'DIRECTDROP_LOCAL_PORT',
    key: 'port',
    fallback: 7071,
    what: 'Functions HTTP port',
  },
  {
    flag: '--blob-port',
    env: 'DIRECTDROP_LOCAL_BLOB_PORT',
    key: 'blobPort',
    fallback: 10000,
    what: 'Azurite Blob port',
  },
  {
    flag: '--queue-port',
    env: 'DIRECTDROP_LOCAL_QUEUE_PORT',
    key: 'queuePort',
    fallback: 10001,
    what: 'Azurite Queue port',
  },
  {
    flag: '--table-port',
    env: 'DIRECTDROP_LOCAL_TABLE_PORT',
    key: 'tablePort',
    fallback: 10002,
    what: 'Azurite Table port',
  },
];
const DATA_FLAG = { flag: '--data', env: 'DIRECTDROP_LOCAL_DATA', fallback: '.local' };

export function usage(): string {
  const lines = [
    'Usage: npm start [-- options]            local host, no Core Tools needed',
    '       npm run start:func [-- options]   same storage and events, then `func start`',
    '',
    'Options (each also read from the environment variable shown):',
    ...PORT_FLAGS.map(
      (p) =>
        `  ${`${p.flag} <port>`.padEnd(20)} ${`${p.what} (${p.fallback})`.padEnd(28)} ${p.env}`,
    ),
    `  ${`${DATA_FLAG.flag} <folder>`.padEnd(20)} ${`data folder (${DATA_FLAG.fallback})`.padEnd(28)} ${DATA_FLAG.env}`,
    `  ${'--func'.padEnd(20)} run \`func start\` instead of the local host`,
    `  ${'--help'.padEnd(20)} show this help`,
  ];
  return lines.join('\n');
}

function parsePort(raw: string, source: string): number {
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65535) {
    throw new UsageError(`${source} must be a port number from 1 to 65535, not "${raw}"`);
  }
  return port;
}

/** Parses flags (after `npm start --`); relative data folders resolve against `cwd`. */
export function parseLocalModeArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): ParsedArgs {
  const given = new Map<string, string>();
  let func = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return { help: true };
    if (arg === '--func') {
      func = true;
      continue;
    }
    const [flag, inline] = arg.split(/=(.*)/s, 2);
    const known = flag === DATA_FLAG.flag || PORT_FLAGS.some((p) => p.flag === flag);
    if (!known) throw new UsageError(`unknown option "${arg}"\n\n${usage()}`);
    const value = inline ?? argv[++i];
    if (value === undefined || value === '') throw new UsageError(`${flag} needs a value`);
    given.set(flag, value);
  }

  const ports = {} as Record<PortFlag['key'], number>;
  for (const p of PORT_FLAGS) {
    const fromFlag = given.get(p.flag);
    const fromEnv = env[p.env];
    ports[p.key] =
      fromFlag !== undefined
        ? parsePort(fromFlag, p.flag)
        : fromEnv
          ? parsePort(fromEnv, p.env)
          : p.fallback;
  }
  const taken = new Map<number, string>();
  for (const p of PORT_FLAGS) {
    const other = taken.get(ports[p.key]);
    if (other) throw new UsageError(`${p.what} and ${other} are both ${ports[p.key]}`);
    taken.set(ports[p.key], p.what);
  }
  const data = given.get(DATA_FLAG.flag) ?? env[DATA_FLAG.env] ?? DATA_FLAG.fallback;
  return {
    help: false,
    options: { func, ...ports, dataDir: isAbsolute(data) ? data : resolve(cwd, data) },
  };
}
