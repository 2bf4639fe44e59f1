/**
 * Operator commands of `npx directdrop`: `dev-token` (local mode's sign-in), `dropzone-url`
 * and `dropzone status` (drop zones, in Azure or local mode), `events` (local mode's
 * outcome events as they arrive). They act with
 * the operator's own credentials and local files, never through the public API, so they
 * live beside local mode rather than in the client library.
 */
import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DevTokenError, requestDevToken } from '../client/src/dev-token';
import { OWNER_KEY_SETTING, SETTING_KEYS, validateDropZones } from '../functions/core/settings';
import {
  DEV_DEFAULT_SUBJECT,
  DEV_TOKEN_HOURS,
  DEV_TOKEN_MAX_HOURS,
  devIdentityFile,
  findDevIdentity,
  signDevToken,
} from './dev-identity';
import { DEFAULT_EVENTS_PORT, EVENTS_STREAM_PATH } from './event-topic';
import { describeDeliveryNotice, describeOutcomeEvent, watchEventStream } from './event-watch';
import {
  DropZoneError,
  MAX_ZONE_SAS_HOURS,
  type OperatorStorage,
  azureOperatorStorage,
  dropZoneStatus,
  dropZoneUrl,
  findZone,
  localOperatorStorage,
} from './drop-zone-admin';

interface StorageFlags {
  blobEndpoint?: string;
  blobPort: number;
  tablePort?: number;
  zones?: string;
}

/** Zones as the app reads them: the same setting, from --zones or the environment. */
function zonesOf(flags: StorageFlags) {
  const raw = flags.zones ?? process.env[SETTING_KEYS.dropZones];
  if (!raw) return [];
  try {
    return validateDropZones(JSON.parse(raw), SETTING_KEYS.dropZones);
  } catch (error) {
    throw new DropZoneError(`--zones / ${SETTING_KEYS.dropZones}: ${(error as Error).message}`);
  }
}

/**
 * The app's owner key: DIRECTDROP_OWNER_KEY as the app reads it, else local mode's own. A
 * zone's records are keyed by a hash under it, so without the key nothing could be found:
 * refused, saying where the key is, rather than listing an empty zone.
 */
async function ownerKeyOf(flags: StorageFlags & { data: string }): Promise<string> {
  const fromEnv = process.env[OWNER_KEY_SETTING];
  if (fromEnv) return fromEnv;
  if (flags.blobEndpoint) {
    throw new DropZoneError(
      `Set ${OWNER_KEY_SETTING} to the app's owner key (the function app's setting of that name: ` +
        `az functionapp config appsettings list -g <group> -n <app>); zone records are found by it.`,
    );
  }
  const local = (await findDevIdentity(resolve(flags.data)))?.ownerKey;
  if (!local) {
    throw new DropZoneError(
      `No owner key in ${resolve(flags.data)}: point --data at local mode's data folder, or set ${OWNER_KEY_SETTING}.`,
    );
  }
  return local;
}

function storageOf(flags: StorageFlags): OperatorStorage {
  return flags.blobEndpoint
    ? azureOperatorStorage(flags.blobEndpoint)
    : localOperatorStorage(flags.blobPort, flags.tablePort);
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new InvalidArgumentError('must be a port from 1 to 65535.');
  return n;
}

function withStorageFlags(command: Command): Command {
  return command
    .option(
      '--blob-endpoint <url>',
      'the upload account in Azure (pulumi stack output, e.g. https://<account>.blob.core.windows.net); signs in with DefaultAzureCredential',
    )
    .option(
      '--blob-port <port>',
      "local mode's Azurite blob port, when no --blob-endpoint",
      port,
      10000,
    )
    .option('--zones <json>', `drop zones as configured (default: $${SETTING_KEYS.dropZones})`);
}

function hours(max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0 || n > max)
      throw new InvalidArgumentError(`must be a number of hours above 0, at most ${max}.`);
    return n;
  };
}

