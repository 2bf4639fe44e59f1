/**
 * `npm run verify -- --stack <name> [--key <key> | --token <jwt>]` or
 * `npm run verify -- --api <base URL> [--key | --token] [--scanning on|off]`: proves a
 * deployment works through its public API (ops/verify.ts), after every `pulumi up`.
 * `--stack` reads the API's address, and whether it scans for malware, from the stack's
 * outputs (`pulumi stack output --json`). Exit 0 when every step passed (or did not apply),
 * 1 when one failed, 2 for bad flags or a stack that cannot be read. `--json` for CI.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { type StepResult, verifyDeployment } from './verify';

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;
export const DEFAULT_TIMEOUT_SECONDS = 300;
/** Where Pulumi.yaml is, so `pulumi stack output` finds the project from any directory. */
const PROJECT_ROOT = resolve(__dirname, '..');
const PULUMI_TIMEOUT_MS = 120_000;

export class VerifySetupError extends Error {}

interface Options {
  stack?: string;
  api?: string;
  key?: string;
  token?: string;
  scanning?: boolean;
  timeout: number;
  json: boolean;
}

export interface CommandOutput {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** `pulumi stack output --json --stack <name>`, with what to do when it cannot run. */
export function readStackOutputs(
  stack: string,
  env: NodeJS.ProcessEnv,
  cwd = PROJECT_ROOT,
): Promise<Record<string, unknown>> {
  return new Promise((done, fail) => {
    const child = spawn('pulumi', ['stack', 'output', '--json', '--stack', stack], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Not spawn's own `timeout`: its timer outlives a pulumi that never started.
    const timer = setTimeout(() => child.kill('SIGKILL'), PULUMI_TIMEOUT_MS);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      fail(
        new VerifySetupError(
          error.code === 'ENOENT'
            ? 'pulumi is not installed or not on PATH. Install the Pulumi CLI (https://www.pulumi.com/docs/install/) and run pulumi login, or pass --api <base URL> instead of --stack.'
            : `pulumi could not run: ${error.message}`,
        ),
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        const said = stderr.trim().split('\n').slice(-3).join(' ') || `exit ${code ?? signal}`;
        fail(
          new VerifySetupError(
            `pulumi stack output --stack ${stack} failed (${said}). Check the stack's name (pulumi stack ls) and your backend login (pulumi login).`,
          ),
        );
        return;
      }
      try {
        done(JSON.parse(stdout) as Record<string, unknown>);
      } catch {
        fail(new VerifySetupError(`pulumi stack output --stack ${stack} printed no JSON`));
      }
    });
  });
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError('must be a positive number of seconds.');
  return n;
}

function onOff(value: string): boolean {
  if (value !== 'on' && value !== 'off') throw new InvalidArgumentError('must be on or off.');
  return value === 'on';
}

const LABEL = { ok: 'ok  ', fail: 'FAIL', skip: 'skip' } as const;

export function formatStep(result: StepResult): string {
  const time = result.result === 'skip' ? '' : `${(result.ms / 1000).toFixed(1)} s`;
  return `${LABEL[result.result]}  ${result.step.padEnd(9)} ${time.padStart(7)}  ${result.detail}`;
}

