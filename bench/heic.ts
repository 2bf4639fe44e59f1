/**
 * HEIC: CPU, peak RSS and throughput of our queue handler per 12 MP HEIC (HEVC, decoded by
 * libheif's WebAssembly build in a worker thread), beside the same photo as a JPEG in the
 * same run; and the price of that worker thread, against the same decode on the calling
 * thread. Each configuration runs in a fresh process; every handler output is checked.
 */
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import { createRuntime } from '../functions/adapters/runtime';
import { STORAGE_CONNECTION } from '../functions/core/definitions';
import type { AzuriteSandbox } from '../local/azurite-sandbox';
import { loadFixtures, loadHeicFixture } from './fixtures';
import { fmt, percent, times } from './lib/measure';
import type { Row, SectionResult } from './lib/report';
import { DEFAULT_JOB, type Throughput, best, bundleWorker, runWorker } from './processing';

const MB = 1e6;

export async function runHeic(
  storage: AzuriteSandbox,
  options: { quick: boolean },
): Promise<SectionResult> {
  const runtime = createRuntime(storage.env);
  const connectionString = storage.env[STORAGE_CONNECTION];
  const { jpeg } = await loadFixtures();
  const [worker, { fixture: heic, encoder }] = await Promise.all([
    bundleWorker(),
    loadHeicFixture(jpeg),
  ]);
  const rounds = options.quick ? 1 : 2;
  const rows: Row[] = [];
  const data: Record<string, unknown> = {};
  const rss = (t: Throughput) => (t.maxRssBytes ? fmt(t.maxRssBytes / MB) : 'n/a');
  try {
    for (const batch of options.quick ? [1] : [1, 2]) {
      const count = options.quick ? 2 : Math.max(3, batch);
      const job = { ...DEFAULT_JOB, batch, count, connectionString };
      const heicRuns: Throughput[] = [];
      const jpegRuns: Throughput[] = [];
      // Alternated, so a burst of outside load cannot favour one side.
      for (let round = 0; round < rounds; round++) {
        heicRuns.push(
          await runWorker(worker, storage, runtime, heic, { ...job, fixturePath: heic.path }),
        );
        jpegRuns.push(
          await runWorker(worker, storage, runtime, jpeg, { ...job, fixturePath: jpeg.path }),
        );
      }
      const [h, j] = [best(heicRuns), best(jpegRuns)];
      data[`batch${batch}`] = { images: count, heic: heicRuns, jpeg: jpegRuns };
      const label = `12 MP photo, batch ${batch}`;
      rows.push(
        {
          benchmark: 'heic',
          case: `${label}: CPU ms per image, handler (HEIC | JPEG)`,
          ours: fmt(h.cpuMsPerImage),
          baseline: fmt(j.cpuMsPerImage),
          ratio: times(h.cpuMsPerImage, j.cpuMsPerImage),
        },
        {
          benchmark: 'heic',
          case: `${label}: peak RSS MB (HEIC | JPEG)`,
          ours: rss(h),
          baseline: rss(j),
          ratio: h.maxRssBytes && j.maxRssBytes ? times(h.maxRssBytes, j.maxRssBytes) : 'n/a',
        },
        {
          benchmark: 'heic',
          case: `${label}: images/s (HEIC | JPEG)`,
          ours: fmt(h.imagesPerSecond),
          baseline: fmt(j.imagesPerSecond),
          ratio: percent(h.imagesPerSecond, j.imagesPerSecond),
        },
      );
    }

    const count = options.quick ? 2 : 4;
    const decodeJob = { ...DEFAULT_JOB, batch: 1, count, connectionString, fixturePath: heic.path };
    const inWorker: Throughput[] = [];
    const onThread: Throughput[] = [];
    for (let round = 0; round < rounds; round++) {
      inWorker.push(
        await runWorker(worker, storage, runtime, heic, { ...decodeJob, mode: 'heic-worker' }),
      );
      onThread.push(
        await runWorker(worker, storage, runtime, heic, { ...decodeJob, mode: 'heic-thread' }),
      );
    }
    const [w, t] = [best(inWorker), best(onThread)];
    data.decode = { images: count, worker: inWorker, thread: onThread };
    const ms = (r: Throughput) => 1000 / r.imagesPerSecond;
    const signed = (value: number) => `${value < 0 ? '−' : '+'}${fmt(Math.abs(value))} ms`;
    rows.push(
      {
        benchmark: 'heic',
        case: 'HEIC decode alone: CPU ms per image (worker thread per image | calling thread)',
        ours: fmt(w.cpuMsPerImage),
        baseline: fmt(t.cpuMsPerImage),
        ratio: signed(w.cpuMsPerImage - t.cpuMsPerImage),
      },
      {
        benchmark: 'heic',
        case: 'HEIC decode alone: wall ms per image (worker thread per image | calling thread)',
        ours: fmt(ms(w)),
        baseline: fmt(ms(t)),
        ratio: signed(ms(w) - ms(t)),
      },
      {
        benchmark: 'heic',
        case: 'HEIC decode alone: peak RSS MB (worker thread per image | calling thread)',
        ours: rss(w),
        baseline: rss(t),
        ratio: w.maxRssBytes && t.maxRssBytes ? times(w.maxRssBytes, t.maxRssBytes) : 'n/a',
      },
    );
  } finally {
    await rm(dirname(worker), { recursive: true, force: true });
  }
  const libheifVersion = (
    createRequire(__filename)('libheif-js/package.json') as { version: string }
  ).version;
  return {
    rows,
    targets: [],
    notes: [
      `HEIC: ${heic.name} ${fmt(heic.bytes.length / MB)} MB (${encoder}, -q 50, from the ${fmt(jpeg.bytes.length / MB)} MB ${jpeg.name}); decoded by libheif-js ${libheifVersion} (WebAssembly, libde265) in a worker thread, then the same sharp variants.`,
      `HEIC: best of ${rounds} alternating runs per side; CPU is the handler process's (all threads), Azurite's excluded; every handler output was decoded and checked.`,
    ],
    data,
  };
}
