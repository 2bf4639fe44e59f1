/**
 * `directdrop upload <files...> --api <url>`: uploads files through the client library,
 * a few at a time, with a progress bar per file on stderr and the results on stdout;
 * `limits` prints the server's rules, `list` and `delete` the caller's uploads, and
 * `dev-token` gets a token from a running local mode. Run through bin.ts
 * (`npx directdrop`, `npm run directdrop --`).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import cliProgress, { type SingleBar } from 'cli-progress';
import { DevTokenError, requestDevToken } from './dev-token.js';
import {
  DirectdropError,
  type UploadLimits,
  type UploadPage,
  type UploadResult,
  type UploadSummary,
  deleteUpload,
  formatBytes,
  getLimits,
  listUploadsPage,
  uploadFiles,
} from './node.js';

/** Exit codes, also listed in `--help`. */
export const EXIT = {
  ok: 0,
  /** At least one file was refused locally, rejected, failed or timed out. */
  fileFailed: 1,
  /** The command line was wrong: unknown option, bad --api, missing files. */
  usage: 2,
  /** The API or storage could not be reached. */
  network: 3,
  /** Interrupted with Ctrl-C; uploads in flight were cancelled. */
  interrupted: 130,
} as const;

interface ApiFlags {
  api: string;
  key?: string;
  token?: string;
  header: string[];
}

interface UploadCommandOptions extends ApiFlags {
  meta: Record<string, string>;
  concurrency: number;
  timeout: number;
  json: boolean;
  progress: boolean;
}

type FileOutcome =
  | { file: string; ok: true; result: UploadResult }
  | { file: string; ok: false; error: DirectdropError };

function describeLimits(limits: UploadLimits): string {
  return [
    `max size        ${formatBytes(limits.maxBytes)} (${limits.maxBytes} bytes)`,
    `content types   ${limits.allowedContentTypes.join(', ')}`,
    `variants        ${limits.variants.map((v) => `${v.name} ${v.width} px ${v.format}`).join(', ')}`,
    `upload URL      valid ${limits.uploadUrlTtlSeconds} s`,
    `read URLs       valid ${limits.readUrlTtlSeconds} s`,
  ].join('\n');
}

/** A command's failure: its message on stderr, exit 3 when nothing could be reached. */
function failed(error: unknown): number {
  if (!(error instanceof DirectdropError)) throw error;
  process.stderr.write(`directdrop: ${error.message}\n`);
  return error.code === 'network-error' ? EXIT.network : EXIT.fileFailed;
}

/** Runs a command that needs only the API flags, after checking --api. */
async function withApi(options: ApiFlags, run: () => Promise<number>): Promise<number> {
  const apiProblem = checkApiUrl(options.api);
  if (apiProblem) {
    process.stderr.write(`directdrop: ${apiProblem}\n`);
    return EXIT.usage;
  }
  try {
    return await run();
  } catch (error) {
    return failed(error);
  }
}

function runLimits(options: ApiFlags & { json: boolean }) {
  return withApi(options, async () => {
    const limits = await getLimits(apiOptions(options));
    process.stdout.write(
      options.json ? `${JSON.stringify(limits, null, 2)}\n` : `${describeLimits(limits)}\n`,
    );
    return EXIT.ok;
  });
}

