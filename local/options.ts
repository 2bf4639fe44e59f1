/**
 * Command-line flags of `npm start` / `npm run start:func`, each with an environment
 * variable fallback so scripts and tests can move ports and the data folder.
 */
import { isAbsolute, resolve } from 'node:path';
import { parseCorsOrigin } from './cors';

/**
 * Which half of local mode this process runs: `storage` is the Azure side (Azurite and
 * the Event Grid emulator), `functions` is our code (the host or `func start`) against a
 * storage half already running on the same ports, `all` is both in one process.
 */
export type LocalModeRole = 'all' | 'storage' | 'functions';
export const LOCAL_MODE_ROLES: readonly LocalModeRole[] = ['all', 'storage', 'functions'];

/** The queue extension leases each message for 10 minutes; a crashed host's messages wait that long. */
export const DEFAULT_MESSAGE_LEASE_SECONDS = 600;

/** `dev-stack` follows `directdrop:malwareScanning` in Pulumi.dev.yaml. */
export type LocalMalwareScanning = 'on' | 'off' | 'dev-stack';

export interface LocalModeOptions {
  /** Run `func start` (Core Tools) instead of the built-in host. */
  func: boolean;
  /** Sign-in off: callers are told apart by address, as `authMode: anonymous` does in Azure. */
  anonymous: boolean;
  role: LocalModeRole;
  /** How long the local host leases a queue message; renewed at half-life while it runs. */
  messageLeaseSeconds: number;
  /** Fraction of events the emulator delivers twice, as Event Grid's at-least-once delivery may. */
  duplicateEvents: number;
  /** Scan committed uploads and gate processing on the verdict, as Defender for Storage does. */
  malwareScanning: LocalMalwareScanning;
  /** Functions HTTP port (`func start`'s default is 7071). */
  port: number;
  blobPort: number;
  queuePort: number;
  tablePort: number;
  /** Absolute folder for Azurite's data and the emulator's delivery record. */
  dataDir: string;
  /** Origins allowed besides any loopback one, for the API and blob CORS. */
  corsOrigins: string[];
  /** Local mode's Event Grid topic for outcome events (storage half). */
  eventsPort: number;
  /** Webhook subscriptions of that topic, from --webhook and DIRECTDROP_LOCAL_WEBHOOKS. */
  webhooks: string[];
  /** Overrides the data folder's webhook secret. */
  webhookSecret?: string;
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
  key: 'port' | 'blobPort' | 'queuePort' | 'tablePort' | 'eventsPort';
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
  {
    flag: '--events-port',
    env: 'DIRECTDROP_LOCAL_EVENTS_PORT',
    key: 'eventsPort',
    fallback: 10003,
    what: 'Event Grid topic port',
  },
];
const DATA_FLAG = { flag: '--data', env: 'DIRECTDROP_LOCAL_DATA', fallback: '.local' };
const ROLE_FLAG = { flag: '--role', env: 'DIRECTDROP_LOCAL_ROLE', fallback: 'all' };
const LEASE_FLAG = {
  flag: '--message-lease',
  env: 'DIRECTDROP_LOCAL_MESSAGE_LEASE',
  fallback: String(DEFAULT_MESSAGE_LEASE_SECONDS),
};
const DUPLICATES_FLAG = {
  flag: '--duplicate-events',
  env: 'DIRECTDROP_LOCAL_DUPLICATE_EVENTS',
  fallback: '0',
};
const SCANNING_FLAG = {
  flag: '--malware-scanning',
  env: 'DIRECTDROP_LOCAL_MALWARE_SCANNING',
  fallback: 'dev-stack',
};
const CORS_FLAG = { flag: '--cors-origin', env: 'DIRECTDROP_LOCAL_CORS_ORIGINS' };
/** Also read from `local.settings.json` Values, by local-mode.ts, when neither of these names one. */
export const WEBHOOK_FLAG = { flag: '--webhook', env: 'DIRECTDROP_LOCAL_WEBHOOKS' };
export const WEBHOOK_SECRET_FLAG = {
  flag: '--webhook-secret',
  env: 'DIRECTDROP_LOCAL_WEBHOOK_SECRET',
};
const VALUE_FLAGS = [DATA_FLAG, ROLE_FLAG, LEASE_FLAG, DUPLICATES_FLAG, SCANNING_FLAG];
/** Shortest lease: renewals run at half-life, and a shorter one would spin on every hiccup. */
const MIN_MESSAGE_LEASE_SECONDS = 2;

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
    `  ${`${ROLE_FLAG.flag} <role>`.padEnd(20)} ${'all | storage | functions (all)'.padEnd(28)} ${ROLE_FLAG.env}`,
    `  ${''.padEnd(20)} storage = Azurite + Event Grid emulator; functions = the host, against them`,
    `  ${`${LEASE_FLAG.flag} <s>`.padEnd(20)} ${`queue message lease (${LEASE_FLAG.fallback})`.padEnd(28)} ${LEASE_FLAG.env}`,
    `  ${''.padEnd(20)} how long a crashed host's messages stay invisible (local host only)`,
    `  ${`${DUPLICATES_FLAG.flag} <f>`.padEnd(20)} ${'events delivered twice (0)'.padEnd(28)} ${DUPLICATES_FLAG.env}`,
    `  ${''.padEnd(20)} a fraction from 0 to 1, to exercise idempotency as Event Grid may`,
    `  ${`${SCANNING_FLAG.flag} <on|off>`.padEnd(20)} ${'scan gate (Pulumi.dev.yaml)'.padEnd(28)} ${SCANNING_FLAG.env}`,
    `  ${''.padEnd(20)} local malware scan of each upload (EICAR, ClamAV if it has signatures)`,
    `  ${`${CORS_FLAG.flag} <origin>`.padEnd(20)} ${'another browser origin'.padEnd(28)} ${CORS_FLAG.env} (comma-separated)`,
    `  ${''.padEnd(20)} repeatable; any http://localhost:<port> and http://127.0.0.1:<port> is allowed already`,
    `  ${`${WEBHOOK_FLAG.flag} <url>`.padEnd(20)} ${'deliver outcome events'.padEnd(28)} ${WEBHOOK_FLAG.env} (comma-separated)`,
    `  ${''.padEnd(20)} repeatable; as Event Grid delivers to a CloudEvents webhook (see docs/local-mode.md)`,
    `  ${`${WEBHOOK_SECRET_FLAG.flag} <s>`.padEnd(20)} ${'X-Directdrop-Webhook-Secret'.padEnd(28)} ${WEBHOOK_SECRET_FLAG.env}`,
    `  ${''.padEnd(20)} default: generated once per data folder (<data>/webhook-secret)`,
    `  ${'--func'.padEnd(20)} run \`func start\` instead of the local host`,
    `  ${'--anonymous'.padEnd(20)} no sign-in (the default checks tokens of the built-in identity provider)`,
    `  ${'--help'.padEnd(20)} show this help`,
  ];
  return lines.join('\n');
}

