/**
 * One processing configuration in a fresh process, so its peak RSS is its own. Bundled
 * to plain JavaScript by the benchmark (no tsx in the measured process, as in Azure).
 *
 * - handler: our real queue handler against Azurite (download, sniff, variants, upload
 *   outputs, manifest), `batch` invocations in flight, as the host runs a queue batch.
 * - sharp: the same variants with sharp alone from an in-memory buffer, either decoded
 *   once at the largest width and fanned out (the fastest we measured, the baseline) or
 *   one pipeline per variant from a clone() of the input (the textbook way).
 * - heic-thread / heic-worker: the HEIC decode alone, called directly or in the worker
 *   thread the pipeline starts per image, to price the worker.
 */
import { readFileSync } from 'node:fs';
import { InvocationContext } from '@azure/functions';
import sharp from 'sharp';
import { createRuntime } from '../functions/adapters/runtime';
import {
  HEIC_DECODE_BYTES_PER_PIXEL,
  HEIC_DECODE_TIMEOUT_MS,
  STORAGE_CONNECTION,
} from '../functions/core/definitions';
import { DEFAULT_SETTINGS, SETTING_KEYS } from '../functions/core/settings';
import { decodeHeicInWorker } from '../functions/core/heic-decode';
import { type HeicDecodeResult, decodeHeic } from '../functions/core/libheif';
import { processUploadEventHandler } from '../functions/handlers/process-upload';
import { decodeOnce, perVariant } from './sharp-alone';

export interface ProcessingJob {
  /** heic-thread / heic-worker: libheif's decode alone, on this thread or as the handler runs it. */
  mode: 'handler' | 'sharp' | 'heic-thread' | 'heic-worker';
  /** sharp mode: how the variants are derived from the input. */
  pipeline: 'decode-once' | 'per-variant';
  /** sharp mode: libvips sequential access (sharp's default) or random access. */
  sequentialRead: boolean;
  batch: number;
  /** sharp.concurrency(): libvips threads per image; 0 keeps sharp's default. */
  threads: number;
  /** libvips' operation cache, on by default in sharp. */
  cache: boolean;
  /** handler: one queue message per image, the first one only warms up. */
  events: unknown[];
  connectionString: string;
  /** handler: app settings beyond the connection, e.g. a decode memory budget. */
  appSettings?: Record<string, string>;
  /** sharp: the input file and how many images to make after one warm-up. */
  fixturePath: string;
  count: number;
}

export interface ProcessingReply {
  images: number;
  seconds: number;
  cpuMs: number;
  maxRssBytes: number;
  threads: number;
  /** sharp mode checks its own outputs; handler outputs are checked by the parent. */
  problems: string[];
}

/** Runs `work(i)` for i in [0, count) with at most `batch` in flight. */
async function pool(count: number, batch: number, work: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(batch, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

async function measure(count: number, batch: number, work: (i: number) => Promise<void>) {
  const cpu = process.cpuUsage();
  const start = performance.now();
  await pool(count, batch, work);
  const seconds = (performance.now() - start) / 1000;
  const { user, system } = process.cpuUsage(cpu);
  return {
    images: count,
    seconds,
    cpuMs: (user + system) / 1000,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}

async function runHandler(job: ProcessingJob) {
  const runtime = createRuntime({
    // Required since status URLs stopped following the Host header; the handler never serves one here.
    [SETTING_KEYS.publicBaseUrl]: 'http://localhost:7071/api',
    ...job.appSettings,
    [STORAGE_CONNECTION]: job.connectionString,
  });
  const handler = processUploadEventHandler(() => runtime);
  const context = new InvocationContext({ functionName: 'bench', logHandler: () => {} });
  const [warmUp, ...events] = job.events;
  await handler(warmUp, context);
  const result = await measure(events.length, job.batch, (i) => handler(events[i], context));
  return { ...result, problems: [] };
}

async function runSharp(job: ProcessingJob) {
  const variants = DEFAULT_SETTINGS.variants;
  const input = readFileSync(job.fixturePath);
  const make = () =>
    (job.pipeline === 'per-variant' ? perVariant : decodeOnce)(input, variants, job.sequentialRead);
  const problems: string[] = [];
  let last: Awaited<ReturnType<typeof make>> = [];
  await make();
  const result = await measure(job.count, job.batch, async () => {
    last = await make();
    last.forEach(({ info }, v) => {
      if (info.format !== 'webp' || info.width !== variants[v].width)
        problems.push(`${variants[v].name} came out ${info.format} ${info.width} px wide`);
    });
  });
  // Decode the last outputs fully, after the RSS reading so it cannot inflate it.
  for (const { data } of last) await sharp(data).raw().toBuffer();
  return { ...result, problems };
}

async function runHeicDecode(job: ProcessingJob) {
  const input = readFileSync(job.fixturePath);
  const { maxInputPixels } = DEFAULT_SETTINGS;
  const limits = { maxInputPixels, maxDecodeBytes: maxInputPixels * HEIC_DECODE_BYTES_PER_PIXEL };
  const decode = async (): Promise<HeicDecodeResult> =>
    job.mode === 'heic-worker'
      ? decodeHeicInWorker(input, { ...limits, timeoutMs: HEIC_DECODE_TIMEOUT_MS })
      : decodeHeic(input, limits);
  const problems: string[] = [];
  await decode();
  const result = await measure(job.count, job.batch, async () => {
    const decoded = await decode();
    if (!decoded.ok) problems.push(decoded.message);
  });
  return { ...result, problems };
}

async function run(job: ProcessingJob): Promise<ProcessingReply> {
  if (job.threads > 0) sharp.concurrency(job.threads);
  if (!job.cache) sharp.cache(false);
  const result =
    job.mode === 'handler'
      ? await runHandler(job)
      : job.mode === 'sharp'
        ? await runSharp(job)
        : await runHeicDecode(job);
  return { ...result, threads: sharp.concurrency() };
}

process.once('message', (job: ProcessingJob) => {
  run(job).then(
    (reply) => process.send?.(reply, () => process.exit(0)),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});
