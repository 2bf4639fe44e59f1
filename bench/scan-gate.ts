/**
 * What the malware-scan gate adds locally: two local modes side by side, one with
 * `--malware-scanning on` (the emulator scans each blob and sends Defender's verdict; the
 * worker waits for it) and one with it off, taking uploads of the same JPEG in turns, one
 * at a time, so machine load falls on both alike. Latency is commit → processed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { upload } from '../client/src/node';
import { loadFixtures } from './fixtures';
import { type LocalMode, startLocalMode } from './local-mode';
import { fmt, median, percentile } from './lib/measure';
import type { Row, SectionResult } from './lib/report';

async function oneUpload(local: LocalMode, bytes: Buffer): Promise<number> {
  let committedAt: number | undefined;
  const result = await upload(bytes, {
    apiBaseUrl: local.apiBaseUrl,
    fileName: 'photo.jpg',
    contentType: 'image/jpeg',
    // Poll fast: the difference sought is below the client's default 250 ms first delay.
    pollIntervalMs: 20,
    maxPollIntervalMs: 20,
    onProgress: (p) => {
      if (p.stage === 'processing' && committedAt === undefined) committedAt = performance.now();
    },
  });
  // The host's log line can trail the status the client saw by a moment.
  for (let i = 0; i < 100 && !local.processedAt.has(result.uploadId); i++) await sleep(20);
  const done = local.processedAt.get(result.uploadId);
  if (done === undefined || committedAt === undefined)
    throw new Error(`no processed log line for upload ${result.uploadId}`);
  return done - committedAt;
}

export async function runScanGate(options: { quick: boolean }): Promise<SectionResult> {
  const { jpeg } = await loadFixtures();
  const [on, off] = await Promise.all([
    startLocalMode(['--malware-scanning', 'on']),
    startLocalMode(['--malware-scanning', 'off']),
  ]);
  const rounds = options.quick ? 6 : 30;
  const latencies = { on: [] as number[], off: [] as number[] };
  try {
    for (let i = 0; i < rounds; i++) {
      // Alternate which goes first, so neither always meets a warmer cache.
      const order = i % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
      for (const side of order) {
        const ms = await oneUpload(side === 'on' ? on : off, jpeg.bytes);
        if (i > 0) latencies[side].push(ms); // The first round warms both up.
      }
    }
    const failures = [...on.failures, ...off.failures];
    if (failures.length > 0) throw new Error(`processing failed: ${failures[0]}`);
  } finally {
    await Promise.all([on.stop(), off.stop()]);
  }
  const s = (ms: number) => fmt(ms / 1000);
  const stat = (side: 'on' | 'off') => ({
    p50: median(latencies[side]),
    p95: percentile(latencies[side], 95),
  });
  const gated = stat('on');
  const ungated = stat('off');
  const rows: Row[] = [
    {
      benchmark: 'scan gate',
      case: `${latencies.on.length} uploads one at a time: commit → processed p50 / p95 s, gate on (vs off)`,
      ours: `${s(gated.p50)} / ${s(gated.p95)}`,
      baseline: `${s(ungated.p50)} / ${s(ungated.p95)}`,
      ratio: `+${fmt(gated.p50 - ungated.p50)} ms at p50`,
    },
  ];
  const notes = [
    `Scan gate: ${latencies.on.length} uploads of the 12 MP JPEG per side, alternating between two local modes, one at a time, the client polling every 20 ms. With the gate on, the emulator downloads each committed blob, looks for EICAR (and asks ClamAV when it has signatures), and enqueues the verdict after the BlobCreated event; the worker records the wait, reads the verdict and then processes. Defender's own scan time in Azure (seconds) is not modelled.`,
  ];
  return {
    rows,
    targets: [],
    notes,
    data: { rounds, latencies, gated, ungated },
  };
}
