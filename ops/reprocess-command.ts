/**
 * `npm run reprocess -- (--all | --since <date> | --ids <id,...>) [--dry-run] [--max <n>]
 * [--timeout <seconds>] [--no-wait]`: rebuilds the variants of existing uploads after a
 * stack's variants change. Reads the stack's app settings from the environment, as the
 * functions do (docs/reprocessing.md).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import { type DirectdropSettings, SettingsError, parseSettings } from '../functions/core/settings';
import { connectOperatorStorage } from './storage';
import {
  type ReprocessClients,
  ReprocessRefusedError,
  type Selection,
  enqueueReprocess,
  estimateCost,
  planReprocess,
  waitForReprocess,
} from './reprocess';

/** Exit codes: 1 some uploads failed or were unfinished; 2 bad flags or settings; 3 refused. */
export const EXIT = { ok: 0, incomplete: 1, usage: 2, refused: 3 } as const;

/**
 * Enough to keep about one instance busy at the default reprocessConcurrency of 1 (a 12 MP
 * JPEG takes about 0.3 s), so a backlog never scales the app out to its instance limit.
 */
export const DEFAULT_RATE_PER_MINUTE = 120;

interface Options {
  all?: boolean;
  since?: Date;
  ids?: string[];
  max?: number;
  rate: number;
  dryRun: boolean;
  wait: boolean;
  timeout?: number;
  progress: boolean;
}

function date(value: string): Date {
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime()))
    throw new InvalidArgumentError('must be a date like 2026-11-01 or 2026-11-01T12:00:00Z.');
  return parsed;
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number ≥ 1.');
  return n;
}

function selectionOf(options: Options): Selection {
  const chosen = [options.all, options.since, options.ids].filter((x) => x !== undefined);
  if (chosen.length !== 1)
    throw new InvalidArgumentError('choose exactly one of --all, --since <date>, --ids <id,...>');
  if (options.since) return { kind: 'since', since: options.since };
  if (options.ids) return { kind: 'ids', ids: options.ids };
  return { kind: 'all' };
}

function bar(enabled: boolean, label: string, total: number): SingleBar | undefined {
  if (!enabled || total === 0) return undefined;
  const b = new SingleBar(
    { format: `${label} [{bar}] {value}/{total}`, stream: process.stderr },
    Presets.shades_classic,
  );
  b.start(total, 0);
  return b;
}

export interface CommandOutput {
  /** Results, one line each. */
  out: (line: string) => void;
  /** Errors and usage. */
  err: (line: string) => void;
}

