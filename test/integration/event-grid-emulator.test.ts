import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BlobSASPermissions, type ContainerClient } from '@azure/storage-blob';
import type { QueueClient } from '@azure/storage-queue';
import { expect } from 'chai';
import { DEV_ACCOUNT_NAME } from '../../local/azurite';
import { type EventGridEmulator, startEventGridEmulator } from '../../local/event-grid-emulator';
import { type BlobCreatedEvent, buildBlobCreatedEvent } from '../../local/event-grid-event';
import type { Logger } from '../../local/log';
import {
  type LocalAzurite,
  decodeBase64Json,
  eventually,
  peekAll,
  startLocalAzurite,
} from './local-fixtures';

const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
/** Long enough for several emulator polls: anything still to come would have arrived. */
const SETTLE_MS = 500;

describe('event-grid-emulator (real Azurite)', function () {
  this.timeout(30_000);
  let storage: LocalAzurite;
  let landing: ContainerClient;
  let other: ContainerClient;
  let queue: QueueClient;
  let emulator: EventGridEmulator | undefined;
  let statePath: string;

  const start = async (duplicateFraction?: number) => {
    emulator = await startEventGridEmulator({
      container: landing,
      queue,
      accountName: DEV_ACCOUNT_NAME,
      statePath,
      duplicateFraction,
      log: silent,
    });
    return emulator;
  };

  /** Waits for `count` messages, lets the emulator run a little longer, and returns them all. */
  async function messages(count: number): Promise<BlobCreatedEvent[]> {
    await eventually(async () => (await peekAll(queue)).length >= count, 5_000);
    await sleep(SETTLE_MS);
    return (await peekAll(queue)).map((m) => decodeBase64Json(m.messageText) as BlobCreatedEvent);
  }

  before(async () => {
    storage = await startLocalAzurite();
    landing = storage.blobService.getContainerClient('uploads');
    other = storage.blobService.getContainerClient('processed');
    await Promise.all([landing.create(), other.create()]);
  });
  after(() => storage.stop());

  let run = 0;
  beforeEach(async () => {
    // A fresh queue and record per test; blobs from earlier tests stay, as they would.
    run++;
    queue = storage.queueService.getQueueClient(`events-${run}`);
    await queue.create();
    statePath = join(storage.dir, `emulator-${run}.json`);
    for await (const blob of landing.listBlobsFlat())
      await landing.deleteBlob(blob.name, { deleteSnapshots: 'include' });
  });
  afterEach(async () => {
    await emulator?.stop();
    emulator = undefined;
  });

  it('enqueues one Base64 EventGridSchema message per single-PUT blob, exactly as built', async () => {
    await start();
    const blob = landing.getBlockBlobClient('a1b2/photo.jpg');
    const body = Buffer.from('not really a jpeg');
    await blob.upload(body, body.length, { blobHTTPHeaders: { blobContentType: 'image/jpeg' } });
    const properties = await blob.getProperties();

    const [peeked, ...rest] = await eventually(
      async () => (await peekAll(queue)).length > 0,
      5_000,
    ).then(() => peekAll(queue));
    expect(rest).to.have.length(0);
    const text = Buffer.from(peeked.messageText, 'base64').toString('utf8');
    const event = JSON.parse(text) as BlobCreatedEvent;
    // Rebuild from what storage reports; only the emission time and counter are the emulator's own.
    const expected = buildBlobCreatedEvent({
      accountName: DEV_ACCOUNT_NAME,
      containerName: 'uploads',
      blobName: 'a1b2/photo.jpg',
      url: blob.url,
      api: 'PutBlob',
      eTag: properties.etag as string,
      contentType: 'image/jpeg',
      contentLength: body.length,
      blobType: 'BlockBlob',
      sequence: BigInt(`0x${event.data.sequencer}`),
      eventTime: new Date(event.eventTime),
    });
    expect(text).to.equal(JSON.stringify(expected));
    expect(event.data.eTag).to.equal(properties.etag);
    expect(event.data.sequencer).to.match(/^[0-9A-F]{32}$/);
    expect(Date.now() - Date.parse(event.eventTime)).to.be.lessThan(5_000);
    await sleep(SETTLE_MS);
    expect(await peekAll(queue)).to.have.length(1);
  });

  it('delivers the asked fraction of events twice, each duplicate identical to its original', async () => {
    const running = await start(0.25);
    for (let i = 0; i < 8; i++) {
      await landing.getBlockBlobClient(`a1b2/dup-${i}.jpg`).upload('x', 1);
    }
    const events = await messages(10);
    expect(events).to.have.length(10);
    expect(running.delivered).to.equal(8);
    expect(running.duplicated).to.equal(2);
    const byId = new Map<string, string[]>();
    for (const event of events) {
      byId.set(event.id, [...(byId.get(event.id) ?? []), JSON.stringify(event)]);
    }
    const twice = [...byId.values()].filter((copies) => copies.length === 2);
    expect(byId.size).to.equal(8);
    expect(twice).to.have.length(2);
    for (const [original, duplicate] of twice) expect(duplicate).to.equal(original);
  });

  it('reports block-list commits as PutBlockList and ignores uncommitted blocks', async () => {
    await start();
    const blob = landing.getBlockBlobClient('a1b2/blocks.jpg');
    const ids = ['block-1', 'block-2'].map((id) => Buffer.from(id).toString('base64'));
    await blob.stageBlock(ids[0], Buffer.from('aa'), 2);
    await blob.stageBlock(ids[1], Buffer.from('bb'), 2);
    await sleep(SETTLE_MS);
    expect(await peekAll(queue), 'staged blocks are not a blob yet').to.have.length(0);
    await blob.commitBlockList(ids, { blobHTTPHeaders: { blobContentType: 'image/png' } });
    const [event, ...rest] = await messages(1);
    expect(rest).to.have.length(0);
    expect(event.data).to.include({
      api: 'PutBlockList',
      contentLength: 4,
      contentType: 'image/png',
    });
  });

  it('reports copies as CopyBlob', async () => {
    const source = other.getBlockBlobClient('source.jpg');
    await source.upload('xyz', 3);
    await start();
    const sas = await source.generateSasUrl({
      permissions: BlobSASPermissions.parse('r'),
      expiresOn: new Date(Date.now() + 60_000),
    });
    await landing.getBlockBlobClient('a1b2/copy.jpg').syncCopyFromURL(sas);
    const [event, ...rest] = await messages(1);
    expect(rest).to.have.length(0);
    expect(event.data.api).to.equal('CopyBlob');
    expect(event.subject).to.equal('/blobServices/default/containers/uploads/blobs/a1b2/copy.jpg');
  });

  it('reports the creation of a page blob as PutBlob of a PageBlob, and neither its page writes nor snapshots nor append blobs', async () => {
    await start();
    const page = landing.getPageBlobClient('a1b2/page.jpg');
    await page.create(2 ** 40);
    const [created, ...none] = await messages(1);
    expect(none).to.have.length(0);
    expect(created.data).to.deep.include({
      api: 'PutBlob',
      blobType: 'PageBlob',
      contentLength: 2 ** 40,
    });
    // Azurite's times have one-second resolution, and the emulator counts a same-second
    // change as a commit (a duplicate beats a loss): write the pages in a later second.
    await sleep(1_100);
    await page.uploadPages(Buffer.alloc(512, 1), 0, 512);
    await landing.getBlockBlobClient('a1b2/plain.jpg').upload('abc', 3);
    await landing.getBlobClient('a1b2/plain.jpg').createSnapshot();
    await landing.getAppendBlobClient('a1b2/append.jpg').create();
    const all = await messages(2);
    expect(all.map((e) => e.subject.split('/').pop())).to.deep.equal(['page.jpg', 'plain.jpg']);
  });

  it('watches only the landing container', async () => {
    await start();
    await other.getBlockBlobClient('elsewhere.jpg').upload('x', 1);
    await landing.getBlockBlobClient('a1b2/here.jpg').upload('x', 1);
    const events = await messages(1);
    expect(events.map((e) => e.subject)).to.deep.equal([
      '/blobServices/default/containers/uploads/blobs/a1b2/here.jpg',
    ]);
  });

  it('emits again for an overwrite, with a later sequencer, but not for metadata changes', async () => {
    await start();
    const blob = landing.getBlockBlobClient('a1b2/again.jpg');
    await blob.upload('one', 3);
    await messages(1);
    // Azurite stamps times to the second; a metadata change a second later is distinguishable.
    await sleep(1_100);
    await blob.setMetadata({ reviewed: 'yes' });
    await sleep(SETTLE_MS);
    expect(await peekAll(queue), 'a metadata change is not BlobCreated').to.have.length(1);
    await blob.upload('two!', 4);
    const [first, second, ...rest] = await messages(2);
    expect(rest).to.have.length(0);
    expect(second.data.contentLength).to.equal(4);
    expect(second.data.eTag).to.not.equal(first.data.eTag);
    expect(second.id).to.not.equal(first.id);
    expect(second.data.sequencer > first.data.sequencer).to.equal(true);
  });

  it('after a restart, delivers blobs committed while down and repeats none', async () => {
    await start();
    await landing.getBlockBlobClient('a1b2/before.jpg').upload('x', 1);
    const [before] = await messages(1);
    await emulator?.stop();
    emulator = undefined;

    await landing.getBlockBlobClient('a1b2/while-down-1.jpg').upload('x', 1);
    await landing.getBlockBlobClient('a1b2/while-down-2.jpg').upload('x', 1);
    await sleep(SETTLE_MS);
    expect(await peekAll(queue)).to.have.length(1);

    await start();
    const events = await messages(3);
    expect(events).to.have.length(3);
    expect(events.map((e) => e.subject.split('/').pop()).sort()).to.deep.equal([
      'before.jpg',
      'while-down-1.jpg',
      'while-down-2.jpg',
    ]);
    for (const later of events.slice(1)) {
      expect(later.data.sequencer > before.data.sequencer).to.equal(true);
    }
  });

  it('records a blob only once its message is enqueued (at-least-once)', async () => {
    await queue.delete();
    await start();
    await landing.getBlockBlobClient('a1b2/undeliverable.jpg').upload('x', 1);
    await sleep(SETTLE_MS);
    await queue.create();
    const events = await messages(1);
    expect(events.map((e) => e.subject.split('/').pop())).to.deep.equal(['undeliverable.jpg']);
  });

  it('enqueues well under a second after the commit', async () => {
    await start();
    const latencies: number[] = [];
    for (let i = 0; i < 10; i++) {
      const before = (await peekAll(queue)).length;
      await landing.getBlockBlobClient(`a1b2/latency-${i}.jpg`).upload('x', 1);
      const committed = Date.now();
      const arrived = await eventually(
        async () => (await peekAll(queue)).length > before,
        5_000,
        5,
      );
      expect(arrived).to.equal(true);
      latencies.push(Date.now() - committed);
    }
    latencies.sort((a, b) => a - b);
    const median = latencies[5];
    const worst = latencies[9];
    console.log(`      commit → enqueue: median ${median} ms, worst ${worst} ms`);
    expect(worst).to.be.lessThan(1_000);
  });
});
