/**
 * Local mode: Azurite, the storage directdrop expects in it, the Event Grid emulator,
 * and the functions, either on the built-in host or under `func start`. Whatever
 * started is stopped again, in reverse, when startup fails or local mode stops.
 */
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import {
  STORAGE_CONNECTION,
  STORAGE_NAMES,
  WEBHOOK_SECRET_HEADER,
} from '../functions/core/definitions';
import {
  type DirectdropSettings,
  OUTCOME_TOPIC_KEY_SETTING,
  SETTING_KEYS,
  dropZoneContainer,
  parseSettings,
  toAppSettings,
} from '../functions/core/settings';
import {
  DEV_ACCOUNT_NAME,
  PortInUseError,
  devStorageEndpoints,
  isPortInUse,
  startAzurite,
} from './azurite';
import {
  CORE_TOOLS_INSTALL_HINT,
  buildFunctionsApp,
  ensureLocalSettings,
  findCoreTools,
} from './core-tools';
import { devStackMalwareScanning } from './dev-stack';
import { corsOriginAllowed } from './cors';
import { startEventGridEmulator } from './event-grid-emulator';
import {
  type RunningEventTopic,
  TOPIC_KEY_FILE_NAME,
  ensureTopicKey,
  ensureWebhookSecret,
  localTopicEndpoint,
  readTopicKey,
  startEventTopic,
} from './event-topic';
import { type RunningFunctionsHost, startFunctionsHost } from './functions-host';
import { type HostConfig, readHostConfig } from './host-config';
import { acquireInstanceLock } from './instance-lock';
import { type LocalAuth, setUpLocalAuth } from './local-auth';
import { readLocalSettingsValues } from './local-settings';
import { type Logger, describeError } from './log';
import { localScanResultsTopic } from './malware-scan-event';
import {
  type LocalMalwareScanner,
  createLocalMalwareScanner,
  describeEngine,
  detectClamAv,
} from './malware-scanner';
import {
  type LocalModeOptions,
  UsageError,
  WEBHOOK_FLAG,
  WEBHOOK_SECRET_FLAG,
  parseWebhookList,
  parseWebhookSecret,
} from './options';
import { type ProvisionedStorage, provisionStorage } from './provision';
import { DEV_DEFAULT_SUBJECT, DEV_TOKEN_HOURS } from './dev-identity';

export interface RunningLocalMode {
  /** Resolves with an exit code when local mode ends by itself (`func` exited). */
  ended: Promise<number>;
  /** Stops everything; running invocations get `drainMs` to finish. */
  stop(drainMs?: number): Promise<void>;
}

export class LocalModeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalModeError';
  }
}

type Env = Record<string, string | undefined>;

/**
 * The app settings the functions see: `merged` with every directdrop setting spelled
 * out, and the storage connections pointing at this Azurite, whose ports may not be the
 * defaults `UseDevelopmentStorage=true` means.
 */
function appSettings(merged: Env, connectionString: string) {
  const settings = parseSettings(merged);
  const values: Record<string, string> = {
    ...(Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)) as Record<
      string,
      string
    >),
    ...toAppSettings(settings),
    FUNCTIONS_WORKER_RUNTIME: 'node',
    AzureWebJobsStorage: connectionString,
    [STORAGE_CONNECTION]: connectionString,
  };
  return { settings, values };
}

async function assertPortsFree(options: LocalModeOptions): Promise<void> {
  const checks: Array<[string, number, string, string]> = [];
  if (options.role !== 'storage') {
    checks.push(
      ['127.0.0.1', options.port, 'Functions HTTP', '--port'],
      ['::1', options.port, 'Functions HTTP', '--port'],
    );
  }
  if (options.role !== 'functions') {
    checks.push(
      ['127.0.0.1', options.blobPort, 'Azurite blob', '--blob-port'],
      ['127.0.0.1', options.queuePort, 'Azurite queue', '--queue-port'],
      ['127.0.0.1', options.tablePort, 'Azurite table', '--table-port'],
      ['127.0.0.1', options.eventsPort, 'Event Grid topic', '--events-port'],
    );
  }
  for (const [host, port, role, flag] of checks) {
    if (await isPortInUse(host, port)) {
      throw new LocalModeError(
        `${role} port ${port} is already in use by another program (Azurite, \`func start\` or ` +
          `another app?). Stop it, or pick another port with ${flag} <port>.`,
      );
    }
  }
}

