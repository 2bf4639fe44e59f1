/**
 * `npm run reprocess` against local mode, storage and functions as separate processes:
 * existing uploads get the stack's new variants exactly once, a second run does nothing,
 * a processing host killed mid-run loses nothing and repeats nothing, live uploads keep
 * their pace while a backlog is reprocessed, and reprocessing never triggers processing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { readManifest } from '../../functions/adapters/manifest-store';
import { STORAGE_CONNECTION } from '../../functions/core/definitions';
import type { UploadManifest } from '../../functions/core/manifest';
import { variantSetHash } from '../../functions/core/reprocess';
import { SETTING_KEYS, type VariantSpec } from '../../functions/core/settings';
import { devStorageEndpoints } from '../../local/azurite';
import {
  InvocationCounter,
  type LocalModePorts,
  type LocalModeProcess,
  freeLocalModePorts,
  startLocalModeProcess,
} from '../../local/local-mode-process';
import { EXIT, runReprocessCommand } from '../../ops/reprocess-command';
import { processedContainerOf } from '../../soak/audit';
import { type UploadRecord, uploadPatiently } from '../../soak/uploader';
import { cameraNoise } from '../helpers/images';

const LEASE_SECONDS = 6;
const UPLOADS = 9;
const SECOND: VariantSpec[] = [
  { name: 'small', width: 240, format: 'jpeg', quality: 70 },
  { name: 'wide', width: 1000, format: 'webp', quality: 75 },
];
// AVIF at this size takes real work, so the backlog outlasts a few live uploads by far.
const THIRD: VariantSpec[] = [
  { name: 'hero', width: 800, format: 'avif', quality: 50 },
  { name: 'full', width: 2400, format: 'webp', quality: 80 },
];

type Processed = Extract<UploadManifest, { status: 'processed' }>;

describe('reprocess on local mode (storage and functions as separate processes)', function () {
  this.timeout(240_000);
  let ports: LocalModePorts;
  let dataDir: string;
  let storage: LocalModeProcess;
  let functions: LocalModeProcess;
  let ids: string[] = [];
  const hosts: LocalModeProcess[] = [];

  const settingsFor = (variants?: VariantSpec[]): Record<string, string> => ({
    [SETTING_KEYS.keepOriginals]: 'true',
    ...(variants && { [SETTING_KEYS.variants]: JSON.stringify(variants) }),
  });

  async function startFunctions(variants?: VariantSpec[]): Promise<LocalModeProcess> {
    const host = startLocalModeProcess({
      role: 'functions',
      ports,
      dataDir,
      args: ['--message-lease', String(LEASE_SECONDS)],
      env: {
        ...settingsFor(variants),
        AzureFunctionsJobHost__extensions__queues__maxPollingInterval: '00:00:00.5',
      },
    });
    hosts.push(host);
    await host.ready();
    return host;
  }

  async function switchVariants(variants: VariantSpec[]): Promise<void> {
    await functions.signal('SIGINT');
    functions = await startFunctions(variants);
  }

  /** The operator's command, with the stack's settings and the Azurite connection. */
  async function reprocess(variants: VariantSpec[], ...argv: string[]) {
    const lines: string[] = [];
    const env = {
      ...settingsFor(variants),
      [STORAGE_CONNECTION]: devStorageEndpoints('127.0.0.1', ports.blobPort, ports.queuePort)
        .connectionString,
    };
    const code = await runReprocessCommand([...argv, '--no-progress', '--timeout', '120'], env, {
      out: (l) => lines.push(l),
      err: (l) => lines.push(l),
    });
    const count = (label: string) =>
      Number(new RegExp(`^${label}: (\\d+)`, 'm').exec(lines.join('\n'))?.[1] ?? NaN);
    return { code, lines, count };
  }

  const upload = (name: string, bytes: Buffer): Promise<UploadRecord> =>
    uploadPatiently(
      { name, contentType: 'image/jpeg', bytes },
      { apiBaseUrl: `http://127.0.0.1:${ports.port}/api`, deadlineMs: 90_000 },
    );

  async function manifestOf(uploadId: string): Promise<Processed> {
    const manifest = (await readManifest(processedContainerOf(ports), uploadId))?.manifest;
    if (manifest?.status !== 'processed') throw new Error(`${uploadId}: ${manifest?.status}`);
    return manifest;
  }

  async function blobsIn(folder: string): Promise<string[]> {
    const names: string[] = [];
    for await (const blob of processedContainerOf(ports).listBlobsFlat({ prefix: `${folder}/` }))
      names.push(blob.name);
    return names;
  }

  /** Every output decodes at the size its manifest gives, for these variants, and nothing else is in its folder. */
  async function expectVariants(uploadId: string, variants: VariantSpec[]): Promise<Processed> {
    const manifest = await manifestOf(uploadId);
    expect(manifest.variantSet, uploadId).to.equal(variantSetHash(variants));
    expect(manifest.outputs.map((o) => o.name)).to.deep.equal(variants.map((v) => v.name));
    for (const [i, output] of manifest.outputs.entries()) {
      const bytes = await processedContainerOf(ports)
        .getBlobClient(output.blobName)
        .downloadToBuffer();
      const meta = await sharp(bytes).metadata();
      expect(meta.width, output.blobName).to.equal(
        Math.min(variants[i].width, manifest.original.width),
      );
      expect([meta.height, bytes.length, output.contentType]).to.deep.equal([
        output.height,
        output.size,
        `image/${variants[i].format}`,
      ]);
    }
    expect((await blobsIn(manifest.outputPrefix)).sort()).to.deep.equal(
      manifest.outputs.map((o) => o.blobName).sort(),
    );
    return manifest;
  }

  /** Per upload id, how many hosts logged reprocessing it. */
  function reprocessedLines(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const host of hosts)
      for (const match of host
        .output()
        .matchAll(/Upload ([0-9a-f-]{36}): reprocessed to variant set/g))
        counts.set(match[1], (counts.get(match[1]) ?? 0) + 1);
    return counts;
  }

  before(async () => {
    ports = await freeLocalModePorts();
    dataDir = await mkdtemp(join(tmpdir(), 'directdrop-reprocess-'));
    storage = startLocalModeProcess({ role: 'storage', ports, dataDir });
    await storage.ready();
    functions = await startFunctions();
    const photos = await Promise.all(
      Array.from({ length: UPLOADS }, (_, i) =>
        cameraNoise(1800 + i * 8, 1200)
          .jpeg({ quality: 85 })
          .toBuffer(),
      ),
    );
    const records = await Promise.all(photos.map((p, i) => upload(`photo-${i}.jpg`, p)));
    expect(records.map((r) => r.outcome ?? r.problem)).to.deep.equal(
      Array(UPLOADS).fill('processed'),
    );
    ids = records.map((r) => r.uploadId as string);
  });

  after(async () => {
    await functions?.signal('SIGINT');
    await storage?.signal('SIGINT');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('a dry run counts and estimates without enqueueing; a run switches the selected uploads once; a second run is a no-op', async () => {
    await switchVariants(SECOND);
    const selected = ids.slice(0, 3);
    const old = await Promise.all(selected.map(manifestOf));
    const processing = new InvocationCounter('processUploadEvent');
    functions.onLine((line) => processing.observe(line));

    const dry = await reprocess(SECOND, '--ids', selected.join(','), '--dry-run');
    expect(dry.code).to.equal(EXIT.ok);
    expect(dry.count('to reprocess')).to.equal(3);
    expect(dry.lines.join('\n')).to.match(
      /estimated cost \(an estimate[^)]*\): ~[\d.]+ s busy, ~\$[\d.]+/,
    );
    expect(await manifestOf(selected[0])).to.deep.equal(old[0]);

    const run = await reprocess(SECOND, '--ids', selected.join(','));
    expect(run.code, run.lines.join('\n')).to.equal(EXIT.ok);
    expect([run.count('processed'), run.count('skipped'), run.count('failed')]).to.deep.equal([
      3, 0, 0,
    ]);
    for (const [i, uploadId] of selected.entries()) {
      await expectVariants(uploadId, SECOND);
      expect(await blobsIn(old[i].outputPrefix), 'old outputs').to.deep.equal([]);
    }
    // The others were not selected and keep their variants.
    expect((await manifestOf(ids[3])).variantSet).to.equal(old[0].variantSet);

    const again = await reprocess(SECOND, '--ids', selected.join(','));
    expect(again.code).to.equal(EXIT.ok);
    expect(again.count('to reprocess')).to.equal(0);
    expect(again.count('skipped \\(current\\)')).to.equal(3);
    expect([...reprocessedLines().values()]).to.deep.equal([1, 1, 1]);
    // Reprocessing wrote only where no Event Grid subscription looks: nothing was processed.
    expect(processing.starts).to.have.length(0);
  });

  it('SIGKILL of the processing host mid-run: the restarted host finishes, and every upload is reprocessed once', async () => {
    const remaining = ids.slice(3);
    const old = await Promise.all(remaining.map(manifestOf));
    const killedHost = functions;
    const counter = new InvocationCounter('reprocessUpload');
    let done = 0;
    const killed = new Promise<void>((resolve) => {
      killedHost.onLine((line) => {
        counter.observe(line);
        if (line.includes('reprocessed to variant set')) done += 1;
        if (done >= 2 && counter.now > 0 && killedHost.child.exitCode === null) {
          killedHost.child.kill('SIGKILL');
          resolve();
        }
      });
    });
    const run = reprocess(SECOND, '--all');
    await killed;
    await killedHost.exited;
    expect(killedHost.child.signalCode).to.equal('SIGKILL');
    functions = await startFunctions(SECOND);
    const result = await run;

    expect(result.code, result.lines.join('\n')).to.equal(EXIT.ok);
    expect(result.count('to reprocess')).to.equal(remaining.length);
    expect(result.count('skipped \\(current\\)')).to.equal(3);
    expect(result.count('processed')).to.equal(remaining.length);
    for (const [i, uploadId] of remaining.entries()) {
      await expectVariants(uploadId, SECOND);
      expect(await blobsIn(old[i].outputPrefix), 'old outputs').to.deep.equal([]);
    }
    // At most once per upload: a host killed between the switch and its log line logs nothing.
    const lines = reprocessedLines();
    expect(ids.filter((id) => (lines.get(id) ?? 0) > 1)).to.deep.equal([]);
    expect(functions.output()).to.match(/DequeueCount=2/);
  });

  it('live uploads keep their pace while a backlog is reprocessed', async () => {
    await switchVariants(THIRD);
    const livePhoto = await cameraNoise(640, 480).jpeg().toBuffer();
    const latency = (r: UploadRecord) =>
      ((r.settledAt as number) - (r.committedAt as number)) / 1000;
    const liveUploads = (tag: string) =>
      Promise.all([0, 1, 2].map((i) => upload(`${tag}-${i}.jpg`, livePhoto)));
    const idle = await liveUploads('idle');
    const reprocessCounter = new InvocationCounter('reprocessUpload');
    const finished: number[] = [];
    // Reprocessings doing work (past the limiter), and how many at most at once.
    let working = 0;
    let peakWorking = 0;
    let reprocessingWhenLiveStarted = 0;
    functions.onLine((line) => {
      reprocessCounter.observe(line);
      if (line.includes('reprocessing to variant set'))
        peakWorking = Math.max(peakWorking, ++working);
      if (line.includes('reprocessed to variant set')) {
        working -= 1;
        finished.push(performance.now());
      }
      if (line.includes("Executing 'processUploadEvent'") && working > 0)
        reprocessingWhenLiveStarted += 1;
    });
    const run = reprocess(THIRD, '--all');
    while (reprocessCounter.starts.length === 0) await new Promise((r) => setTimeout(r, 20));
    const live = await liveUploads('live');
    const liveDoneAt = Math.max(...live.map((r) => r.settledAt as number));
    const result = await run;
    expect(result.code, result.lines.join('\n')).to.equal(EXIT.ok);
    expect(result.count('processed')).to.equal(UPLOADS);
    expect(live.map((r) => r.outcome)).to.deep.equal(['processed', 'processed', 'processed']);
    const seconds = (records: UploadRecord[]) =>
      records.map((r) => latency(r).toFixed(2)).join(', ');
    const backlogSeconds = (Math.max(...finished) - reprocessCounter.starts[0].at) / 1000;
    console.log(
      `      live latency commit → outcome: idle ${seconds(idle)} s; while reprocessing ${seconds(live)} s; backlog of ${UPLOADS} took ${backlogSeconds.toFixed(1)} s`,
    );
    // The reprocess cap held (reprocessConcurrency 1) while live uploads ran beside it, not after.
    expect(peakWorking, 'reprocessings at once').to.equal(1);
    expect(
      reprocessingWhenLiveStarted,
      'live uploads started during a reprocessing',
    ).to.be.at.least(1);
    // And they did not queue behind the backlog: it was still going when they had all ended.
    const reprocessedBeforeLive = finished.filter((t) => t <= liveDoneAt).length;
    expect(reprocessedBeforeLive, 'backlog items done before the live uploads ended').to.be.below(
      UPLOADS,
    );
    for (const uploadId of ids) await expectVariants(uploadId, THIRD);
  });
});
