/**
 * Memory under hostile input (opt-in: `npm run bench -- --only memory`): the real queue
 * handler in a fresh process runs the hostile corpus (test/helpers/hostile-files.ts) at the
 * host's full concurrency (batchSize + newBatchThreshold in flight), and six decode bombs
 * at once, with the decode memory budget (maxDecodeBytes, the default) and without it (the
 * baseline). Peak RSS is compared with the instance memory the config check plans for.
 */
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Runtime, createRuntime } from '../functions/adapters/runtime';
import { readManifest } from '../functions/adapters/manifest-store';
import { STORAGE_CONNECTION } from '../functions/core/definitions';
import { DEFAULT_SETTINGS, MIB, SETTING_KEYS, SETTING_LIMITS } from '../functions/core/settings';
import { CONFIG_DEFAULTS, HOST_BASELINE_MB, INSTANCE_MEMORY_HEADROOM } from '../infra/config';
import { HOST_JSON_QUEUE_SETTINGS } from '../infra/host-json';
import type { AzuriteSandbox } from '../local/azurite-sandbox';
import { HOSTILE_FILES } from '../test/helpers/hostile-files';
import { BENCH_DIR, runOnce } from './lib/child';
import { fmt, times } from './lib/measure';
import type { Row, SectionResult } from './lib/report';
import { DEFAULT_JOB, bundleWorker, landUpload } from './processing';
import type { ProcessingReply } from './processing-worker';

const IN_FLIGHT = HOST_JSON_QUEUE_SETTINGS.batchSize + HOST_JSON_QUEUE_SETTINGS.newBatchThreshold;
const INSTANCE_MB = CONFIG_DEFAULTS.instanceMemoryMB;
const NO_BUDGET = { [SETTING_KEYS.maxDecodeBytes]: String(SETTING_LIMITS.maxDecodeBytes.max) };

interface Landed {
  uploadIds: string[];
  events: unknown[];
}

/** Lands each file as an upload URL would and returns the queue messages Event Grid would write. */
async function land(
  runtime: Runtime,
  files: ReadonlyArray<{ name: string; bytes: Buffer; declared: number }>,
): Promise<Landed> {
  const landed: Landed = { uploadIds: [], events: [] };
  for (const file of files) {
    const { uploadId, event } = await landUpload(runtime, {
      ...file,
      contentType: 'application/octet-stream',
    });
    landed.uploadIds.push(uploadId);
    landed.events.push(event);
  }
  return landed;
}

/** Every upload must end processed or rejected: the handler never gave up on one. */
async function outcomesOf(
  runtime: Runtime,
  uploadIds: readonly string[],
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const uploadId of uploadIds) {
    const status = (await readManifest(runtime.processed, uploadId))?.manifest.status ?? 'none';
    counts[status] = (counts[status] ?? 0) + 1;
  }
  if (counts.none || counts.failed)
    throw new Error(`uploads without an outcome: ${JSON.stringify(counts)}`);
  return counts;
}

export async function runMemory(
  storage: AzuriteSandbox,
  options: { quick?: boolean } = {},
): Promise<SectionResult> {
  const connectionString = storage.env[STORAGE_CONNECTION];
  const runtime = createRuntime({
    ...storage.env,
    [SETTING_KEYS.maxUploadBytes]: String(256 * MIB),
  });
  const corpus = await Promise.all(
    HOSTILE_FILES.map(async (file) => {
      const bytes = await file.make();
      return {
        name: file.file,
        bytes,
        declared: file.declaredSize?.(bytes) ?? Math.max(1, bytes.length),
      };
    }),
  );
  const bomb = corpus.find((f) => f.name === 'memory-bomb.png');
  if (!bomb) throw new Error('the hostile corpus has no memory-bomb.png');
  const copies = options.quick ? 1 : 2;
  const cases: Array<[string, typeof corpus]> = [
    [
      `hostile corpus (${corpus.length} files × ${copies})`,
      Array.from({ length: copies }, () => corpus).flat(),
    ],
    [
      `${IN_FLIGHT} decode bombs at once (7071² 16-bit RGBA interlaced PNG)`,
      Array(IN_FLIGHT).fill(bomb),
    ],
  ];
  const worker = await bundleWorker();
  const rows: Row[] = [];
  const data: Record<string, unknown> = {};
  const peaks: number[] = [];
  try {
    for (const [label, files] of cases) {
      const measured: Record<
        string,
        { peakMiB: number; seconds: number; outcomes: Record<string, number> }
      > = {};
      for (const [side, appSettings] of [
        ['budget', {}],
        ['no budget', NO_BUDGET],
      ] as const) {
        // The first event warms the worker up; a small JPEG keeps the warm-up out of the peak.
        const warmUp = corpus.find((f) => f.name === 'polyglot.jpg') ?? corpus[0];
        const landed = await land(runtime, [warmUp, ...files]);
        const reply = await runOnce<ProcessingReply>(
          worker,
          {
            ...DEFAULT_JOB,
            batch: IN_FLIGHT,
            events: landed.events,
            connectionString,
            appSettings,
            fixturePath: '',
          },
          // The bundle lives in a temporary folder; its packages come from ours.
          { NODE_PATH: join(BENCH_DIR, '..', 'node_modules') },
        );
        measured[side] = {
          peakMiB: reply.maxRssBytes / MIB,
          seconds: reply.seconds,
          outcomes: await outcomesOf(runtime, landed.uploadIds),
        };
      }
      const ours = measured.budget.peakMiB;
      const baseline = measured['no budget'].peakMiB;
      peaks.push(ours);
      data[label] = measured;
      rows.push({
        benchmark: 'memory',
        case: `${label}, ${IN_FLIGHT} in flight: peak RSS MiB (budget ${DEFAULT_SETTINGS.maxDecodeBytes / MIB} MiB | none)`,
        ours: fmt(ours),
        baseline: fmt(baseline),
        ratio: `${times(ours, baseline)} the memory`,
      });
    }
  } finally {
    await rm(dirname(worker), { recursive: true, force: true });
  }
  const allowed = INSTANCE_MB * INSTANCE_MEMORY_HEADROOM;
  const planned = IN_FLIGHT * (DEFAULT_SETTINGS.maxDecodeBytes / MIB) + HOST_BASELINE_MB;
  return {
    rows,
    targets: [
      {
        target: `handler peak RSS under hostile input ≤ 80 % of a ${INSTANCE_MB} MB instance (${fmt(allowed)} MiB)`,
        measured: `${fmt(Math.max(...peaks))} MiB (the config check plans ${fmt(planned)} MiB)`,
        met: Math.max(...peaks) <= allowed,
      },
    ],
    notes: [
      "Memory: one fresh worker process per run, the real handler against Azurite; peak RSS is the process lifetime maximum (getrusage), warm-up included. The Functions host itself runs in another process in Azure and is counted in the config check's 320 MiB baseline, not here.",
    ],
    data,
  };
}