/** The functions half needs the storage half's containers and queue; say how to start it. */
async function assertStorageRunning(
  options: LocalModeOptions,
  connectionString: string,
  settings: DirectdropSettings,
): Promise<void> {
  const start = `Start it first with \`npm start -- --role storage\` and the same --blob-port, --queue-port and --port.`;
  for (const [port, what] of [
    [options.blobPort, 'blob'],
    [options.queuePort, 'queue'],
  ] as const) {
    if (!(await isPortInUse('127.0.0.1', port))) {
      throw new LocalModeError(`No Azurite ${what} service is listening on port ${port}. ${start}`);
    }
  }
  const [landing, events] = await Promise.all([
    BlobServiceClient.fromConnectionString(connectionString)
      .getContainerClient(settings.landingContainer)
      .exists(),
    QueueServiceClient.fromConnectionString(connectionString)
      .getQueueClient(settings.eventsQueue)
      .exists(),
  ]);
  if (!landing || !events) {
    throw new LocalModeError(
      `Azurite on ports ${options.blobPort}/${options.queuePort} has no '${settings.landingContainer}' ` +
        `container or '${settings.eventsQueue}' queue. ${start}`,
    );
  }
}

interface StartupSummary {
  options: LocalModeOptions;
  repoRoot: string;
  settings: DirectdropSettings;
  blobEndpoint: string;
  queueEndpoint: string;
  /** Present when this process runs the storage half. */
  storage?: ProvisionedStorage;
  /** Present when this process runs the functions on the local host. */
  host?: RunningFunctionsHost;
  hostConfig?: HostConfig;
  /** Present when this process scans uploads (storage half, scanning on). */
  scanner?: LocalMalwareScanner;
  auth?: LocalAuth;
  /** Present when this process runs the storage half's Event Grid topic. */
  events?: { topic: RunningEventTopic; secret: string };
}

/** Where outcome events go, what each delivery carries, and how to watch them. */
function describeEvents(summary: StartupSummary): string[] {
  if (!summary.events) return [];
  const { topic, secret } = summary.events;
  const { options, repoRoot } = summary;
  const inRepo = relative(repoRoot, options.dataDir);
  const data = inRepo && !inRepo.startsWith('..') ? inRepo : options.dataDir;
  const lines = [
    `Events      Event Grid topic ${topic.endpoint} (CloudEvents 1.0; key in ${data}/${TOPIC_KEY_FILE_NAME}) ← the functions publish outcome events`,
  ];
  if (topic.subscriptions.length === 0) {
    lines.push(
      '            no webhook: add one with --webhook <url> (or DIRECTDROP_LOCAL_WEBHOOKS)',
    );
  }
  for (const subscription of topic.subscriptions) {
    lines.push(`            → webhook ${subscription.url}  (subscription ${subscription.name})`);
  }
  lines.push(
    `            deliveries carry ${WEBHOOK_SECRET_HEADER}: ${secret}; undeliverable events go to '${STORAGE_NAMES.deadLetterContainer}'`,
    `            watch them: npx directdrop events --events-port ${options.eventsPort}`,
  );
  return lines;
}