export async function runVerifyCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  io: CommandOutput = {
    out: (line) => console.log(line),
    err: (line) => process.stderr.write(`${line}\n`),
  },
): Promise<number> {
  const { out, err } = io;
  const program = new Command('verify')
    .description(
      "Prove a deployment works through its public API, with only the caller's credentials.",
    )
    .option(
      '--stack <name>',
      "read the API's address and scanning from this Pulumi stack's outputs",
    )
    .addOption(
      new Option('--api <url>', 'the API base URL, e.g. https://<app>.azurewebsites.net/api').env(
        'DIRECTDROP_API',
      ),
    )
    .addOption(
      new Option('--key <key>', 'a function key, sent as x-functions-key').env(
        'DIRECTDROP_FUNCTIONS_KEY',
      ),
    )
    .addOption(
      new Option('--token <jwt>', 'a bearer token, for stacks with sign-in').env(
        'DIRECTDROP_TOKEN',
      ),
    )
    .addOption(
      new Option(
        '--scanning <on|off>',
        'whether EICAR must be stopped as malware (default: from the stack)',
      ).argParser(onOff),
    )
    .addOption(
      new Option('--timeout <seconds>', "the longest wait for one upload's outcome")
        .argParser(seconds)
        .default(DEFAULT_TIMEOUT_SECONDS),
    )
    .option('--json', 'print one JSON document on stdout (for CI)', false)
    .exitOverride()
    .configureOutput({ writeErr: (s) => err(s.trimEnd()), writeOut: (s) => out(s.trimEnd()) });
  let options: Options;
  try {
    program.parse(argv, { from: 'user' });
    options = program.opts<Options>();
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    throw error;
  }
  // DIRECTDROP_API in the environment does not count against an explicit --stack.
  const api =
    program.getOptionValueSource('api') === 'env' && options.stack ? undefined : options.api;
  if (Boolean(options.stack) === Boolean(api)) {
    err('verify: give either --stack <name> or --api <base URL>');
    return EXIT.usage;
  }

  let apiBaseUrl = api as string;
  let malwareScanning = options.scanning;
  if (options.stack) {
    let outputs: Record<string, unknown>;
    try {
      outputs = await readStackOutputs(options.stack, env);
    } catch (error) {
      if (!(error instanceof VerifySetupError)) throw error;
      err(`verify: ${error.message}`);
      return EXIT.usage;
    }
    if (typeof outputs.apiBaseUrl !== 'string') {
      err(`verify: stack ${options.stack} has no apiBaseUrl output; has pulumi up finished?`);
      return EXIT.usage;
    }
    apiBaseUrl = outputs.apiBaseUrl;
    // The scan-results topic exists exactly when the stack scans (infra/index.ts).
    malwareScanning ??=
      typeof outputs.scanResultsTopic === 'string' && outputs.scanResultsTopic !== '';
  }
  try {
    if (!['http:', 'https:'].includes(new URL(apiBaseUrl).protocol)) throw new Error();
  } catch {
    err(`verify: ${apiBaseUrl} is not an http(s) URL`);
    return EXIT.usage;
  }

  const started = performance.now();
  if (!options.json)
    out(`Verifying ${apiBaseUrl}${options.stack ? ` (stack ${options.stack})` : ''}`);
  const results = await verifyDeployment(
    {
      apiBaseUrl,
      functionsKey: options.key,
      token: options.token,
      malwareScanning,
      timeoutMs: options.timeout * 1000,
    },
    (result) => {
      if (!options.json) out(formatStep(result));
    },
  );
  const total = (performance.now() - started) / 1000;
  const failed = results.filter((result) => result.result === 'fail');
  if (options.json) {
    out(
      JSON.stringify(
        {
          ok: failed.length === 0,
          api: apiBaseUrl,
          ...(options.stack ? { stack: options.stack } : {}),
          malwareScanning: malwareScanning ?? null,
          seconds: Number(total.toFixed(1)),
          steps: results,
        },
        null,
        2,
      ),
    );
  } else {
    const skipped = results.filter((result) => result.result === 'skip').length;
    const passed = results.length - failed.length - skipped;
    out(
      failed.length === 0
        ? `\n${passed} step(s) passed${skipped ? `, ${skipped} skipped` : ''} in ${total.toFixed(1)} s.`
        : `\n${failed.length} step(s) failed (${failed.map((result) => result.step).join(', ')}); ${passed} passed${skipped ? `, ${skipped} skipped` : ''}, in ${total.toFixed(1)} s.`,
    );
  }
  return failed.length === 0 ? EXIT.ok : EXIT.failed;
}

if (require.main === module) {
  runVerifyCommand(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(`verify: ${(error as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