function describeSummary(u: UploadSummary): string {
  const detail = u.reason ?? u.stage;
  const meta = Object.entries(u.metadata ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return [
    u.uploadId,
    `${u.status}${detail ? ` (${detail})` : ''}`.padEnd(28),
    u.issuedAt,
    u.fileName,
    u.size === undefined ? '' : formatBytes(u.size),
    meta,
  ]
    .join('  ')
    .trimEnd();
}

interface ListCommandOptions extends ApiFlags {
  limit?: number;
  cursor?: string;
  all: boolean;
  json: boolean;
}

function runList(options: ListCommandOptions) {
  return withApi(options, async () => {
    const pages: UploadPage[] = [];
    let cursor = options.cursor;
    do {
      const page = await listUploadsPage(apiOptions(options), { limit: options.limit, cursor });
      pages.push(page);
      if (!options.json) {
        for (const u of page.uploads) process.stdout.write(`${describeSummary(u)}\n`);
      }
      cursor = page.nextCursor;
    } while (options.all && cursor !== undefined);
    const uploads = pages.flatMap((p) => p.uploads);
    if (options.json) {
      const nextCursor = pages.at(-1)?.nextCursor;
      process.stdout.write(`${JSON.stringify({ uploads, nextCursor }, null, 2)}\n`);
    }
    process.stderr.write(
      `directdrop: ${uploads.length} upload${uploads.length === 1 ? '' : 's'}` +
        (cursor === undefined ? '.\n' : `; more with --cursor ${cursor} (or --all).\n`),
    );
    return EXIT.ok;
  });
}

function runDelete(ids: string[], options: ApiFlags) {
  return withApi(options, async () => {
    let code: number = EXIT.ok;
    for (const id of ids) {
      try {
        await deleteUpload(id, apiOptions(options));
        process.stdout.write(`deleted ${id}\n`);
      } catch (error) {
        code = Math.max(code, failed(error));
      }
    }
    return code;
  });
}

interface DevTokenOptions {
  api: string;
  sub?: string;
  hours?: number;
  scope?: string;
}

async function runDevToken(options: DevTokenOptions): Promise<number> {
  const apiProblem = checkApiUrl(options.api);
  if (apiProblem) {
    process.stderr.write(`directdrop: ${apiProblem}\n`);
    return EXIT.usage;
  }
  try {
    const token = await requestDevToken({
      apiBaseUrl: options.api,
      subject: options.sub,
      hours: options.hours,
      scope: options.scope,
    });
    process.stdout.write(`${token}\n`);
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof DevTokenError)) throw error;
    process.stderr.write(`directdrop: ${error.message}\n`);
    return error.unreachable ? EXIT.network : EXIT.fileFailed;
  }
}

function positiveInteger(max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max) {
      throw new InvalidArgumentError(`must be a whole number from 1 to ${max}.`);
    }
    return n;
  };
}

function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError('must be a number of seconds above 0.');
  return n;
}

function collectHeader(value: string, previous: string[]): string[] {
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+:/.test(value)) {
    throw new InvalidArgumentError('must look like "name: value".');
  }
  return [...previous, value];
}

function collectMeta(value: string, previous: Record<string, string>): Record<string, string> {
  const equals = value.indexOf('=');
  if (equals < 1) throw new InvalidArgumentError('must look like "key=value".');
  return { ...previous, [value.slice(0, equals)]: value.slice(equals + 1) };
}

