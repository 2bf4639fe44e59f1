/**
 * Opt-in (`npm run bench -- --only options`): the processing optimisations issue 6 asks
 * to try, each measured against the default at the same batch size in the same run.
 * Knobs the handler can take without code changes (libvips threads per image, the
 * operation cache, glibc malloc arenas) run through the real handler; pipeline shapes
 * (one pipeline per variant via clone(), random access instead of sequentialRead) run
 * through sharp alone, since trying them in the handler means changing its code.
 */
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { STORAGE_CONNECTION, WORKER_PROCESS_ENV } from '../functions/core/definitions';
import { type ChildEnv, without } from './lib/child';
import { createRuntime } from '../functions/adapters/runtime';
import { loadFixtures } from './fixtures';
import type { AzuriteSandbox } from '../local/azurite-sandbox';
import { fmt, percent } from './lib/measure';
import type { Row, SectionResult } from './lib/report';
import { DEFAULT_JOB, type Throughput, best, bundleWorker, runWorker } from './processing';
import type { ProcessingJob } from './processing-worker';

interface Option {
  name: string;
  job: Partial<ProcessingJob>;
  env?: ChildEnv;
}

/** Without `env`, a worker starts as deployed (WORKER_PROCESS_ENV: MALLOC_ARENA_MAX=2). */
export const HANDLER_OPTIONS: Option[] = [
  { name: 'handler, as deployed (reference)', job: {} },
  { name: 'handler, sharp.concurrency(2)', job: { threads: 2 } },
  { name: 'handler, sharp.cache(false)', job: { cache: false } },
  // Left out rather than merely not added: the bench's own environment may set them.
  { name: "handler, glibc's default malloc arenas", job: {}, env: without(WORKER_PROCESS_ENV) },
];
const SHARP_OPTIONS: Option[] = [
  { name: 'sharp alone, decode once (reference)', job: { mode: 'sharp' } },
  {
    name: 'sharp alone, one pipeline per variant (clone)',
    job: { mode: 'sharp', pipeline: 'per-variant' },
  },
  {
    name: 'sharp alone, decode once, random access',
    job: { mode: 'sharp', sequentialRead: false },
  },
];

export async function runPipelineOptions(
  storage: AzuriteSandbox,
  options: { quick: boolean },
): Promise<SectionResult> {
  const runtime = createRuntime(storage.env);
  const [worker, fixtures] = await Promise.all([bundleWorker(), loadFixtures()]);
  const rounds = options.quick ? 1 : 3;
  const rows: Row[] = [];
  const data: Record<string, unknown> = {};
  try {
    for (const fixture of [fixtures.jpeg, fixtures.png]) {
      for (const batch of [1, 4]) {
        const count = Math.max(fixture === fixtures.jpeg ? 6 : 4, batch);
        const base = {
          ...DEFAULT_JOB,
          batch,
          count,
          connectionString: storage.env[STORAGE_CONNECTION],
          fixturePath: fixture.path,
        };
        for (const group of [HANDLER_OPTIONS, SHARP_OPTIONS]) {
          const runs = group.map((): Throughput[] => []);
          // Round-robin, so outside load spreads over every option alike.
          for (let round = 0; round < rounds; round++)
            for (const [i, option] of group.entries())
              runs[i].push(
                await runWorker(
                  worker,
                  storage,
                  runtime,
                  fixture,
                  { ...base, ...option.job },
                  option.env,
                ),
              );
          const results = runs.map(best);
          const reference = results[0];
          for (const [i, option] of group.entries()) {
            const r = results[i];
            data[`${fixture.name} b${batch} ${option.name}`] = runs[i];
            rows.push({
              benchmark: 'pipeline options',
              case: `${fixture.name}, batch ${batch}: ${option.name}`,
              ours: `${fmt(r.imagesPerSecond)} img/s, ${fmt(r.cpuMsPerImage)} ms CPU, ${fmt((r.maxRssBytes ?? 0) / 1e6)} MB`,
              baseline: `${fmt(reference.imagesPerSecond)} img/s, ${fmt(reference.cpuMsPerImage)} ms CPU, ${fmt((reference.maxRssBytes ?? 0) / 1e6)} MB`,
              ratio: percent(r.imagesPerSecond, reference.imagesPerSecond),
            });
          }
        }
      }
    }
  } finally {
    await rm(dirname(worker), { recursive: true, force: true });
  }
  return {
    rows,
    targets: [],
    notes: [
      `Pipeline options: best of ${rounds} round-robin runs per option; the baseline column is the group's reference at the same batch size; RSS is the largest seen.`,
    ],
    data,
  };
}
