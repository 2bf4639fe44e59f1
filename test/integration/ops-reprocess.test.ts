import { expect } from 'chai';
import type { ContainerClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { writeManifest } from '../../functions/adapters/manifest-store';
import { STORAGE_CONNECTION } from '../../functions/core/definitions';
import type { UploadManifest } from '../../functions/core/manifest';
import { parseReprocessWorkItem, variantSetHash } from '../../functions/core/reprocess';
import { DEFAULT_SETTINGS, SETTING_KEYS, parseSettings } from '../../functions/core/settings';
import { decodeBase64Message } from '../../local/queue-listener';
import { type AzuriteSandbox, startAzuriteSandbox } from '../../local/azurite-sandbox';
import {
  type ReprocessClients,
  ReprocessRefusedError,
  enqueueReprocess,
  estimateCost,
  planReprocess,
  waitForReprocess,
} from '../../ops/reprocess';
import { EXIT, runReprocessCommand } from '../../ops/reprocess-command';

const keeping = parseSettings({ [SETTING_KEYS.keepOriginals]: 'true' });
const current = variantSetHash(keeping.variants);

describe('ops reprocess: selection, estimate and enqueueing (against Azurite)', function () {
  this.timeout(60_000);
  let fixture: AzuriteSandbox;
  let clients: ReprocessClients;
  let processed: ContainerClient;
  const ids: Record<string, string> = {};

  async function put(label: string, manifest: Partial<UploadManifest> & Record<string, unknown>) {
    const uploadId = crypto.randomUUID();
    ids[label] = uploadId;
    const base = {
      version: 1,
      uploadId,
      owner: 'o'.repeat(32),
      source: { blobName: `${uploadId}/1/a.jpg`, eTag: '"e"', sequencer: '1' },
      status: 'processed',
      outputPrefix: 'f'.repeat(32),
      outputs: [],
      original: { format: 'image/jpeg', width: 4000, height: 3000 },
      originalBlobName: `${uploadId}/x/a.jpg`,
      completedAt: '2026-06-01T00:00:00.000Z',
    };
    await writeManifest(processed, { ...base, ...manifest, uploadId } as UploadManifest, undefined);
  }

  before(async () => {
    fixture = await startAzuriteSandbox();
    const queues = QueueServiceClient.fromConnectionString(fixture.env[STORAGE_CONNECTION]);
    processed = fixture.service.getContainerClient(keeping.processedContainer);
    clients = { processed, reprocessQueue: queues.getQueueClient(keeping.reprocessQueue) };
    await clients.reprocessQueue.createIfNotExists();
    await put('old', {});
    await put('heic', { original: { format: 'image/heic', width: 4000, height: 3000 } });
    await put('recent', { completedAt: '2026-11-20T00:00:00.000Z' });
    await put('current', { variantSet: current });
    await put('noOriginal', { originalBlobName: undefined });
    await put('rejected', { status: 'rejected', reason: 'corrupt', message: 'bad' });
    // An output blob in the listing must not be taken for an upload.
    await processed.getBlockBlobClient(`${'a'.repeat(32)}/thumb.webp`).uploadData(Buffer.from('x'));
  });
  after(() => fixture.stop());

  it('refuses on a stack that keeps no originals, naming the setting', async () => {
    const attempt = planReprocess(clients, DEFAULT_SETTINGS, { kind: 'all' });
    const error = await attempt.catch((e: unknown) => e);
    expect(error).to.be.instanceOf(ReprocessRefusedError);
    expect((error as Error).message).to.contain('DIRECTDROP_KEEP_ORIGINALS');
  });

  it('selects all, since a date, or ids, says why each other upload is skipped, and stops at --max', async () => {
    const all = await planReprocess(clients, keeping, { kind: 'all' });
    expect(all.variantSet).to.equal(current);
    expect(all.toReprocess.map((u) => u.uploadId)).to.have.members([ids.old, ids.heic, ids.recent]);
    expect(all.skipped).to.have.deep.members([
      { uploadId: ids.current, reason: 'current' },
      { uploadId: ids.noOriginal, reason: 'no-original' },
      { uploadId: ids.rejected, reason: 'not-processed' },
    ]);

    const since = await planReprocess(clients, keeping, {
      kind: 'since',
      since: new Date('2026-11-01T00:00:00Z'),
    });
    expect(since.toReprocess.map((u) => u.uploadId)).to.deep.equal([ids.recent]);

    const unknown = crypto.randomUUID();
    const listed = await planReprocess(clients, keeping, {
      kind: 'ids',
      ids: [ids.old.toUpperCase(), unknown, 'nope', ids.current],
    });
    expect(listed.toReprocess.map((u) => u.uploadId)).to.deep.equal([ids.old]);
    expect(listed.skipped).to.deep.equal([
      { uploadId: unknown, reason: 'unknown-upload' },
      { uploadId: 'nope', reason: 'not-an-upload-id' },
      { uploadId: ids.current, reason: 'current' },
    ]);

    expect((await planReprocess(clients, keeping, { kind: 'all' }, 2)).toReprocess).to.have.length(
      2,
    );
  });

  it('estimates compute from megapixels, HEIC at six times JPEG', async () => {
    const plan = await planReprocess(clients, keeping, { kind: 'ids', ids: [ids.old] });
    const heic = await planReprocess(clients, keeping, { kind: 'ids', ids: [ids.heic] });
    const jpeg = estimateCost(plan);
    expect(jpeg.uploads).to.equal(1);
    // 12 MP at the handler's benchmarked 271 ms per 12 MP JPEG.
    expect(jpeg.busySeconds).to.be.closeTo(0.271, 0.001);
    expect(jpeg.usd).to.be.greaterThan(0);
    expect(estimateCost(heic).busySeconds).to.be.closeTo(6 * 0.271, 0.001);
    expect(estimateCost({ ...plan, toReprocess: [] })).to.deep.equal({
      uploads: 0,
      busySeconds: 0,
      usd: 0,
    });
  });

  it('enqueues Base64 work items the worker accepts, at most `rate` visible per minute', async () => {
    await clients.reprocessQueue.clearMessages();
    const plan = {
      variantSet: current,
      run: '0123456789abcdef',
      toReprocess: Array.from({ length: 5 }, () => ({
        uploadId: crypto.randomUUID(),
        megapixels: 1,
        format: 'image/jpeg',
      })),
      skipped: [],
    };
    const counts: number[] = [];
    await enqueueReprocess(clients, plan, { ratePerMinute: 2, onEnqueued: (n) => counts.push(n) });
    expect(counts).to.deep.equal([1, 2, 3, 4, 5]);
    const visible = (await clients.reprocessQueue.peekMessages({ numberOfMessages: 32 }))
      .peekedMessageItems;
    expect(visible).to.have.length(2);
    const items = visible.map((m) =>
      parseReprocessWorkItem(JSON.parse(decodeBase64Message(m.messageText) ?? '')),
    );
    expect(items).to.deep.equal(
      plan.toReprocess
        .slice(0, 2)
        .map((u) => ({ uploadId: u.uploadId, variantSet: current, run: plan.run })),
    );
    expect((await clients.reprocessQueue.getProperties()).approximateMessagesCount).to.equal(5);

    const tooSlow = { ...plan, toReprocess: Array(20_163).fill(plan.toReprocess[0]) };
    const refused = await enqueueReprocess(clients, tooSlow, { ratePerMinute: 2 }).catch(
      (e: unknown) => e,
    );
    expect((refused as Error).message).to.contain('seven-day limit');
    await clients.reprocessQueue.clearMessages();
  });

  it('waits for this run only: its failures count, an earlier run’s are still to do', async () => {
    const run = '1111111111111111';
    const failure = { variantSet: current, reason: 'corrupt', message: 'x' };
    await put('failedNow', { reprocessFailure: { ...failure, run } });
    await put('failedBefore', { reprocessFailure: { ...failure, run: '2222222222222222' } });
    const plan = {
      variantSet: current,
      run,
      toReprocess: [ids.failedNow, ids.failedBefore, ids.current, ids.rejected].map((uploadId) => ({
        uploadId,
        megapixels: 1,
        format: 'image/jpeg',
      })),
      skipped: [],
    };
    const progress: number[] = [];
    const report = await waitForReprocess(clients, plan, {
      timeoutMs: 300,
      pollMs: 100,
      onProgress: (n) => progress.push(n),
    });
    expect(report).to.deep.equal({
      processed: [ids.current],
      failed: [
        { uploadId: ids.failedNow, reason: 'corrupt' },
        { uploadId: ids.rejected, reason: 'not-processed' },
      ],
      unfinished: [ids.failedBefore],
    });
    expect(progress[progress.length - 1]).to.equal(3);
    for (const label of ['failedNow', 'failedBefore'])
      await processed.deleteBlob(`${ids[label]}/manifest.json`);
  });

  it('the command refuses a bad selection (exit 2) and a stack without originals (exit 3), and a dry run enqueues nothing', async () => {
    const env = { ...fixture.env, [SETTING_KEYS.keepOriginals]: 'true' };
    const lines: string[] = [];
    const errors: string[] = [];
    const quiet = { out: (l: string) => lines.push(l), err: (l: string) => errors.push(l) };
    expect(await runReprocessCommand(['--all', '--ids', ids.old], env, quiet, clients)).to.equal(
      EXIT.usage,
    );
    expect(await runReprocessCommand([], env, quiet, clients)).to.equal(EXIT.usage);
    expect(await runReprocessCommand(['--since', 'yesterday-ish'], env, quiet, clients)).to.equal(
      EXIT.usage,
    );
    expect(await runReprocessCommand(['--all'], fixture.env, quiet, clients)).to.equal(
      EXIT.refused,
    );
    expect(await runReprocessCommand(['--all', '--dry-run'], env, quiet, clients)).to.equal(
      EXIT.ok,
    );
    expect(lines).to.include.members([
      'to reprocess: 3',
      'skipped (current): 1',
      'skipped (no-original): 1',
    ]);
    expect((await clients.reprocessQueue.getProperties()).approximateMessagesCount).to.equal(0);
  });
});
