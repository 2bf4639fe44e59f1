/**
 * `npm run bench -- --only spike` (opt-in): the peak the architecture promises to smooth.
 * 100 clients arrive within 10 s, each signed in as its own user, and upload 10 photos of
 * mixed sizes (3 at a time, as a page would) through the client library's own calls:
 * request a URL, PUT to storage. Local mode runs signed in, per-caller quotas raised for
 * the run and the global cap on at its default; the scan gate off (see below).
 *
 * Measured: issuance latency per POST /uploads, every non-2xx the API answered (only the
 * designed 429s are allowed; the client retries them after Retry-After), the events queue
 * depth and queue invocations in flight every 250 ms, drawn to bench/results/spike.svg, the
 * most in flight against the cap, the time to drain, and each upload's final status read
 * back. Beside it, in the same run and before the burst: the proxy baseline's busy time
 * per MiB and its memory, and what the same burst would have cost through it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { QueueClient } from '@azure/storage-queue';
import sharp from 'sharp';
import { STORAGE_NAMES, STORAGE_CONNECTION } from '../functions/core/definitions';
import { DEFAULT_SETTINGS, SETTING_KEYS } from '../functions/core/settings';
import { getUploadStatus, requestUpload, sendToStorage } from '../client/src/node';
import { ticketStatusUrl } from '../client/src/polling';
import { UNTHROTTLED_QUOTA_ENV, startAzuriteSandbox } from '../local/azurite-sandbox';
import { readHostConfig } from '../local/host-config';
import { PRICES } from './cost-model';
import { loadFixtures } from './fixtures';
import { startLocalMode } from './local-mode';
import { BENCH_DIR, ChildChannel } from './lib/child';
import { MIB, fmt, median, percentile, times } from './lib/measure';
import type { Row, SectionResult, TargetCheck } from './lib/report';
import { lineChartSvg } from './lib/svg-chart';
import { type BusySample, fitBusyModel, proxyBurstCost } from './proxy-cost';
import type { ClientJob, ClientReply } from './upload-client';
import type { ProxyTiming } from './upload-proxy';

const REPO = join(BENCH_DIR, '..');
const QUEUE_FUNCTION_CAP_NOTE = 'batchSize + newBatchThreshold';
/** Flex Consumption's default instance memory, as the cost model prices it. */
const FLEX_INSTANCE_MIB = PRICES.instanceGb * 1024;
/** No new outcome for this long means the pipeline hung, however long the drain has run. */
const DRAIN_STALL_MS = 2 * 60_000;
/** Bounds a drain that crawls: several times what a 2-core machine needs for the full burst. */
const DRAIN_CEILING_MS = 40 * 60_000;

interface Photo {
  label: string;
  bytes: Buffer;
}

/** The 12 MP photo and three smaller ones from it: 3, 6 and 8.6 MP, as phones and cameras send. */
async function mixedPhotos(): Promise<Photo[]> {
  const { jpeg } = await loadFixtures();
  const smaller = await Promise.all(
    [2000, 2800, 3400].map(async (width) => ({
      label: `${fmt((width * width * 0.75) / 1e6, 2)} MP`,
      bytes: await sharp(jpeg.bytes).resize({ width }).jpeg({ quality: 90 }).toBuffer(),
    })),
  );
  return [...smaller, { label: '12 MP', bytes: jpeg.bytes }];
}

/** Four in ten 3 MP, three 6 MP, two 8.6 MP, one 12 MP. */
const MIX = [0, 0, 0, 0, 1, 1, 1, 2, 2, 3];

interface ApiCall {
  method: string;
  kind: 'issue' | 'status' | 'other';
  status: number;
  startMs: number;
  ms: number;
}