export function operatorProgram(out: (text: string) => void): Command {
  const program = new Command('directdrop').exitOverride();
  program
    .command('dev-token')
    .description("print a bearer token local mode's built-in identity provider signs")
    .option('--sub <subject>', 'the user the token names, e.g. alice', DEV_DEFAULT_SUBJECT)
    .addOption(
      new Option('--data <folder>', 'local mode data folder (where npm start keeps its keys)')
        .env('DIRECTDROP_LOCAL_DATA')
        .default('.local'),
    )
    .option(
      '--api <url>',
      'ask the local mode serving this API instead of reading the data folder (as the published CLI does)',
    )
    .option('--hours <hours>', 'lifetime', hours(DEV_TOKEN_MAX_HOURS), DEV_TOKEN_HOURS)
    .option('--scope <scopes>', 'space-separated scopes for the scope claim')
    .action(
      async (options: {
        sub: string;
        data: string;
        api?: string;
        hours: number;
        scope?: string;
      }) => {
        if (options.api) {
          try {
            out(
              await requestDevToken({
                apiBaseUrl: options.api,
                subject: options.sub,
                hours: options.hours,
                scope: options.scope,
              }),
            );
          } catch (error) {
            if (!(error instanceof DevTokenError)) throw error;
            throw new CommanderError(1, 'directdrop.noToken', error.message);
          }
          return;
        }
        const dataDir = resolve(options.data);
        const identity = await findDevIdentity(dataDir);
        if (!identity?.issuer) {
          throw new CommanderError(
            1,
            'directdrop.noIdentity',
            `No development identity in ${devIdentityFile(dataDir)}: start local mode once (npm start) with --data ${options.data}, or pass --api.`,
          );
        }
        out(
          await signDevToken(identity, {
            subject: options.sub,
            issuer: identity.issuer,
            hours: options.hours,
            scope: options.scope,
          }),
        );
      },
    );
  withStorageFlags(
    program
      .command('dropzone-url <zone>')
      .description("print a create-only SAS URL for a drop zone's container")
      .option(
        '--hours <hours>',
        "lifetime, at most the zone's maxSasHours (and 7 days)",
        hours(MAX_ZONE_SAS_HOURS),
        24,
      ),
  ).action(async (name: string, options: StorageFlags & { hours: number }) => {
    const zone = findZone(zonesOf(options), name);
    const { url, expiresOn } = await dropZoneUrl(storageOf(options), zone, options.hours);
    out(url);
    process.stderr.write(
      `Valid until ${expiresOn.toISOString()}. Upload with: curl -X PUT -H 'x-ms-blob-type: BlockBlob' --data-binary @photo.jpg "<url with /photo.jpg before the ?>"\n`,
    );
  });
  program
    .command('events')
    .description(
      "print local mode's outcome events as they arrive (type, subject, status, reason, metadata), and each webhook delivery",
    )
    .option(
      '--events-port <port>',
      "local mode's Event Grid topic port (--events-port of npm start)",
      port,
      Number(process.env.DIRECTDROP_LOCAL_EVENTS_PORT || DEFAULT_EVENTS_PORT),
    )
    .option('--json', 'one line of JSON per event: the whole CloudEvent')
    .option('--count <n>', 'stop after this many events', (value) => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1)
        throw new InvalidArgumentError('must be a whole number above 0.');
      return n;
    })
    .action(async (options: { eventsPort: number; json?: boolean; count?: number }) => {
      const url = `http://127.0.0.1:${options.eventsPort}${EVENTS_STREAM_PATH}`;
      let seen = 0;
      const stop = new AbortController();
      await watchEventStream(url, {
        signal: stop.signal,
        onWaiting: (reason) =>
          process.stderr.write(
            `Waiting for local mode's event topic at ${url} (${reason}); start it with npm start.\n`,
          ),
        onConnected: () =>
          process.stderr.write(`Watching outcome events at ${url}; Ctrl-C stops.\n`),
        onFrame: (kind, payload) => {
          if (kind === 'cloudevent') {
            out(options.json ? JSON.stringify(payload) : describeOutcomeEvent(payload));
            if (options.count !== undefined && ++seen >= options.count) stop.abort();
          } else if (kind === 'delivery' && !options.json) out(describeDeliveryNotice(payload));
        },
      });
    });
  const dropzone = program.command('dropzone').description('drop zone operations');
  withStorageFlags(
    dropzone
      .command('status <zone>')
      .description('list the outcome of every blob in a drop zone, by blob name')
      .option('--json', 'one JSON array instead of a table'),
  )
    .option(
      '--table-port <port>',
      "local mode's Azurite table port, when no --blob-endpoint (default: the blob port + 2)",
      port,
    )
    .option(
      '--data <folder>',
      "local mode's data folder, whose owner key names the zone's records when DIRECTDROP_OWNER_KEY is unset",
      '.local',
    )
    .action(async (name: string, options: StorageFlags & { json?: boolean; data: string }) => {
      const zone = findZone(zonesOf(options), name);
      const statuses = await dropZoneStatus(storageOf(options), zone, await ownerKeyOf(options));
      if (options.json) return out(JSON.stringify(statuses, null, 2));
      for (const s of statuses)
        out([s.blobName, s.status, s.reason ?? '', s.completedAt ?? ''].join('\t').trimEnd());
    });
  return program;
}

/** Runs one operator command; resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    await operatorProgram((text) => process.stdout.write(`${text}\n`)).parseAsync([...argv]);
    return 0;
  } catch (error) {
    if (error instanceof DropZoneError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    if (error instanceof CommanderError) {
      if (error.code !== 'commander.helpDisplayed' && error.code.startsWith('directdrop.'))
        process.stderr.write(`${error.message}\n`);
      return error.exitCode === 0 ? 0 : error.code.startsWith('directdrop.') ? 1 : 2;
    }
    process.stderr.write(`${(error as Error).message}\n`);
    return 1;
  }
}
