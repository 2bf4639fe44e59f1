/**
 * `npm run bench`: every benchmark of issue 6 in one run on this machine, printed as one
 * table (ours next to its baseline, measured in the same run) followed by the targets.
 * Results also go to bench/results/latest.{json,md} for docs/performance.md.
 *
 * Options: --only <names> (comma-separated: upload,issuance,processing,heic,local, and the
 * opt-in options, gate, memory and spike), --quick (fewer repetitions, for trying the harness; not for publishing).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { type AzuriteSandbox, startAzuriteSandbox } from '../local/azurite-sandbox';
import { BENCH_DIR } from './lib/child';
import { watchOutsideLoad } from './lib/proc';
import {
  type Row,
  type SectionResult,
  type TargetCheck,
  markdownTable,
  markdownTargets,
  targetLines,
  textTable,
} from './lib/report';
import { runIssuance } from './issuance';
import { runLocalMode } from './local-mode';
import { runMemory } from './memory';
import { runPipelineOptions } from './pipeline-options';
import { runProcessing } from './processing';
import { runHeic } from './heic';
import { runScanGate } from './scan-gate';
import { runSpike } from './spike';
import { runUploadPath } from './upload-path';

const SECTIONS = ['upload', 'issuance', 'processing', 'heic', 'local'] as const;
/** Sections that run only when named with --only: they exceed the default run's budget. */
const OPT_IN = ['options', 'gate', 'memory', 'spike'] as const;
type SectionName = (typeof SECTIONS)[number] | (typeof OPT_IN)[number];

function parseArgs(argv: string[]): { only: Set<SectionName>; quick: boolean } {
  const onlyIndex = argv.indexOf('--only');
  const names = onlyIndex >= 0 ? (argv[onlyIndex + 1] ?? '').split(',') : [...SECTIONS];
  const known: readonly string[] = [...SECTIONS, ...OPT_IN];
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length > 0)
    throw new Error(`Unknown section ${unknown.join(', ')}; choose from ${known.join(', ')}`);
  return { only: new Set(names as SectionName[]), quick: argv.includes('--quick') };
}

function machine(): Record<string, string> {
  const cpu = cpus();
  return {
    cpu: `${cpu.length} × ${cpu[0]?.model ?? 'unknown'}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

async function main(): Promise<void> {
  const { only, quick } = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const outsideLoad = watchOutsideLoad();
  const results: Array<[string, SectionResult]> = [];
  const failures: string[] = [];
  let storage: AzuriteSandbox | undefined;
  const sharedStorage = async () => (storage ??= await startAzuriteSandbox());

  const run = async (name: SectionName, fn: () => Promise<SectionResult>) => {
    if (!only.has(name)) return;
    const t = Date.now();
    process.stderr.write(`bench: ${name}…\n`);
    try {
      const result = await fn();
      results.push([name, result]);
      failures.push(...(result.failures ?? []).map((f) => `${name}: ${f}`));
      process.stderr.write(`bench: ${name} done in ${((Date.now() - t) / 1000).toFixed(1)} s\n`);
    } catch (error) {
      // A broken benchmark is reported, never hidden, and the others still run.
      failures.push(`${name}: ${error instanceof Error ? (error.stack ?? error.message) : error}`);
    }
  };

  try {
    await run('upload', async () => runUploadPath(await sharedStorage(), { quick }));
    await run('issuance', async () => runIssuance(await sharedStorage(), { quick }));
    await run('processing', async () => runProcessing(await sharedStorage(), { quick }));
    await run('heic', async () => runHeic(await sharedStorage(), { quick }));
    await run('options', async () => runPipelineOptions(await sharedStorage(), { quick }));
    await run('memory', async () => runMemory(await sharedStorage(), { quick }));
    await storage?.stop();
    storage = undefined;
    // Last: it starts its own Azurite, inside local mode.
    await run('local', () => runLocalMode({ quick }));
    await run('gate', () => runScanGate({ quick }));
    await run('spike', () => runSpike({ quick }));
  } finally {
    await storage?.stop();
  }

  const rows: Row[] = results.flatMap(([, r]) => r.rows);
  const targets: TargetCheck[] = results.flatMap(([, r]) => r.targets);
  const notes = results.flatMap(([, r]) => r.notes);
  const seconds = (Date.now() - started) / 1000;
  const outside = outsideLoad();
  const info = {
    ...machine(),
    duration: `${seconds.toFixed(0)} s`,
    'CPU used by other processes':
      outside === undefined ? 'unknown' : `${(100 * outside).toFixed(0)} %`,
    quick: String(quick),
  };
  // This machine may be shared with other work; say so when it was.
  if (outside !== undefined && outside > 0.1)
    notes.push(
      `Other processes used ${(100 * outside).toFixed(0)} % of the machine's CPU during this run, so absolute numbers are lower than on an idle machine; each comparison alternates both sides to stay fair.`,
    );

  console.log(`\ndirectdrop benchmarks — ${new Date().toISOString()}`);
  console.log(
    Object.entries(info)
      .map(([k, v]) => `${k}: ${v}`)
      .join(' · '),
  );
  console.log(`\n${textTable(rows)}\n\nTargets\n${targetLines(targets).join('\n')}`);
  if (notes.length > 0) console.log(`\nNotes\n${notes.map((n) => `- ${n}`).join('\n')}`);
  if (failures.length > 0) console.log(`\nFAILED\n${failures.join('\n')}`);

  const out = join(BENCH_DIR, 'results');
  await mkdir(out, { recursive: true });
  await writeFile(
    join(out, 'latest.json'),
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: info,
        rows,
        targets,
        notes,
        failures,
        data: Object.fromEntries(results.map(([n, r]) => [n, r.data])),
      },
      null,
      2,
    ),
  );
  await writeFile(
    join(out, 'latest.md'),
    `${Object.entries(info)
      .map(([k, v]) => `- ${k}: ${v}`)
      .join(
        '\n',
      )}\n\n${markdownTable(rows)}\n\n${markdownTargets(targets)}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n`,
  );
  // Benchmarks never fail CI on a slow machine, but a benchmark that could not check its results does.
  if (failures.length > 0) process.exitCode = 1;
}

void main();