/** The proxy baseline (bench/upload-proxy.ts) on its own Azurite: busy time per size, memory. */
async function measureProxy(photos: Photo[], repetitions: number) {
  const storage = await startAzuriteSandbox();
  const client = ChildChannel.open<ClientJob, ClientReply>('upload-client.ts');
  const proxy = ChildChannel.open<never, { port: number }>('upload-proxy.ts', {
    BENCH_STORAGE: storage.env[STORAGE_CONNECTION],
  });
  const samples: BusySample[] = [];
  let maxRssBytes = 0;
  try {
    const url = `http://127.0.0.1:${(await proxy.next()).port}/upload`;
    let n = 0;
    for (let round = -1; round < repetitions; round++) {
      for (const photo of photos) {
        const reply = await client.ask({
          url: `${url}?name=${encodeURIComponent(`proxied/${n++}.jpg`)}`,
          method: 'POST',
          headers: { 'content-type': 'image/jpeg' },
          size: photo.bytes.length,
        });
        if (reply.status !== 201) throw new Error(`proxy answered ${reply.status} ${reply.body}`);
        const timing = JSON.parse(reply.body) as ProxyTiming;
        maxRssBytes = Math.max(maxRssBytes, timing.maxRssBytes);
        // The first round warms the proxy up, as an instance already serving traffic.
        if (round >= 0) samples.push({ bytes: photo.bytes.length, busyMs: timing.busyMs });
      }
    }
  } finally {
    await client.close();
    await proxy.close();
    await storage.stop();
  }
  return { model: fitBusyModel(samples), samples, memoryMib: maxRssBytes / MIB };
}