function describeStartup(summary: StartupSummary): string {
  const { options, repoRoot, settings, storage, host, hostConfig, auth } = summary;
  const base = `http://localhost:${options.port}`;
  const inRepo = relative(repoRoot, options.dataDir);
  const data = inRepo && !inRepo.startsWith('..') ? inRepo : options.dataDir;
  const lines = [''];
  if (host && hostConfig) {
    const q = hostConfig.queues;
    // The first link is the one to open: the page, signed in when sign-in is on.
    lines.push(
      auth?.token
        ? `Web page    ${base}/#token=${auth.token}  (signed in as '${DEV_DEFAULT_SUBJECT}'; served from client/web)`
        : `Web page    ${base}/  (served from client/web when it exists)`,
    );
    lines.push(
      `Functions   ${base}  (local host; function keys are not checked locally, as with func start)`,
    );
    for (const route of host.routes) {
      lines.push(`  ${route.methods.join(',').padEnd(6)} ${base}${route.path}  → ${route.name}`);
    }
    for (const trigger of host.queueTriggers) {
      lines.push(`  queue  ${trigger.queueName}  → ${trigger.name}`);
    }
    for (const trigger of host.timerTriggers) {
      lines.push(`  timer  ${trigger.schedule} (NCRONTAB, UTC)  → ${trigger.name}`);
    }
    lines.push(
      `  queue semantics (host.json + AzureFunctionsJobHost__* overrides): batchSize ${q.batchSize}, ` +
        `newBatchThreshold ${q.newBatchThreshold}, maxDequeueCount ${q.maxDequeueCount}, ` +
        `visibilityTimeout ${q.visibilityTimeoutMs / 1000} s, maxPollingInterval ${q.maxPollingIntervalMs / 1000} s, ` +
        `message lease ${options.messageLeaseSeconds} s`,
    );
    lines.push(
      `CORS        any http://localhost:<port> or http://127.0.0.1:<port> page${options.corsOrigins.map((o) => `, ${o}`).join('')}  (add more with --cors-origin)`,
    );
  } else if (options.role !== 'storage') {
    lines.push(`Functions   ${base}  (func start)`);
  }
  if (storage) {
    const duplicates =
      options.duplicateEvents > 0
        ? `; ${Math.round(options.duplicateEvents * 100)} % delivered twice`
        : '';
    lines.push(
      `Azurite     blob ${summary.blobEndpoint}, queue ${summary.queueEndpoint}  (account ${DEV_ACCOUNT_NAME}; data in ${data}/azurite)`,
      `            containers ${storage.containers.join(', ')}; queues ${storage.queues.join(', ')}; ` +
        `table ${storage.tables.join(', ')}; ` +
        `blob CORS for ${storage.corsOrigins.join(', ')}`,
      `Event Grid  emulator: blobs committed in '${[settings.landingContainer, ...settings.dropZones.map((z) => dropZoneContainer(z.name))].join("', '")}' → Base64 BlobCreated events on queue '${settings.eventsQueue}'${duplicates}`,
    );
    lines.push(
      summary.scanner
        ? `Malware     scan gate on: ${describeEngine(summary.scanner.engine)} → Microsoft.Security.MalwareScanningResult on '${settings.eventsQueue}'; verdict wait ${settings.scanVerdictTimeoutSeconds} s`
        : 'Malware     scan gate off (--malware-scanning on to turn it on)',
    );
    lines.push(...describeEvents(summary));
    if (options.role === 'storage') {
      lines.push(
        '',
        `Storage only. Start the functions against it with: npm start -- --role functions` +
          ` --port ${options.port} --blob-port ${options.blobPort} --queue-port ${options.queuePort}` +
          ` --events-port ${options.eventsPort}`,
      );
    }
  } else {
    lines.push(
      `Storage     blob ${summary.blobEndpoint}, queue ${summary.queueEndpoint}  (run by \`npm start -- --role storage\`)`,
      `Events      outcome events published to ${localTopicEndpoint(options.eventsPort)}  (the storage half's topic delivers them)`,
    );
  }
  if (auth) {
    lines.push(`Sign-in     ${auth.describe}`);
    if (auth.token) {
      lines.push(
        `  a token for '${DEV_DEFAULT_SUBJECT}' (${DEV_TOKEN_HOURS} h; more with: npx directdrop dev-token --api ${base}/api --sub alice):`,
        `  TOKEN=${auth.token}`,
      );
    }
  }
  const authHeader = auth?.token ? ` -H "authorization: Bearer $TOKEN"` : '';
  if (options.role !== 'storage') {
    lines.push(
      '',
      'Try a whole upload (bash, with curl and node):',
      '  FILE=photo.jpg',
      `  RESPONSE=$(curl -sS -X POST ${base}/api/uploads -H 'content-type: application/json'${authHeader} \\`,
      `    -d "{\\"fileName\\":\\"$(basename "$FILE")\\",\\"contentType\\":\\"image/jpeg\\",\\"size\\":$(wc -c < "$FILE")}")`,
      `  field() { node -p 'JSON.parse(process.argv[1])[process.argv[2]]' "$RESPONSE" "$1"; }`,
      `  curl -sS -X PUT "$(field uploadUrl)" -H 'x-ms-blob-type: BlockBlob' -H 'content-type: image/jpeg' \\`,
      `    --data-binary @"$FILE" -w 'PUT %{http_code}\\n'`,
      `  while STATUS=$(curl -sS "$(field statusUrl)"${authHeader}); echo "$STATUS"; [[ $STATUS == *'"pending"'* ]]; do sleep 1; done`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

/**
 * The storage half's Event Grid topic and its webhook subscriptions: from the flags and
 * environment, else from local.settings.json; the secret likewise, else the data folder's.
 */
async function startOutcomeTopic(
  options: LocalModeOptions,
  merged: Env,
  key: string,
  connectionString: string,
  log: Logger,
): Promise<{ topic: RunningEventTopic; secret: string }> {
  let webhooks = options.webhooks;
  let secret = options.webhookSecret;
  try {
    if (webhooks.length === 0) {
      webhooks = parseWebhookList(
        merged[WEBHOOK_FLAG.env],
        `${WEBHOOK_FLAG.env} in local.settings.json`,
      );
    }
    const fromSettings = merged[WEBHOOK_SECRET_FLAG.env];
    if (secret === undefined && fromSettings) {
      secret = parseWebhookSecret(
        fromSettings,
        `${WEBHOOK_SECRET_FLAG.env} in local.settings.json`,
      );
    }
  } catch (error) {
    if (error instanceof UsageError) throw new LocalModeError(error.message);
    throw error;
  }
  secret ??= await ensureWebhookSecret(options.dataDir);
  const topic = await startEventTopic({
    port: options.eventsPort,
    key,
    blobService: BlobServiceClient.fromConnectionString(connectionString),
    queueService: QueueServiceClient.fromConnectionString(connectionString),
    deadLetterContainer: STORAGE_NAMES.deadLetterContainer,
    webhooks,
    webhookSecret: secret,
    log,
  });
  return { topic, secret };
}

export async function startLocalMode(
  options: LocalModeOptions,
  repoRoot: string,
  env: Env,
  log: Logger,
): Promise<RunningLocalMode> {
  const runsStorage = options.role !== 'functions';
  const runsFunctions = options.role !== 'storage';
  // Undone in reverse: the functions stop (draining), then the emulator, Azurite, the lock.
  const cleanups: Array<(drainMs: number) => Promise<void>> = [];
  const cleanUp = async (drainMs: number) => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup(drainMs).catch((error) => log.error(describeError(error)));
    }
  };
  // Startup steps that may still be running when another one fails; awaited before cleanup.
  let azuriteSettled: Promise<unknown> = Promise.resolve();
  let funcPath: string | undefined;
  if (options.func) {
    funcPath = await findCoreTools(env);
    if (!funcPath) throw new LocalModeError(CORE_TOOLS_INSTALL_HINT);
  }
  try {
    if (runsStorage) {
      // The data folder belongs to one storage half; a functions half keeps nothing there.
      await mkdir(options.dataDir, { recursive: true });
      const lock = await acquireInstanceLock(join(options.dataDir, 'local-mode.lock'));
      cleanups.push(() => lock.release());
    }
    await assertPortsFree(options);
    const scanning =
      options.malwareScanning === 'dev-stack'
        ? await devStackMalwareScanning(repoRoot)
        : options.malwareScanning === 'on';
    // Real environment variables win over local.settings.json, as with Core Tools v4; the
    // scan gate follows the flag, as both halves must agree on it.
    let merged: Env = {
      ...(await readLocalSettingsValues(join(repoRoot, 'local.settings.json'))),
      ...env,
      [SETTING_KEYS.malwareScanning]: String(scanning),
      [SETTING_KEYS.scanResultsTopic]: scanning ? localScanResultsTopic(DEV_ACCOUNT_NAME) : '',
    };
    // The topic key belongs to the data folder: the storage half makes it, a functions half reads it.
    const topicKey = runsStorage
      ? await ensureTopicKey(options.dataDir)
      : await readTopicKey(options.dataDir);
    if (topicKey) {
      merged = {
        ...merged,
        [SETTING_KEYS.outcomeTopicEndpoint]: localTopicEndpoint(options.eventsPort),
        [OUTCOME_TOPIC_KEY_SETTING]: topicKey,
      };
    }
    // statusUrl leads back to this host unless the settings name another public URL.
    merged[SETTING_KEYS.publicBaseUrl] ||= `http://localhost:${options.port}/api`;
    let auth: LocalAuth | undefined;
    if (runsFunctions) {
      // The identity provider's keys live in the data folder, so tokens survive a restart.
      await mkdir(options.dataDir, { recursive: true });
      auth = await setUpLocalAuth(options, merged);
      cleanups.push(() => (auth as LocalAuth).stop());
      merged = { ...merged, ...auth.env };
    }

    // Azurite takes a second or two; load everything else meanwhile.
    const azuriteStarting = runsStorage
      ? startAzurite({
          location: join(options.dataDir, 'azurite'),
          blobPort: options.blobPort,
          queuePort: options.queuePort,
          tablePort: options.tablePort,
        })
      : undefined;
    azuriteSettled = azuriteStarting?.catch(() => undefined) ?? azuriteSettled;
    const registrationsLoading =
      runsFunctions && !options.func ? import('../functions/registrations.js') : undefined;
    // Awaited later; this only keeps an early failure elsewhere from leaving it unhandled.
    registrationsLoading?.catch(() => undefined);
    const [endpoints, hostConfig, built] = await Promise.all([
      azuriteStarting
        ? azuriteStarting.then((running) => {
            cleanups.push(() => running.stop());
            return running;
          })
        : devStorageEndpoints(
            '127.0.0.1',
            options.blobPort,
            options.queuePort,
            'http',
            options.tablePort,
          ),
      runsFunctions
        ? readHostConfig(join(repoRoot, 'host.json'), merged, availableParallelism())
        : undefined,
      runsFunctions && options.func ? buildFunctionsApp(repoRoot) : undefined,
    ]);
    const { settings, values } = appSettings(merged, endpoints.connectionString);
    const summary: StartupSummary = {
      options,
      repoRoot,
      settings,
      blobEndpoint: endpoints.blobEndpoint,
      queueEndpoint: endpoints.queueEndpoint,
      hostConfig,
      auth,
    };

    if (runsStorage) {
      summary.storage = await provisionStorage(
        endpoints.connectionString,
        settings,
        options.corsOrigins,
      );
      summary.scanner = settings.malwareScanning
        ? createLocalMalwareScanner(await detectClamAv(), log)
        : undefined;
      // One subscription per watched container, as in Azure: the landing container, then each drop zone.
      const watched = [
        { container: settings.landingContainer, state: 'event-grid-emulator.json' },
        ...settings.dropZones.map((zone) => ({
          container: dropZoneContainer(zone.name),
          state: `event-grid-emulator-${dropZoneContainer(zone.name)}.json`,
        })),
      ];
      for (const { container, state } of watched) {
        const emulator = await startEventGridEmulator({
          container: BlobServiceClient.fromConnectionString(
            endpoints.connectionString,
          ).getContainerClient(container),
          queue: QueueServiceClient.fromConnectionString(endpoints.connectionString).getQueueClient(
            settings.eventsQueue,
          ),
          accountName: DEV_ACCOUNT_NAME,
          statePath: join(options.dataDir, state),
          duplicateFraction: options.duplicateEvents,
          malwareScanning: summary.scanner && {
            scanner: summary.scanner,
            topic: settings.scanResultsTopic,
          },
          log,
        });
        cleanups.push(() => emulator.stop());
      }
      const events = await startOutcomeTopic(
        options,
        merged,
        topicKey as string,
        endpoints.connectionString,
        log,
      );
      cleanups.push(() => events.topic.stop());
      summary.events = events;
    } else {
      await assertStorageRunning(options, endpoints.connectionString, settings);
      if (!topicKey) {
        throw new LocalModeError(
          `No Event Grid topic key in ${join(options.dataDir, TOPIC_KEY_FILE_NAME)}: start the storage half ` +
            'with the same --data first (npm start -- --role storage).',
        );
      }
    }

    let ended: Promise<number> = new Promise(() => undefined);
    if (registrationsLoading && hostConfig) {
      // The handlers read their settings from process.env, as in Azure.
      Object.assign(process.env, values);
      const { registrations } = await registrationsLoading;
      const host = await startFunctionsHost({
        registrations,
        env: values,
        config: hostConfig,
        port: options.port,
        staticRoot: join(repoRoot, 'client', 'web'),
        queueLeaseMs: options.messageLeaseSeconds * 1000,
        extraRoutes: auth?.serve,
        corsOriginAllowed: (origin) => corsOriginAllowed(origin, options.corsOrigins),
        log,
      });
      summary.host = host;
      cleanups.push((drainMs) => host.stop(drainMs));
    } else if (runsFunctions) {
      if (await ensureLocalSettings(repoRoot)) {
        log.info('Created local.settings.json from local.settings.example.json');
      }
      log.info(
        `Built the functions to ${built}; starting ${funcPath} start --port ${options.port}`,
      );
      // Core Tools lets these environment variables win over local.settings.json.
      // Core Tools matches CORS origins exactly: the loopback wildcard is the local host's alone.
      const cors = options.corsOrigins.length > 0 ? ['--cors', options.corsOrigins.join(',')] : [];
      const child = spawn(funcPath as string, ['start', '--port', String(options.port), ...cors], {
        cwd: repoRoot,
        env: { ...process.env, ...values },
        stdio: 'inherit',
      });
      ended = new Promise((resolve) => {
        child.once('error', (error) => {
          log.error(`Could not run func: ${error.message}`);
          resolve(1);
        });
        child.once('exit', (code, signal) => resolve(code ?? (signal ? 0 : 1)));
      });
      cleanups.push(async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
        await ended;
      });
    }

    console.log(describeStartup(summary));
    return {
      ended,
      stop: (drainMs = 10_000) => cleanUp(drainMs),
    };
  } catch (error) {
    await azuriteSettled;
    await cleanUp(0);
    if (error instanceof PortInUseError) {
      throw new LocalModeError(
        `${error.message}. Stop the program using it, or pick another port.`,
      );
    }
    throw error;
  }
}