function parseHeaders(lines: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** The API options every command builds from its flags, in one place. */
function apiOptions(options: ApiFlags) {
  return {
    apiBaseUrl: options.api,
    functionsKey: options.key,
    token: options.token,
    headers: parseHeaders(options.header),
  };
}

/** Checks --api before any file is touched, so a typo fails fast with exit code 2. */
function checkApiUrl(api: string): string | undefined {
  let url: URL;
  try {
    url = new URL(api);
  } catch {
    return `--api "${api}" is not a URL; expected e.g. http://localhost:7071/api.`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `--api "${api}" must start with http:// or https://, e.g. http://localhost:7071/api.`;
  }
  return undefined;
}

function shortName(file: string, width = 20): string {
  const name = file.split(/[\\/]/).pop() ?? file;
  return name.length > width ? `${name.slice(0, width - 1)}…` : name.padEnd(width);
}

function describeOutcome(outcome: FileOutcome): string {
  if (outcome.ok) {
    const { result } = outcome;
    const lines = [
      `✔ ${outcome.file}: processed (upload ${result.uploadId}, ${(result.timings.totalMs / 1000).toFixed(1)} s)`,
    ];
    for (const o of result.outputs) {
      lines.push(
        `    ${o.name.padEnd(8)} ${`${o.width}×${o.height}`.padEnd(10)} ${o.contentType.padEnd(11)} ${formatBytes(o.size).padStart(9)}  ${o.url}`,
      );
    }
    return lines.join('\n');
  }
  const { error } = outcome;
  const what =
    error.code === 'rejected'
      ? `rejected (${error.reason ?? 'no reason given'})`
      : `failed (${error.code}${error.stage === 'validate' ? ', checked locally' : ''})`;
  return `✖ ${outcome.file}: ${what}: ${error.message}`;
}

function outcomeJson(outcome: FileOutcome) {
  if (outcome.ok) return { file: outcome.file, ok: true, ...outcome.result };
  const { code, stage, status, reason, uploadId, retryable, message } = outcome.error;
  return {
    file: outcome.file,
    ok: false,
    error: { code, stage, status, reason, uploadId, retryable, message },
  };
}

function exitCodeFor(outcomes: FileOutcome[], interrupted: boolean): number {
  if (interrupted) return EXIT.interrupted;
  const failures = outcomes.flatMap((o) => (o.ok ? [] : [o.error]));
  if (failures.length === 0) return EXIT.ok;
  if (failures.some((e) => e.code === 'network-error')) return EXIT.network;
  return EXIT.fileFailed;
}

async function runUpload(files: string[], options: UploadCommandOptions): Promise<number> {
  const apiProblem = checkApiUrl(options.api);
  if (apiProblem) {
    process.stderr.write(`directdrop: ${apiProblem}\n`);
    return EXIT.usage;
  }
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);

  // Bars go to stderr so stdout stays clean for results and --json; no TTY, no bars.
  const bars =
    options.progress && process.stderr.isTTY
      ? new cliProgress.MultiBar(
          {
            stream: process.stderr,
            format: ' {bar} {percentage}% | {file} | {stage}',
            // Narrow enough for 80 columns with the longest error code as the stage.
            barsize: 20,
            hideCursor: true,
            clearOnComplete: false,
            autopadding: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;

  // A file's bar appears with its first progress, so waiting files take no line.
  const barOf = new Map<number, SingleBar | undefined>();
  const showBar = (index: number) => {
    if (!barOf.has(index))
      barOf.set(index, bars?.create(100, 0, { file: shortName(files[index]), stage: '' }));
    return barOf.get(index);
  };
  const outcomes: FileOutcome[] = (
    await uploadFiles(files, {
      ...apiOptions(options),
      metadata: options.meta,
      concurrency: options.concurrency,
      signal: controller.signal,
      pollTimeoutMs: options.timeout * 1000,
      onProgress: (p, index) => showBar(index)?.update(p.percent, { stage: p.stage }),
      // The bar's last word is the outcome, so a glance at the bars tells what happened.
      onOutcome: (o) => showBar(o.index)?.update({ stage: o.ok ? 'processed' : o.error.code }),
    })
  ).map((o) => ({ file: files[o.index], ...o }));
  bars?.stop();
  process.removeListener('SIGINT', onSigint);

  const processed = outcomes.filter((o) => o.ok).length;
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify({ processed, failed: outcomes.length - processed, results: outcomes.map(outcomeJson) }, null, 2)}\n`,
    );
  } else {
    process.stdout.write(`${outcomes.map(describeOutcome).join('\n')}\n`);
  }
  process.stderr.write(
    controller.signal.aborted
      ? 'directdrop: interrupted; uploads in flight were cancelled.\n'
      : `directdrop: ${processed} of ${outcomes.length} file${outcomes.length === 1 ? '' : 's'} processed.\n`,
  );
  return exitCodeFor(outcomes, controller.signal.aborted);
}

const API_HELP = 'API base URL, e.g. http://localhost:7071/api';
const TOKEN_HELP =
  'bearer token for stacks with sign-in; in local mode: --token "$(npx directdrop dev-token --api <url>)"';

/** --api, --key, --token and -H, the same on every command that calls the API. */
function withApiFlags(command: Command, what = 'API calls'): Command {
  return command
    .addOption(new Option('--api <url>', API_HELP).env('DIRECTDROP_API').makeOptionMandatory())
    .addOption(
      new Option(
        '--key <key>',
        'Azure Functions key, sent as x-functions-key (not needed in local mode)',
      ).env('DIRECTDROP_FUNCTIONS_KEY'),
    )
    .addOption(new Option('--token <jwt>', TOKEN_HELP).env('DIRECTDROP_TOKEN'))
    .option(
      '-H, --header <header>',
      `extra header for ${what}, "name: value"; repeatable`,
      collectHeader,
      [],
    );
}

function hours(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 168)
    throw new InvalidArgumentError('must be a number of hours above 0, at most 168.');
  return n;
}

export function buildProgram(onDone: (code: number) => void): Command {
  const program = new Command()
    .name('directdrop')
    .description(
      'Upload images straight to Azure Blob Storage through a directdrop API and wait for the processed variants.',
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  withApiFlags(
    program
      .command('upload')
      .description(
        'Upload files, a few at a time, and print each result: the status and the URLs of the processed variants.',
      )
      .argument(
        '<files...>',
        "image files to upload; the server's limits apply (see `directdrop limits`)",
      ),
  )
    .option(
      '--meta <key=value>',
      "the app's metadata for each upload (e.g. postId=42); repeatable",
      collectMeta,
      {},
    )
    .option(
      '-c, --concurrency <n>',
      'files uploaded at the same time (1-16)',
      positiveInteger(16),
      4,
    )
    .option(
      '--timeout <seconds>',
      'how long to wait for each file to be processed',
      positiveSeconds,
      120,
    )
    .option('--json', 'print one JSON document with every result on stdout', false)
    .option('--no-progress', 'no progress bars (they are also off when stderr is not a terminal)')
    .addHelpText(
      'after',
      `
Progress bars go to stderr; results (or --json) go to stdout. Storage never sees
your --key, --token or --header values: they are sent to the API only.

Exit codes:
  0    every file was processed
  1    at least one file was refused locally, rejected, failed or timed out
  2    usage error: unknown option, missing files, bad --api
  3    the API or storage could not be reached
  130  interrupted (Ctrl-C); uploads in flight were cancelled

Examples:
  $ directdrop upload photos/*.jpg --api http://localhost:7071/api --token "$(directdrop dev-token --api http://localhost:7071/api)"
  $ DIRECTDROP_API=https://myapp.azurewebsites.net/api DIRECTDROP_FUNCTIONS_KEY=... directdrop upload a.heic --meta postId=42
  $ directdrop upload a.jpg b.png --api http://localhost:7071/api --token "$TOKEN" --json > results.json`,
    )
    .action(async (files: string[], options: UploadCommandOptions) =>
      onDone(await runUpload(files, options)),
    );

  withApiFlags(
    program
      .command('limits')
      .description(
        "Print the server's upload rules: max size, accepted types, variants, URL lifetimes.",
      ),
    'the request',
  )
    .option('--json', 'print the limits as JSON', false)
    .action(async (options: ApiFlags & { json: boolean }) => onDone(await runLimits(options)));

  withApiFlags(
    program
      .command('list')
      .description(
        'List your uploads, newest first: id, status (stage or reason), issued, file, size, metadata.',
      ),
    'the requests',
  )
    .option(
      '--limit <n>',
      'uploads per page (1-100; the server defaults to 20)',
      positiveInteger(100),
    )
    .option('--cursor <cursor>', 'start after the page that printed this cursor')
    .option('--all', 'every page, not just the first', false)
    .option('--json', 'print {uploads, nextCursor} as JSON', false)
    .addHelpText('after', '\nExit codes: 0 listed, 1 refused by the API, 2 usage, 3 unreachable.')
    .action(async (options: ListCommandOptions) => onDone(await runList(options)));

  withApiFlags(
    program
      .command('delete')
      .description(
        'Delete uploads by id: their outputs, manifest, kept original and record. Read URLs already handed out work until they expire.',
      )
      .argument('<uploadIds...>', 'ids, as upload and list print them'),
    'the requests',
  )
    .addHelpText(
      'after',
      '\nExit codes: 0 all deleted, 1 one was not found or refused, 2 usage, 3 unreachable.',
    )
    .action(async (ids: string[], options: ApiFlags) => onDone(await runDelete(ids, options)));

  program
    .command('dev-token')
    .description(
      "Print a bearer token from a running local mode's built-in development identity provider (asked on this machine only).",
    )
    .addOption(new Option('--api <url>', API_HELP).env('DIRECTDROP_API').makeOptionMandatory())
    .option('--sub <subject>', 'the user the token names (default: dev-user)')
    .option('--hours <hours>', 'lifetime, at most 168 (default: 8)', hours)
    .option('--scope <scopes>', 'space-separated scopes for the scope claim')
    .addHelpText(
      'after',
      `
Only local mode (npm start) with its built-in sign-in answers; an Azure stack has no such endpoint.

Example:
  $ directdrop upload cat.jpg --api http://localhost:7071/api --token "$(directdrop dev-token --api http://localhost:7071/api --sub alice)"`,
    )
    .action(async (options: DevTokenOptions) => onDone(await runDevToken(options)));
  return program;
}

/** Parses argv (node, script, ...args) and resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; every other parse error is a usage error.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    throw error;
  }
  return code;
}
