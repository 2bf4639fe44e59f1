/**
 * Benchmark 1, the architecture's claim: what an upload costs our process when the
 * client PUTs straight to storage with a SAS (we only issue the URL) versus a proxy
 * that receives the body and writes it to storage itself. Client, proxy and our issuer
 * are separate processes, so each one's CPU is its own; every upload is read back and
 * compared byte for byte.
 */
import { createHash } from 'node:crypto';
import { HttpRequest, InvocationContext } from '@azure/functions';
import type { ContainerClient } from '@azure/storage-blob';
import { STORAGE_CONNECTION } from '../functions/core/definitions';
import { createRuntime } from '../functions/adapters/runtime';
import { createUploadHandler } from '../functions/handlers/create-upload';
import type { AzuriteSandbox } from '../local/azurite-sandbox';
import { ChildChannel } from './lib/child';
import { MIB, cpuMsSince, fmt, median, times } from './lib/measure';
import type { Row, SectionResult, TargetCheck } from './lib/report';
import { costRows } from './cost-model';
import type { ClientJob, ClientReply } from './upload-client';
import type { ProxyTiming } from './upload-proxy';

interface Sample {
  cpuMs: number;
  /** How long the function was busy with this upload. */
  busyMs: number;
  /** How long the client waited until its upload was stored. */
  clientMs: number;
}

/** Every upload must have stored exactly the bytes the client sent. */
async function verifyStored(
  landing: ContainerClient,
  expected: ReadonlyArray<{ blobName: string; sha256: string }>,
): Promise<void> {
  for (const { blobName, sha256 } of expected) {
    const buffer = await landing.getBlobClient(blobName).downloadToBuffer();
    if (createHash('sha256').update(buffer).digest('hex') !== sha256)
      throw new Error(`${blobName} does not hold the bytes the client sent`);
  }
}