/** A webhook as a subscription names it: http(s), a host, no credentials or fragment. */
export function parseWebhookUrl(value: string, source: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(
      `${source} "${value}" is not a URL like http://localhost:3000/api/directdrop-events`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`${source} "${value}" must be an http or https URL`);
  if (url.username || url.password || url.hash)
    throw new UsageError(
      `${source} must not carry credentials or a fragment; the webhook secret travels in a header`,
    );
  return url.toString();
}

/** A comma-separated list of webhooks, as DIRECTDROP_LOCAL_WEBHOOKS holds them. */
export function parseWebhookList(raw: string | undefined, source: string): string[] {
  return (raw ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
    .map((item) => parseWebhookUrl(item, source));
}

/** Header-safe: visible ASCII, 8 to 4096 characters (Event Grid's limit for a delivery attribute). */
export function parseWebhookSecret(value: string, source: string): string {
  if (!/^[\x21-\x7e]{8,4096}$/.test(value))
    throw new UsageError(`${source} must be 8 to 4096 visible ASCII characters (no spaces)`);
  return value;
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
  const corsGiven: string[] = [];
  const webhooksGiven: string[] = [];
  let func = false;
  let anonymous = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return { help: true };
    if (arg === '--anonymous') {
      anonymous = true;
      continue;
    }
    if (arg === '--func') {
      func = true;
      continue;
    }
    const [flag, inline] = arg.split(/=(.*)/s, 2);
    if (flag === WEBHOOK_FLAG.flag) {
      const value = inline ?? argv[++i];
      if (value === undefined || value === '') throw new UsageError(`${flag} needs a value`);
      webhooksGiven.push(parseWebhookUrl(value, flag));
      continue;
    }
    if (flag === CORS_FLAG.flag) {
      const value = inline ?? argv[++i];
      if (value === undefined || value === '') throw new UsageError(`${flag} needs a value`);
      corsGiven.push(value);
      continue;
    }
    const known =
      VALUE_FLAGS.some((f) => f.flag === flag) ||
      PORT_FLAGS.some((p) => p.flag === flag) ||
      flag === WEBHOOK_SECRET_FLAG.flag;
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
  const valueOf = (f: (typeof VALUE_FLAGS)[number]) => {
    const fromFlag = given.get(f.flag);
    if (fromFlag !== undefined) return { raw: fromFlag, source: f.flag };
    const fromEnv = env[f.env];
    return fromEnv ? { raw: fromEnv, source: f.env } : { raw: f.fallback, source: f.flag };
  };
  const data = valueOf(DATA_FLAG).raw;
  const role = valueOf(ROLE_FLAG);
  if (!LOCAL_MODE_ROLES.includes(role.raw as LocalModeRole)) {
    throw new UsageError(
      `${role.source} must be one of ${LOCAL_MODE_ROLES.join(', ')}, not "${role.raw}"`,
    );
  }
  const lease = valueOf(LEASE_FLAG);
  const messageLeaseSeconds = Number(lease.raw);
  if (
    !/^\d+$/.test(lease.raw) ||
    messageLeaseSeconds < MIN_MESSAGE_LEASE_SECONDS ||
    messageLeaseSeconds > DEFAULT_MESSAGE_LEASE_SECONDS
  ) {
    throw new UsageError(
      `${lease.source} must be whole seconds from ${MIN_MESSAGE_LEASE_SECONDS} to ` +
        `${DEFAULT_MESSAGE_LEASE_SECONDS}, not "${lease.raw}"`,
    );
  }
  if (func && given.has(LEASE_FLAG.flag)) {
    throw new UsageError(
      `${LEASE_FLAG.flag} applies to the local host only; func start keeps the queue extension's 10 minutes`,
    );
  }
  if (func && role.raw === 'storage') {
    throw new UsageError(`--func runs the functions; --role storage runs none`);
  }
  const duplicates = valueOf(DUPLICATES_FLAG);
  const duplicateEvents = Number(duplicates.raw);
  if (!/^(0(\.\d+)?|1(\.0*)?|\.\d+)$/.test(duplicates.raw)) {
    throw new UsageError(
      `${duplicates.source} must be a fraction from 0 to 1, not "${duplicates.raw}"`,
    );
  }
  const scanning = valueOf(SCANNING_FLAG);
  if (!['on', 'off', 'dev-stack'].includes(scanning.raw)) {
    throw new UsageError(`${scanning.source} must be on or off, not "${scanning.raw}"`);
  }
  const corsFromEnv = (env[CORS_FLAG.env] ?? '').split(',').map((o) => o.trim());
  const corsOrigins = [
    ...corsGiven.map((o) => [o, CORS_FLAG.flag]),
    ...corsFromEnv.filter((o) => o !== '').map((o) => [o, CORS_FLAG.env]),
  ].map(([origin, source]) => {
    try {
      return parseCorsOrigin(origin, source);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  });
  if (
    role.raw === 'functions' &&
    (webhooksGiven.length > 0 || given.has(WEBHOOK_SECRET_FLAG.flag))
  ) {
    throw new UsageError(
      `${WEBHOOK_FLAG.flag} and ${WEBHOOK_SECRET_FLAG.flag} belong to the storage half, which delivers events (--role storage or all)`,
    );
  }
  const webhooks = [...webhooksGiven, ...parseWebhookList(env[WEBHOOK_FLAG.env], WEBHOOK_FLAG.env)];
  const secretFlag = given.get(WEBHOOK_SECRET_FLAG.flag);
  const secretEnv = env[WEBHOOK_SECRET_FLAG.env];
  const webhookSecret =
    secretFlag !== undefined
      ? parseWebhookSecret(secretFlag, WEBHOOK_SECRET_FLAG.flag)
      : secretEnv
        ? parseWebhookSecret(secretEnv, WEBHOOK_SECRET_FLAG.env)
        : undefined;
  return {
    help: false,
    options: {
      func,
      anonymous,
      role: role.raw as LocalModeRole,
      messageLeaseSeconds,
      duplicateEvents,
      malwareScanning: scanning.raw as LocalMalwareScanning,
      ...ports,
      dataDir: isAbsolute(data) ? data : resolve(cwd, data),
      corsOrigins: [...new Set(corsOrigins)],
      webhooks: [...new Set(webhooks)],
      ...(webhookSecret !== undefined ? { webhookSecret } : {}),
    },
  };
}
