/**
 * Benchmarks 2b and 4, against local mode as `npm start` runs it (its own process, free
 * ports, a temporary data folder): upload URL issuance over HTTP with autocannon at 1, 16
 * and 64 connections next to a bare node:http server answering the same bytes, then 200
 * uploads from 16 concurrent clients with our client library, timing each from commit
 * to processed and counting queue invocations in flight from the host's own log lines.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { upload } from '../client/src/node';
import { findDevIdentity, signDevToken } from '../local/dev-identity';
import { readHostConfig } from '../local/host-config';
import { loadFixtures } from './fixtures';
import { freePort } from '../local/azurite-sandbox';
import { devStorageEndpoints } from '../local/azurite';
import {
  InvocationCounter,
  freeLocalModePorts,
  startLocalModeProcess,
  UNTHROTTLED_QUOTA_ENV,
} from '../local/local-mode-process';
import { BENCH_DIR } from './lib/child';
import { SETTING_KEYS } from '../functions/core/settings';
import { type WebhookReceiver, startWebhookReceiver } from './lib/webhook-receiver';
import { fmt, median, percentile, times } from './lib/measure';
import type { Row, SectionResult, TargetCheck } from './lib/report';

const REPO = join(BENCH_DIR, '..');
const QUEUE_FUNCTION = 'processUploadEvent';
const ISSUE_BODY = JSON.stringify({
  fileName: 'photo.jpg',
  contentType: 'image/jpeg',
  size: 4_500_000,
});

export interface LocalMode {
  apiBaseUrl: string;
  /** The token local mode printed: every request signs in, as in an oidc stack. */
  token: string;
  /** Tokens of 64 different users, for load from many callers. */
  tokens: string[];
  /** One more user's, for load from one caller. */
  loneToken: string;
  /** A token for any other user of this local mode's dev identity. */
  signToken(subject: string): Promise<string>;
  /** When each upload's manifest was written, by our clock, from the handler's log line. */
  processedAt: Map<string, number>;
  inFlight: InvocationCounter;
  failures: string[];
  /** The development account on this local mode's Azurite, for reading queue depths. */
  storageConnectionString: string;
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Local mode as `npm start -- <args>` runs it, watched through its log lines. */
export async function startLocalMode(
  args: readonly string[] = [],
  env: Record<string, string> = {},
): Promise<LocalMode> {
  const dataDir = await mkdtemp(join(tmpdir(), 'directdrop-bench-local-'));
  const ports = await freeLocalModePorts();
  // Signed in and with quota checks on (limits out of reach): the whole production path.
  const local = startLocalModeProcess({
    role: 'all',
    ports,
    dataDir,
    signIn: true,
    env: { ...UNTHROTTLED_QUOTA_ENV, ...env },
    args,
  });
  const processedAt = new Map<string, number>();
  const inFlight = new InvocationCounter(QUEUE_FUNCTION);
  const failures: string[] = [];
  // The host logs every queue invocation like the Functions host does.
  local.onLine((line) => {
    inFlight.observe(line);
    if (line.includes(`Executed '${QUEUE_FUNCTION}' (Failed`)) failures.push(line);
    const outcome = /Upload ([0-9a-f-]{36}): (processed|rejected)/.exec(line);
    if (outcome) {
      processedAt.set(outcome[1], performance.now());
      if (outcome[2] !== 'processed') failures.push(line);
    }
  });
  try {
    await local.ready();
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const token = /TOKEN=(\S+)/.exec(local.output())?.[1];
  const identity = await findDevIdentity(dataDir);
  if (!token || !identity?.issuer)
    throw new Error(`local mode printed no token:\n${local.output()}`);
  const issuer = identity.issuer;
  const tokens = await Promise.all(
    Array.from({ length: 65 }, (_, i) => signDevToken(identity, { subject: `user-${i}`, issuer })),
  );
  return {
    apiBaseUrl: `http://127.0.0.1:${ports.port}/api`,
    token,
    tokens: tokens.slice(0, 64),
    loneToken: tokens[64],
    signToken: (subject) => signDevToken(identity, { subject, issuer }),
    processedAt,
    inFlight,
    failures,
    storageConnectionString: devStorageEndpoints(
      '127.0.0.1',
      ports.blobPort,
      ports.queuePort,
      'http',
      ports.tablePort,
    ).connectionString,
    async stop() {
      // SIGTERM is Ctrl-C's graceful path: drain, stop the emulator and Azurite.
      const timer = setTimeout(() => local.child.kill('SIGKILL'), 20_000);
      await local.signal('SIGTERM');
      clearTimeout(timer);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A bare node:http server answering what createUpload answers: the floor for HTTP issuance. */
async function startBareServer(body: string): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const script = `require('node:http').createServer((q, s) => { q.resume(); q.on('end', () => s.writeHead(201, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(process.env.BODY)); }).listen(${port}, '127.0.0.1', () => console.log('ready'));`;
  const child = spawn(process.execPath, ['-e', script], {
    env: { ...process.env, BODY: body },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
  return {
    url: `http://127.0.0.1:${port}/api/uploads`,
    async stop() {
      child.kill();
      await exited(child);
    },
  };
}

/** How long to hammer: for a time, or for a number of requests. */
type Load = { seconds: number } | { requests: number };

/** POSTs as fast as `connections` allow; with `tokens`, each request signs in as the next caller. */
async function hammer(url: string, connections: number, load: Load, tokens: string[] = []) {
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: ISSUE_BODY,
    ...(tokens.length
      ? {
          requests: tokens.map((token) => ({
            method: 'POST' as const,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: ISSUE_BODY,
          })),
        }
      : {}),
    connections,
    ...('seconds' in load ? { duration: load.seconds } : { amount: load.requests }),
  });
  if (result.errors > 0 || result.timeouts > 0 || result.non2xx > 0 || result['2xx'] === 0)
    throw new Error(
      `${url} at ${connections} connections: ${result['2xx']} ok, ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`,
    );
  return {
    perSecond: result['2xx'] / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
  };
}

async function issuanceOverHttp(
  local: LocalMode,
  quick: boolean,
): Promise<{ rows: Row[]; data: unknown }> {
  // Correctness: a real answer from our handler, with a create-only signed URL.
  const response = await fetch(`${local.apiBaseUrl}/uploads`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${local.token}` },
    body: ISSUE_BODY,
  });
  const text = await response.text();
  const uploadUrl = new URL((JSON.parse(text) as { uploadUrl: string }).uploadUrl);
  if (
    response.status !== 201 ||
    uploadUrl.searchParams.get('sp') !== 'c' ||
    !uploadUrl.searchParams.get('sig')
  )
    throw new Error(`POST /api/uploads answered ${response.status}: ${text}`);

  const bare = await startBareServer(text);
  const seconds = quick ? 1 : 2;
  const rows: Row[] = [];
  const data: Record<string, unknown> = {};
  try {
    await hammer(`${local.apiBaseUrl}/uploads`, 16, { seconds: 1 }, local.tokens); // warm-up
    await hammer(bare.url, 16, { seconds: 1 });
    for (const connections of [1, 16, 64]) {
      const ours = await hammer(
        `${local.apiBaseUrl}/uploads`,
        connections,
        { seconds },
        local.tokens,
      );
      const floor = await hammer(bare.url, connections, { seconds });
      data[`connections${connections}`] = { localMode: ours, bareNodeHttp: floor };
      const cell = (r: typeof ours) => `${fmt(r.perSecond)}/s, p50 ${r.p50} p99 ${r.p99} ms`;
      rows.push({
        benchmark: 'issuance over HTTP',
        case: `local mode, signed in + quotas, 64 callers, ${connections} connection${connections > 1 ? 's' : ''} (vs bare node:http)`,
        ours: cell(ours),
        baseline: cell(floor),
        ratio: `${fmt((100 * ours.perSecond) / floor.perSecond)} % of bare`,
      });
    }
    // One caller from many connections: its requests queue for its one quota entity. As many
    // requests as it may hold unused URLs: on a fast machine one second of them overran that
    // limit, and its designed 429s failed the run.
    const requests = Number(UNTHROTTLED_QUOTA_ENV[SETTING_KEYS.quotaOutstandingUploads]);
    const single = await hammer(`${local.apiBaseUrl}/uploads`, 16, { requests }, [local.loneToken]);
    const floor = await hammer(bare.url, 16, { seconds: 1 });
    data.oneCaller16 = { localMode: single, bareNodeHttp: floor };
    rows.push({
      benchmark: 'issuance over HTTP',
      case: `local mode, signed in + quotas, 1 caller, 16 connections, ${requests} requests (vs bare node:http)`,
      ours: `${fmt(single.perSecond)}/s, p50 ${single.p50} p99 ${single.p99} ms`,
      baseline: `${fmt(floor.perSecond)}/s, p50 ${floor.p50} p99 ${floor.p99} ms`,
      ratio: `${fmt((100 * single.perSecond) / floor.perSecond)} % of bare`,
    });
  } finally {
    await bare.stop();
  }
  return { rows, data };
}

const PROCESSED_EVENT = 'directdrop.upload.processed';

async function endToEnd(local: LocalMode, quick: boolean, webhook: WebhookReceiver) {
  const { jpeg } = await loadFixtures();
  const committedAt = new Map<string, number>();
  const send = () =>
    upload(jpeg.bytes, {
      apiBaseUrl: local.apiBaseUrl,
      token: local.token,
      fileName: 'photo.jpg',
      contentType: 'image/jpeg',
      onProgress: (p) => {
        // The client reports 'processing' the moment storage has acknowledged the PUT.
        if (p.stage === 'processing' && p.uploadId && !committedAt.has(p.uploadId))
          committedAt.set(p.uploadId, performance.now());
      },
    });
  const latency = (uploadId: string) => {
    const done = local.processedAt.get(uploadId);
    const commit = committedAt.get(uploadId);
    if (done === undefined || commit === undefined)
      throw new Error(`no processed log line for upload ${uploadId}`);
    return done - commit;
  };

  // Unloaded floor: one upload at a time on an idle system, through the same path.
  const alone: number[] = [];
  for (let i = 0; i < 4; i++) {
    const result = await send();
    if (i > 0) alone.push(latency(result.uploadId));
  }

  const total = quick ? 32 : 200;
  const clients = 16;
  let started = 0;
  const results: Awaited<ReturnType<typeof send>>[] = [];
  local.inFlight.max = local.inFlight.now;
  const wall = performance.now();
  // Closed loop, as people use it: each client waits for its result before the next upload.
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (started < total) {
        started += 1;
        results.push(await send());
      }
    }),
  );
  const seconds = (performance.now() - wall) / 1000;
  if (local.failures.length > 0) throw new Error(`processing failed: ${local.failures[0]}`);
  for (const result of results) {
    if (result.outputs.map((o) => o.width).join() !== '320,1600')
      throw new Error(`upload ${result.uploadId} has outputs ${JSON.stringify(result.outputs)}`);
  }
  // Decode the outputs of the first and the last upload through their read URLs.
  for (const result of [results[0], results[results.length - 1]])
    for (const output of result.outputs) {
      const bytes = Buffer.from(await (await fetch(output.url)).arrayBuffer());
      const { info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
      if (info.width !== output.width)
        throw new Error(`${output.url} decodes ${info.width} px wide`);
    }
  const latencies = results.map((r) => latency(r.uploadId));
  // Every upload's processed event must reach the webhook; it may trail the status poll.
  const events = () => webhook.received.get(PROCESSED_EVENT) ?? new Map<string, number>();
  const deadline = performance.now() + 30_000;
  while (results.some((r) => !events().has(r.uploadId)) && performance.now() < deadline)
    await sleep(50);
  const missing = results.filter((r) => !events().has(r.uploadId));
  if (missing.length > 0)
    throw new Error(
      `${missing.length} processed events never reached the webhook (first ${missing[0].uploadId})`,
    );
  const eventLatencies = results.map(
    (r) => (events().get(r.uploadId) ?? Number.NaN) - (committedAt.get(r.uploadId) ?? Number.NaN),
  );
  return {
    uploads: results.length,
    clients,
    seconds,
    latencies,
    eventLatencies,
    aloneMs: median(alone),
    maxInFlight: local.inFlight.max,
  };
}

type EndToEnd = Awaited<ReturnType<typeof endToEnd>>;

export async function runLocalMode(options: { quick: boolean }): Promise<SectionResult> {
  const config = await readHostConfig(join(REPO, 'host.json'), process.env, availableParallelism());
  const cap = config.queues.batchSize + config.queues.newBatchThreshold;
  // Outcome events go to a webhook of ours, as a subscriber's would.
  const webhook = await startWebhookReceiver();
  const hook = webhook.webhookArgs;
  let http: Awaited<ReturnType<typeof issuanceOverHttp>>;
  const e2e = {} as Record<'off' | 'on', EndToEnd>;
  try {
    // The scan gate on, as `npm start` runs the dev stack, for issuance and the gated run.
    const gated = await startLocalMode(['--malware-scanning', 'on', ...hook]);
    try {
      http = await issuanceOverHttp(gated, options.quick);
      e2e.on = await endToEnd(gated, options.quick, webhook);
    } finally {
      await gated.stop();
    }
    // Then the same load with the gate off, one local mode at a time on the two cores.
    const ungated = await startLocalMode(['--malware-scanning', 'off', ...hook]);
    try {
      e2e.off = await endToEnd(ungated, options.quick, webhook);
    } finally {
      await ungated.stop();
    }
  } finally {
    await webhook.stop();
  }

  const s = (ms: number) => fmt(ms / 1000);
  const pct = (values: number[], q: number) => percentile(values, q);
  const three = (values: number[]) =>
    `${s(pct(values, 50))} / ${s(pct(values, 95))} / ${s(pct(values, 99))}`;
  const { on, off } = e2e;
  const rows: Row[] = [
    ...http.rows,
    ...(['off', 'on'] as const).map((gate) => ({
      benchmark: 'end to end',
      case: `${e2e[gate].uploads} uploads, ${e2e[gate].clients} clients, gate ${gate}: commit → processed p50 / p95 / p99 s (vs one upload alone)`,
      ours: three(e2e[gate].latencies),
      baseline: `${s(e2e[gate].aloneMs)} alone`,
      ratio: `p95 ${times(pct(e2e[gate].latencies, 95), e2e[gate].aloneMs)}`,
    })),
    {
      benchmark: 'end to end',
      case: `${on.uploads} uploads, ${on.clients} clients: the gate's share, commit → processed p50 / p95 s, gate on (vs off)`,
      ours: `${s(pct(on.latencies, 50))} / ${s(pct(on.latencies, 95))}`,
      baseline: `${s(pct(off.latencies, 50))} / ${s(pct(off.latencies, 95))}`,
      ratio: `p95 ${times(pct(on.latencies, 95), pct(off.latencies, 95))}`,
    },
    ...(['off', 'on'] as const).map((gate) => ({
      benchmark: 'outcome events',
      case: `${e2e[gate].uploads} uploads, gate ${gate}: commit → event at a local webhook p50 / p95 s (vs commit → processed)`,
      ours: `${s(pct(e2e[gate].eventLatencies, 50))} / ${s(pct(e2e[gate].eventLatencies, 95))}`,
      baseline: `${s(pct(e2e[gate].latencies, 50))} / ${s(pct(e2e[gate].latencies, 95))}`,
      ratio: `+${fmt(pct(e2e[gate].eventLatencies, 50) - pct(e2e[gate].latencies, 50))} ms at p50`,
    })),
    ...(['off', 'on'] as const).map((gate) => ({
      benchmark: 'end to end',
      case: `${e2e[gate].uploads} uploads, ${e2e[gate].clients} clients, gate ${gate}: throughput and max queue invocations in flight (vs cap)`,
      ours: `${fmt(e2e[gate].uploads / e2e[gate].seconds)} uploads/s, max ${e2e[gate].maxInFlight} in flight`,
      baseline: `cap ${cap} (batchSize ${config.queues.batchSize} + newBatchThreshold ${config.queues.newBatchThreshold})`,
      ratio: `${e2e[gate].maxInFlight}/${cap}`,
    })),
  ];
  const maxInFlight = Math.max(on.maxInFlight, off.maxInFlight);
  const targets: TargetCheck[] = [
    {
      target: `local end to end p95 ≤ 2 s at ${on.clients} concurrent clients, gate on`,
      measured: `p95 ${s(pct(on.latencies, 95))} s over ${on.uploads} uploads of the 12 MP JPEG (gate off: ${s(pct(off.latencies, 95))} s)`,
      met: pct(on.latencies, 95) <= 2000,
    },
    {
      target: `end to end p95 ≤ 2.5× one upload alone at ${on.clients} clients, gate on`,
      measured: `p95 ${s(pct(on.latencies, 95))} s ÷ alone ${s(on.aloneMs)} s = ${times(pct(on.latencies, 95), on.aloneMs)} (gate off: ${times(pct(off.latencies, 95), off.aloneMs)})`,
      met: pct(on.latencies, 95) <= 2.5 * on.aloneMs,
    },
    {
      target: 'local queue concurrency cap never exceeded',
      measured: `max ${maxInFlight} in flight, cap ${cap}`,
      met: maxInFlight <= cap,
    },
  ];
  const notes = [
    `Local mode: ${on.uploads} uploads of the 12 MP JPEG per gate setting through client/src/upload.ts (request URL, PUT to Azurite, poll status), each client waiting for its result before the next; all came back processed with 320 and 1600 px outputs, the first and last uploads' outputs were downloaded and decoded, and every upload's directdrop.upload.processed event reached the bench's webhook.`,
    'Local mode: commit is when the client saw the PUT acknowledged; processed is when the host logged the handler’s "processed" line (after the manifest write); event is when the bench’s webhook (@directdrop/receiver on node:http, registered with --webhook and --webhook-secret) had checked and parsed the CloudEvent. In-flight counts come from the host’s Executing/Executed lines. Gate on runs first (with issuance over HTTP before it), then a fresh local mode with --malware-scanning off takes the same load; load generator, local host, Azurite and the emulator share the two cores.',
  ];
  return { rows, targets, notes, data: { http: http.data, endToEnd: e2e, cap } };
}