export async function runUploadPath(
  storage: AzuriteSandbox,
  options: { quick: boolean },
): Promise<SectionResult> {
  const runtime = createRuntime(storage.env);
  const createUpload = createUploadHandler(() => runtime);
  const context = new InvocationContext({ functionName: 'createUpload', logHandler: () => {} });
  const client = ChildChannel.open<ClientJob, ClientReply>('upload-client.ts');
  const proxy = ChildChannel.open<never, { port: number }>('upload-proxy.ts', {
    BENCH_STORAGE: storage.env[STORAGE_CONNECTION],
  });
  const proxyUrl = `http://127.0.0.1:${(await proxy.next()).port}/upload`;
  // Checked after the timed part, so verification never runs next to a measured call.
  const stored: Array<{ blobName: string; sha256: string }> = [];
  let proxied = 0;

  // Built by the Functions host in production: outside our code, outside the measurement.
  const issueRequest = (size: number) =>
    new HttpRequest({
      method: 'POST',
      url: 'http://localhost:7071/api/uploads',
      body: {
        string: JSON.stringify({ fileName: 'photo.jpg', contentType: 'image/jpeg', size }),
      },
      headers: { 'content-type': 'application/json' },
    });

  async function direct(size: number, rate?: number): Promise<Sample & { idleCpuMs: number }> {
    const request = issueRequest(size);
    const cpu = process.cpuUsage();
    const start = performance.now();
    const response = await createUpload(request, context);
    const busyMs = performance.now() - start;
    const cpuMs = cpuMsSince(cpu);
    if (response.status !== 201) throw new Error(`createUpload answered ${response.status}`);
    const issued = response.jsonBody as { uploadUrl: string; headers: Record<string, string> };
    // While the bytes flow our process only waits; measured to show it.
    const idleCpu = process.cpuUsage();
    const put = await client.ask({
      url: issued.uploadUrl,
      method: 'PUT',
      headers: issued.headers,
      size,
      rate,
    });
    const idleCpuMs = cpuMsSince(idleCpu);
    if (put.status !== 201) throw new Error(`direct PUT answered ${put.status} ${put.error ?? ''}`);
    // The URL path is /<account>/<container>/<blob name>.
    const path = new URL(issued.uploadUrl).pathname.split('/').slice(3).join('/');
    stored.push({ blobName: decodeURIComponent(path), sha256: put.sha256 });
    return { cpuMs, busyMs, clientMs: busyMs + put.wallMs, idleCpuMs };
  }

  async function viaProxy(size: number, rate?: number): Promise<Sample> {
    const name = `proxied/${proxied++}.jpg`;
    const reply = await client.ask({
      url: `${proxyUrl}?name=${encodeURIComponent(name)}`,
      method: 'POST',
      headers: { 'content-type': 'image/jpeg' },
      size,
      rate,
    });
    if (reply.status !== 201) throw new Error(`proxy answered ${reply.status} ${reply.body}`);
    stored.push({ blobName: name, sha256: reply.sha256 });
    const timing = JSON.parse(reply.body) as ProxyTiming;
    return { ...timing, clientMs: reply.wallMs };
  }

  const plan: Array<[mib: number, repetitions: number]> = options.quick
    ? [
        [1, 3],
        [5, 2],
        [25, 1],
      ]
    : [
        [1, 10],
        [5, 6],
        [25, 4],
      ];
  const slowMib = options.quick ? 1 : 2;
  const rows: Row[] = [];
  const data: Record<string, unknown> = {};
  const directCpu: Record<number, number> = {};
  const proxyCpu: Record<number, number> = {};
  const busy: Record<number, { direct: number; proxy: number }> = {};
  const idleCpu: number[] = [];
  try {
    // Warm both paths (JIT, connection pools) as on an instance already serving traffic.
    for (let i = 0; i < 200; i++) await createUpload(issueRequest(MIB), context);
    for (let i = 0; i < 2; i++) {
      await direct(MIB);
      await viaProxy(MIB);
    }
    for (const [mib, repetitions] of plan) {
      const ours: Sample[] = [];
      const theirs: Sample[] = [];
      // Interleaved, so drift on a shared machine hits both designs alike.
      for (let i = 0; i < repetitions; i++) {
        const d = await direct(mib * MIB);
        idleCpu.push(d.idleCpuMs);
        ours.push(d);
        theirs.push(await viaProxy(mib * MIB));
      }
      const m = (samples: Sample[], key: keyof Sample) => median(samples.map((s) => s[key]));
      directCpu[mib] = m(ours, 'cpuMs');
      proxyCpu[mib] = m(theirs, 'cpuMs');
      busy[mib] = { direct: m(ours, 'busyMs'), proxy: m(theirs, 'busyMs') };
      data[`${mib}MiB`] = { direct: ours, proxy: theirs };
      rows.push(
        {
          benchmark: 'upload path',
          case: `${mib} MiB: CPU ms per upload (direct: issue URL | proxy)`,
          ours: fmt(directCpu[mib]),
          baseline: fmt(proxyCpu[mib]),
          ratio: `proxy ${times(proxyCpu[mib], directCpu[mib])}`,
        },
        {
          benchmark: 'upload path',
          case: `${mib} MiB: function busy ms per upload`,
          ours: fmt(m(ours, 'busyMs')),
          baseline: fmt(m(theirs, 'busyMs')),
          ratio: `proxy ${times(m(theirs, 'busyMs'), m(ours, 'busyMs'))}`,
        },
        {
          benchmark: 'upload path',
          case: `${mib} MiB: client waits ms (issue + PUT | POST)`,
          ours: fmt(m(ours, 'clientMs')),
          baseline: fmt(m(theirs, 'clientMs')),
          ratio: times(m(ours, 'clientMs'), m(theirs, 'clientMs')),
        },
      );
    }

    const rate = MIB; // 1 MiB/s: a phone on a weak uplink
    const slowDirect = await direct(slowMib * MIB, rate);
    const slowProxy = await viaProxy(slowMib * MIB, rate);
    data.slowClient = { mib: slowMib, bytesPerSecond: rate, direct: slowDirect, proxy: slowProxy };
    // At 1 MiB/s the proxy is busy as long as the bytes take to arrive: linear in size.
    const cost = costRows({
      directMs: busy[5].direct,
      proxyFastMs: busy[5].proxy,
      proxySlowMs: (slowProxy.busyMs / slowMib) * 5,
    });
    rows.push(
      {
        benchmark: 'upload path',
        case: `slow client 1 MiB/s, ${slowMib} MiB: function busy s`,
        ours: fmt(slowDirect.busyMs / 1000),
        baseline: fmt(slowProxy.busyMs / 1000),
        ratio: `proxy ${times(slowProxy.busyMs, slowDirect.busyMs)}`,
      },
      {
        benchmark: 'upload path',
        case: `slow client 1 MiB/s, ${slowMib} MiB: CPU ms`,
        ours: fmt(slowDirect.cpuMs),
        baseline: fmt(slowProxy.cpuMs),
        ratio: `proxy ${times(slowProxy.cpuMs, slowDirect.cpuMs)}`,
      },
      ...cost,
    );
  } finally {
    await client.close();
    await proxy.close();
  }
  await verifyStored(runtime.landing, stored);

  const sizes = plan.map(([mib]) => mib);
  const worst = Math.max(...sizes.map((s) => directCpu[s]));
  const growth = directCpu[25] / directCpu[1];
  const targets: TargetCheck[] = [
    {
      target: 'direct path: our CPU per upload ≤ 1 ms at 1, 5 and 25 MiB',
      measured: `worst median ${fmt(worst)} ms`,
      met: worst <= 1,
    },
    {
      target: 'direct path: CPU flat across 1–25 MiB (25 MiB ≤ 1.5× 1 MiB)',
      measured: `25 MiB / 1 MiB = ${fmt(growth)}×`,
      met: growth <= 1.5,
    },
    {
      target: 'proxy CPU ≥ 100× ours at 25 MiB',
      measured: times(proxyCpu[25], directCpu[25]),
      met: proxyCpu[25] >= 100 * directCpu[25],
    },
  ];
  return {
    rows,
    targets,
    notes: [
      `Upload path: all ${stored.length} uploads were read back and matched the client's SHA-256.`,
      `Upload path: while a direct PUT was in flight our process used ${fmt(median(idleCpu))} ms of CPU (median; max ${fmt(Math.max(...idleCpu))}): waiting, plus IPC with the benchmark client.`,
    ],
    data: {
      ...data,
      idleCpuMsDuringDirectPut: idleCpu,
      directCpuMedianMs: directCpu,
      proxyCpuMedianMs: proxyCpu,
    },
  };
}