export async function runReprocessCommand(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
  io: CommandOutput = {
    out: (line) => console.log(line),
    err: (line) => process.stderr.write(`${line}\n`),
  },
  clients?: ReprocessClients,
): Promise<number> {
  const { out, err } = io;
  const program = new Command('reprocess')
    .description('Rebuild existing uploads’ variants from their kept originals.')
    .option('--all', 'every processed upload')
    .addOption(new Option('--since <date>', 'uploads completed at or after a date').argParser(date))
    .addOption(
      new Option('--ids <id,...>', 'these upload ids').argParser((v) =>
        v.split(',').filter(Boolean),
      ),
    )
    .addOption(new Option('--max <n>', 'enqueue at most n uploads').argParser(positive))
    .addOption(
      new Option('--rate <per-minute>', 'work items made visible per minute')
        .argParser(positive)
        .default(DEFAULT_RATE_PER_MINUTE),
    )
    .option('--dry-run', 'report what would be reprocessed and the estimated cost', false)
    .option('--no-wait', 'enqueue and return without waiting for the outcome')
    .addOption(
      new Option(
        '--timeout <seconds>',
        'how long to wait for the outcome (default: an hour past the last item’s visibility)',
      ).argParser(positive),
    )
    .option('--no-progress', 'no progress bars on stderr')
    .exitOverride()
    .configureOutput({ writeErr: (s) => err(s.trimEnd()), writeOut: (s) => out(s.trimEnd()) });
  let options: Options;
  let selection: Selection;
  try {
    program.parse(argv, { from: 'user' });
    options = program.opts<Options>();
    selection = selectionOf(options);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    err(`reprocess: ${(error as Error).message}`);
    return EXIT.usage;
  }

  let settings: DirectdropSettings;
  let storage: ReprocessClients;
  try {
    settings = parseSettings(env);
    storage = clients ?? connect(env, settings.processedContainer, settings.reprocessQueue);
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    err(`reprocess: ${error.message}`);
    return EXIT.usage;
  }
  let plan;
  try {
    plan = await planReprocess(storage, settings, selection, options.max);
  } catch (error) {
    if (!(error instanceof ReprocessRefusedError)) throw error;
    err(`reprocess: ${error.message}`);
    return EXIT.refused;
  }
  const estimate = estimateCost(plan);
  const skippedBy = new Map<string, number>();
  for (const { reason } of plan.skipped) skippedBy.set(reason, (skippedBy.get(reason) ?? 0) + 1);
  out(`variant set ${plan.variantSet}: ${JSON.stringify(settings.variants)}`);
  out(`to reprocess: ${plan.toReprocess.length}`);
  for (const [reason, count] of skippedBy) out(`skipped (${reason}): ${count}`);
  out(
    `estimated cost (an estimate: compute only, from bench figures): ~${estimate.busySeconds.toFixed(1)} s busy, ~$${estimate.usd.toFixed(4)}`,
  );
  const spreadSeconds = Math.floor((plan.toReprocess.length - 1) / options.rate) * 60;
  if (plan.toReprocess.length > 0)
    out(
      `pace: ${options.rate} per minute; the last item becomes visible after ${spreadSeconds / 60} min`,
    );
  if (options.dryRun || plan.toReprocess.length === 0) return EXIT.ok;

  const enqueueBar = bar(options.progress, 'enqueue', plan.toReprocess.length);
  try {
    await enqueueReprocess(storage, plan, {
      ratePerMinute: options.rate,
      onEnqueued: (n) => enqueueBar?.update(n),
    });
  } catch (error) {
    if (!(error instanceof ReprocessRefusedError)) throw error;
    err(`reprocess: ${error.message}`);
    return EXIT.refused;
  } finally {
    enqueueBar?.stop();
  }
  out(
    `enqueued: ${plan.toReprocess.length} on queue ${settings.reprocessQueue}, ${options.rate} made visible per minute`,
  );
  if (!options.wait) return EXIT.ok;

  const timeout = options.timeout ?? spreadSeconds + 3600;
  const doneBar = bar(options.progress, 'reprocess', plan.toReprocess.length);
  const report = await waitForReprocess(storage, plan, {
    timeoutMs: timeout * 1000,
    onProgress: (n) => doneBar?.update(n),
  });
  doneBar?.stop();
  out(`processed: ${report.processed.length}`);
  out(`skipped: ${plan.skipped.length}`);
  out(`failed: ${report.failed.length}`);
  for (const { uploadId, reason } of report.failed) out(`  failed ${uploadId}: ${reason}`);
  if (report.unfinished.length > 0) {
    out(`unfinished after ${timeout} s: ${report.unfinished.length}`);
    for (const uploadId of report.unfinished) out(`  unfinished ${uploadId}`);
  }
  return report.failed.length + report.unfinished.length === 0 ? EXIT.ok : EXIT.incomplete;
}

function connect(
  env: Readonly<Record<string, string | undefined>>,
  container: string,
  queue: string,
) {
  const { blob, queue: queues } = connectOperatorStorage(env);
  return {
    processed: blob.getContainerClient(container),
    reprocessQueue: queues.getQueueClient(queue),
  };
}

if (require.main === module) {
  runReprocessCommand(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(`reprocess: ${(error as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