export async function runSpike(options: { quick: boolean }): Promise<SectionResult> {
  const clients = options.quick ? 20 : 100;
  const perClient = options.quick ? 5 : 10;
  const arrivalWindowMs = options.quick ? 2_000 : 10_000;
  const parallelPerClient = 3;
  const progress = (text: string) => process.stderr.write(`bench: spike: ${text}\n`);
  const photos = await mixedPhotos();
  progress('measuring the proxy baseline');
  const proxy = await measureProxy(photos, options.quick ? 1 : 3);
  progress('starting local mode');

  const config = await readHostConfig(join(REPO, 'host.json'), process.env, availableParallelism());
  const cap = config.queues.batchSize + config.queues.newBatchThreshold;
  const globalPerMinute = DEFAULT_SETTINGS.quotaGlobalUrlsPerMinute;
  // The gate off: with it on, each upload also parks a delayed timeout check in the same
  // queue, which the queue's approximate count includes until it comes due, hiding the
  // backlog. The gate's own share is measured side by side in the local section.
  const local = await startLocalMode(['--malware-scanning', 'off'], {
    [SETTING_KEYS.quotaGlobalUrlsPerMinute]: String(globalPerMinute),
  });
  const calls: ApiCall[] = [];
  const errors: string[] = [];
  const uploads: Array<{
    uploadId: string;
    bytes: number;
    statusUrl: URL;
    token: string;
    putStartMs: number;
    committedMs: number;
  }> = [];
  const samples: Array<{ t: number; depth: number; inFlight: number }> = [];
  let t0 = 0;
  let lastCommitMs = 0;
  let drainedMs: number;
  let finalStatuses: Record<string, number>;
  const idleIssueMs: number[] = [];
  try {
    const tokens = await Promise.all(
      Array.from({ length: clients }, (_, i) => local.signToken(`spike-${i}`)),
    );
    const queue = new QueueClient(local.storageConnectionString, STORAGE_NAMES.eventsQueue);
    // Every API call the clients make goes through this fetch, so each status is seen.
    const countingFetch: typeof fetch = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
      const kind =
        method === 'POST' && url.pathname.endsWith('/uploads')
          ? 'issue'
          : method === 'GET' && /\/uploads\/[^/]+$/.test(url.pathname)
            ? 'status'
            : 'other';
      const startMs = performance.now();
      const response = await fetch(input, init);
      calls.push({
        method,
        kind,
        status: response.status,
        startMs,
        ms: performance.now() - startMs,
      });
      return response;
    };

    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const depth = await queue
          .getProperties()
          .then((p) => p.approximateMessagesCount ?? 0)
          .catch(() => Number.NaN);
        if (Number.isNaN(depth)) errors.push('could not read the events queue depth');
        else
          samples.push({ t: (performance.now() - t0) / 1000, depth, inFlight: local.inFlight.now });
        await sleep(250);
      }
    })();

    // Our function's side of the comparison, measured like the proxy's: one request at a
    // time on an idle instance (URLs never used; they expire on their own).
    const idleOptions = {
      apiBaseUrl: local.apiBaseUrl,
      token: await local.signToken('spike-idle'),
    };
    for (let i = 0; i < 25; i++) {
      const start = performance.now();
      await requestUpload(photos[0].bytes, { ...idleOptions, fileName: 'idle.jpg' });
      if (i >= 5) idleIssueMs.push(performance.now() - start);
    }
    local.inFlight.max = local.inFlight.now;
    progress(`${clients} clients arriving`);
    t0 = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async (_, client) => {
        // Arrivals spread evenly over the window.
        await sleep((client * arrivalWindowMs) / clients);
        const apiOptions = {
          apiBaseUrl: local.apiBaseUrl,
          token: tokens[client],
          fetch: countingFetch,
        };
        let next = 0;
        await Promise.all(
          Array.from({ length: parallelPerClient }, async () => {
            while (next < perClient) {
              const index = client * perClient + next++;
              const photo = photos[MIX[index % MIX.length]];
              try {
                const options = { ...apiOptions, fileName: `photo-${index}.jpg` };
                const { ticket, source, contentType } = await requestUpload(photo.bytes, options);
                const putStartMs = performance.now();
                await sendToStorage(ticket, source, contentType, options);
                const committedMs = performance.now();
                lastCommitMs = Math.max(lastCommitMs, committedMs);
                uploads.push({
                  uploadId: ticket.uploadId,
                  bytes: photo.bytes.length,
                  statusUrl: ticketStatusUrl(ticket, apiOptions),
                  token: tokens[client],
                  putStartMs,
                  committedMs,
                });
              } catch (error) {
                errors.push(`upload ${index}: ${error instanceof Error ? error.message : error}`);
              }
            }
          }),
        );
      }),
    );

    // Drained: every upload has its outcome line, the queue is empty and nothing runs. A
    // drain still making progress is waited for (its length is the measurement); one that
    // records no outcome for DRAIN_STALL_MS has hung, and DRAIN_CEILING_MS bounds the run.
    progress(`${uploads.length} committed, ${errors.length} errors; draining`);
    const drainStart = performance.now();
    let outcomesSeen = 0;
    let lastProgressMs = drainStart;
    let told = drainStart;
    for (;;) {
      const now = performance.now();
      const outcomes = uploads.filter((u) => local.processedAt.has(u.uploadId)).length;
      if (outcomes > outcomesSeen) [outcomesSeen, lastProgressMs] = [outcomes, now];
      if (now - told > 10_000) {
        told = now;
        progress(
          `${outcomes}/${uploads.length} outcomes, queue depth ${samples[samples.length - 1]?.depth}, ${local.inFlight.now} in flight`,
        );
      }
      const last = samples[samples.length - 1];
      if (outcomes === uploads.length && last && last.depth === 0 && local.inFlight.now === 0)
        break;
      if (now - lastProgressMs > DRAIN_STALL_MS) {
        errors.push(
          `the drain stalled: no outcome for ${DRAIN_STALL_MS / 1000} s, ${outcomes}/${uploads.length} recorded`,
        );
        break;
      }
      if (now - drainStart > DRAIN_CEILING_MS) {
        errors.push(
          `the drain did not finish within ${DRAIN_CEILING_MS / 60_000} minutes: ${outcomes}/${uploads.length} recorded`,
        );
        break;
      }
      await sleep(100);
    }
    drainedMs = performance.now();
    // A few samples after the drain, so the chart shows it settled.
    await sleep(1_000);
    sampling = false;
    await sampler;

    // Every upload's own status, read back once through the API.
    const statuses: string[] = [];
    let cursor = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (cursor < uploads.length) {
          const u = uploads[cursor++];
          const status = await getUploadStatus(u.statusUrl.toString(), {
            apiBaseUrl: local.apiBaseUrl,
            token: u.token,
            fetch,
          }).catch((error: Error) => ({ status: `error ${error.message}` }));
          statuses.push(status?.status ?? 'unknown');
        }
      }),
    );
    finalStatuses = statuses.reduce<Record<string, number>>(
      (counts, s) => ({ ...counts, [s]: (counts[s] ?? 0) + 1 }),
      {},
    );
    if (local.failures.length > 0) errors.push(...local.failures.slice(0, 5));
  } finally {
    await local.stop();
  }

  // --- Results -------------------------------------------------------------------------
  const total = clients * perClient;
  const issued = calls.filter((c) => c.kind === 'issue' && c.status < 300);
  const non2xx = calls.filter((c) => c.status < 200 || c.status >= 300);
  const designed429 = non2xx.filter((c) => c.kind === 'issue' && c.status === 429);
  const undesigned = non2xx.filter((c) => !(c.kind === 'issue' && c.status === 429));
  const statusCounts = non2xx.reduce<Record<string, number>>((counts, c) => {
    const key = `${c.method} ${c.kind} ${c.status}`;
    return { ...counts, [key]: (counts[key] ?? 0) + 1 };
  }, {});
  const issueMs = issued.map((c) => c.ms);
  const maxInFlight = local.inFlight.max;
  const maxDepth = Math.max(0, ...samples.map((s) => s.depth));
  const firstCommit = Math.min(...uploads.map((u) => u.committedMs));
  const drainAfterLastCommit = (drainedMs - lastCommitMs) / 1000;
  const burstSeconds = (drainedMs - t0) / 1000;
  const processed = finalStatuses.processed ?? 0;

  // The same burst through the proxy: each upload busy from when its bytes started to flow.
  const burst = uploads.map((u) => ({ startMs: u.putStartMs, bytes: u.bytes }));
  const proxyMeasured = proxyBurstCost(burst, proxy.model, proxy.memoryMib);
  const proxyFlex = proxyBurstCost(burst, proxy.model, FLEX_INSTANCE_MIB);
  // Ours through the same replay: each issuance busy for the idle median, from its start.
  const oursBusyMs = median(idleIssueMs);
  const ours = proxyBurstCost(
    issued.map((c) => ({ startMs: c.startMs, bytes: 0 })),
    { fixedMs: oursBusyMs, perMibMs: 0 },
    proxy.memoryMib,
  );

  const svg = lineChartSvg({
    title: `${total} uploads from ${clients} clients arriving within ${arrivalWindowMs / 1000} s`,
    xLabel: 'seconds since the first client arrived',
    yLabel: 'events queue depth (messages)',
    yRightLabel: 'queue invocations in flight',
    series: [
      {
        label: 'events queue depth',
        color: '#1f77b4',
        points: samples.map((s) => [s.t, s.depth] as const),
      },
      {
        label: 'invocations in flight (right axis)',
        color: '#d62728',
        axis: 'right',
        points: samples.map((s) => [s.t, s.inFlight] as const),
      },
    ],
    lines: [
      { label: `cap ${cap} (${QUEUE_FUNCTION_CAP_NOTE})`, color: '#ff7f0e', y: cap, axis: 'right' },
    ],
  });
  const out = join(BENCH_DIR, 'results');
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'spike.svg'), svg);

  const s = (ms: number) => fmt(ms / 1000);
  const rows: Row[] = [
    {
      benchmark: 'spike',
      case: `${total} uploads (${photos.map((p) => `${p.label} ${fmt(p.bytes.length / MIB, 2)} MiB`).join(', ')}), ${clients} clients within ${arrivalWindowMs / 1000} s: issuance p50 / p99 ms`,
      ours: `${fmt(percentile(issueMs, 50))} / ${fmt(percentile(issueMs, 99))}`,
      baseline: `${issued.length} URLs issued`,
      ratio: `p99 ${times(percentile(issueMs, 99), percentile(issueMs, 50))} p50`,
    },
    {
      benchmark: 'spike',
      case: 'API answers other than 2xx (only designed 429s allowed)',
      ours: non2xx.length === 0 ? 'none' : JSON.stringify(statusCounts),
      baseline: `${calls.length} API calls`,
      ratio: `${designed429.length} designed 429, ${undesigned.length} other`,
    },
    {
      benchmark: 'spike',
      case: 'queue invocations in flight: max (vs cap); events queue depth: max',
      ours: `max ${maxInFlight} in flight, queue depth max ${maxDepth}`,
      baseline: `cap ${cap}`,
      ratio: `${maxInFlight}/${cap}`,
    },
    {
      benchmark: 'spike',
      case: 'time to drain: last commit → queue empty and every outcome logged, s (vs whole burst)',
      ours: fmt(drainAfterLastCommit),
      baseline: `${fmt(burstSeconds)} from the first arrival; commits over ${s(lastCommitMs - firstCommit)}`,
      ratio: `${fmt(total / burstSeconds)} uploads/s overall`,
    },
    {
      benchmark: 'spike',
      case: 'every upload terminal: final status read back through the API',
      ours: JSON.stringify(finalStatuses),
      baseline: `${total} uploads started, ${uploads.length} committed`,
      ratio: `${processed}/${total} processed`,
    },
    {
      benchmark: 'spike',
      case: `the same burst through the proxy design: peak concurrent executions (ours: issuance)`,
      ours: String(ours.peakConcurrent),
      baseline: String(proxyMeasured.peakConcurrent),
      ratio: `proxy ${times(proxyMeasured.peakConcurrent, ours.peakConcurrent)}`,
    },
    {
      benchmark: 'spike',
      case: `the same burst: execution busy s and GB-s at the proxy's measured ${fmt(proxy.memoryMib)} MiB (at Flex's ${FLEX_INSTANCE_MIB} MB instance, one execution each)`,
      ours: `${fmt(ours.busySeconds)} s, ${fmt(ours.gbSeconds)} GB-s`,
      baseline: `${fmt(proxyMeasured.busySeconds)} s, ${fmt(proxyMeasured.gbSeconds)} GB-s (${fmt(proxyFlex.gbSeconds)} GB-s)`,
      ratio: `proxy ${times(proxyMeasured.busySeconds, ours.busySeconds)}`,
    },
  ];
  const allTerminal = processed === total && uploads.length === total;
  const targets: TargetCheck[] = [
    {
      target: 'spike: every upload terminal (processed), read back through the API',
      measured: `${processed}/${total} processed; ${JSON.stringify(finalStatuses)}`,
      met: allTerminal,
    },
    {
      target: 'spike: no API answer other than 2xx and designed 429s',
      measured: non2xx.length === 0 ? 'none' : JSON.stringify(statusCounts),
      met: undesigned.length === 0,
    },
    {
      target: 'spike: queue invocations in flight never above the cap',
      measured: `max ${maxInFlight}, cap ${cap}`,
      met: maxInFlight <= cap,
    },
  ];
  const notes = [
    `Spike: ${clients} clients, each its own signed-in user, arrive evenly over ${arrivalWindowMs / 1000} s and upload ${perClient} photos each, ${parallelPerClient} at a time, with the client library's requestUpload and sendToStorage (no status polling during the burst); per-caller quotas raised (${SETTING_KEYS.quotaUrlBurst} ${fmt(Number(UNTHROTTLED_QUOTA_ENV[SETTING_KEYS.quotaUrlBurst]))}), global cap ${fmt(globalPerMinute)}/min (the default), scan gate off (with it on, each upload parks a delayed timeout check in the same queue, which the approximate count includes, hiding the backlog; the gate's share is the local section's gate on/off rows). Queue depth is the events queue's approximate message count (BlobCreated events, including messages leased to running invocations), sampled every 250 ms with the in-flight count from the host's Executing/Executed lines; chart: bench/results/spike.svg.`,
    `Spike, proxy cost: the proxy baseline (bench/upload-proxy.ts, its own process and Azurite, before the burst) received each photo size ${options.quick ? 1 : 3} times from a client on loopback at full speed: busy ${fmt(proxy.model.fixedMs)} ms + ${fmt(proxy.model.perMibMs)} ms/MiB (least squares), peak RSS ${fmt(proxy.memoryMib)} MiB. The burst is replayed through that model from each upload's PUT start as measured; real clients on slower links keep the proxy busy far longer, so these are lower bounds. Ours is replayed the same way: each issuance busy for ${fmt(oursBusyMs)} ms, the median of 20 POST /uploads one at a time on the idle local mode before the burst (client-side, so including loopback HTTP: an upper bound), from each issuance's start in the burst.`,
  ];
  // The run exits non-zero on any of these, with the rows still printed.
  const failures = [...errors];
  if (!allTerminal || undesigned.length > 0 || maxInFlight > cap)
    failures.push(
      `spike did not verify: ${processed}/${total} processed, ${undesigned.length} undesigned non-2xx (${JSON.stringify(statusCounts)}), max in flight ${maxInFlight}/${cap}`,
    );
  return {
    rows,
    targets,
    notes,
    failures,
    data: {
      clients,
      perClient,
      arrivalWindowMs,
      cap,
      globalPerMinute,
      photos: photos.map((p) => ({ label: p.label, bytes: p.bytes.length })),
      issuanceMs: issueMs,
      non2xx: statusCounts,
      samples,
      maxInFlight,
      maxDepth,
      drainAfterLastCommitSeconds: drainAfterLastCommit,
      burstSeconds,
      finalStatuses,
      proxy: { ...proxy, burst: proxyMeasured, flexInstance: proxyFlex },
      ours: { idleIssueMs, busyMsPerIssuance: oursBusyMs, burst: ours },
    },
  };
}
