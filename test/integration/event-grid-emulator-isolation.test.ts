import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContainerSASPermissions, type ContainerClient } from '@azure/storage-blob';
import type { QueueClient } from '@azure/storage-queue';
import { expect } from 'chai';
import { TOMBSTONE_CONTENT_TYPE } from '../../functions/core/definitions';
import { DEV_ACCOUNT_NAME } from '../../local/azurite';
import {
  type BlobRetryPolicy,
  type EventGridEmulator,
  startEventGridEmulator,
} from '../../local/event-grid-emulator';
import type { BlobCreatedEvent } from '../../local/event-grid-event';
import type { Logger } from '../../local/log';
import {
  type MalwareScanningResultEvent,
  localScanResultsTopic,
} from '../../local/malware-scan-event';
import { createLocalMalwareScanner } from '../../local/malware-scanner';
import {
  type LocalAzurite,
  decodeBase64Json,
  eventually,
  peekAll,
  startLocalAzurite,
} from './local-fixtures';

type QueuedEvent = BlobCreatedEvent | MalwareScanningResultEvent;

/** Issue 20: one caller's unreadable blobs must not hold up anyone else's upload. */
describe('event-grid-emulator: a failing blob stalls nobody (real Azurite)', function () {
  this.timeout(60_000);
  let storage: LocalAzurite;
  let queue: QueueClient;
  let emulator: EventGridEmulator | undefined;
  const logged: string[] = [];
  const log: Logger = {
    info: () => undefined,
    warn: (...args) => logged.push(args.join(' ')),
    error: (...args) => logged.push(args.join(' ')),
  };
  const scanner = createLocalMalwareScanner({ kind: 'none', reason: 'not used here' }, log);
  const topic = localScanResultsTopic(DEV_ACCOUNT_NAME);

  let run = 0;
  async function freshContainer(): Promise<ContainerClient> {
    run++;
    const container = storage.blobService.getContainerClient(`zone-${run}`);
    await container.create();
    queue = storage.queueService.getQueueClient(`isolation-${run}`);
    await queue.create();
    return container;
  }

  const start = (container: ContainerClient, blobRetry?: BlobRetryPolicy) =>
    startEventGridEmulator({
      container,
      queue,
      accountName: DEV_ACCOUNT_NAME,
      statePath: join(storage.dir, `isolation-${run}.json`),
      malwareScanning: { scanner, topic },
      blobRetry,
      log,
    }).then((running) => (emulator = running));

  async function queued(): Promise<QueuedEvent[]> {
    return (await peekAll(queue)).map((m) => decodeBase64Json(m.messageText) as QueuedEvent);
  }
  const names = (events: QueuedEvent[], type: string) =>
    events
      .filter((e) => e.eventType === type)
      .map((e) => e.subject.split('/blobs/').pop() as string)
      .sort();

  /**
   * A zone device PUTs `..%2F..%2Fx.jpg`: Azurite stores `../../x.jpg`, a name the storage
   * SDK cannot address (its URL normalises the dots away), so every read of it fails.
   */
  async function putTraversalName(container: ContainerClient, index: number): Promise<void> {
    const sas = new URL(
      await container.generateSasUrl({
        permissions: ContainerSASPermissions.parse('c'),
        expiresOn: new Date(Date.now() + 3_600_000),
      }),
    );
    const response = await fetch(
      `${sas.origin}${sas.pathname}/..%2F..%2Fx-${index}.jpg${sas.search}`,
      { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob' }, body: 'abc' },
    );
    expect(response.status).to.equal(201);
  }

  /** Four Archive-tier uploads the scanner cannot download, four unaddressable names. */
  async function eightFailingBlobs(container: ContainerClient): Promise<void> {
    for (let i = 0; i < 4; i++) {
      await container.getBlockBlobClient(`mallory/archived-${i}.jpg`).upload('xyz', 3, {
        tier: 'Archive',
      });
      await putTraversalName(container, i);
    }
  }

  before(async () => {
    storage = await startLocalAzurite();
  });
  after(() => storage.stop());
  afterEach(async () => {
    await emulator?.stop();
    emulator = undefined;
    logged.length = 0;
  });

  it('delivers a good upload beside eight failing blobs within its usual time, and retries those with backoff', async () => {
    const container = await freshContainer();
    await start(container);
    await eightFailingBlobs(container);
    // Let the failures happen first, as they did in the report.
    await eventually(
      () => logged.filter((l) => l.includes('retrying this blob')).length >= 8,
      5_000,
    );

    await container.getBlockBlobClient('alice/photo.jpg').upload('photo', 5);
    const committed = Date.now();
    const arrived = await eventually(
      async () =>
        names(await queued(), 'Microsoft.Storage.BlobCreated').includes('alice/photo.jpg') &&
        names(await queued(), 'Microsoft.Security.MalwareScanningResult').includes(
          'alice/photo.jpg',
        ),
      5_000,
      5,
    );
    const latency = Date.now() - committed;
    console.log(`      good upload beside 8 failing blobs: event and verdict after ${latency} ms`);
    expect(arrived).to.equal(true);
    expect(latency).to.be.lessThan(1_000);

    await sleep(2_500);
    const events = await queued();
    // The archived blobs' BlobCreated went out once each: a retry redoes only the scan.
    expect(names(events, 'Microsoft.Storage.BlobCreated')).to.deep.equal([
      'alice/photo.jpg',
      ...[0, 1, 2, 3].map((i) => `mallory/archived-${i}.jpg`),
    ]);
    // Backoff, not every 100 ms poll: 1 s then 2 s, so at most three attempts each by now.
    const retries = logged.filter((l) => l.includes('retrying this blob'));
    expect(retries.length)
      .to.be.at.least(8)
      .and.at.most(8 * 3);
    expect(retries.join('\n')).to.not.include('alice/photo.jpg');
  });

  it('gives a failing blob up after its bounded attempts: an Error verdict for what could not be scanned, logged', async () => {
    const container = await freshContainer();
    await start(container, { attempts: 3, backoffMs: 50, maxBackoffMs: 100 });
    await container
      .getBlockBlobClient('mallory/archived.jpg')
      .upload('xyz', 3, { tier: 'Archive' });
    await putTraversalName(container, 9);
    expect(
      await eventually(() => logged.filter((l) => l.includes('gave up on')).length >= 2, 10_000),
    ).to.equal(true);
    await sleep(500);
    const events = await queued();
    expect(names(events, 'Microsoft.Storage.BlobCreated')).to.deep.equal(['mallory/archived.jpg']);
    const verdicts = events.filter(
      (e): e is MalwareScanningResultEvent =>
        e.eventType === 'Microsoft.Security.MalwareScanningResult',
    );
    expect(verdicts).to.have.length(1);
    expect(verdicts[0].data.scanResultType).to.equal('Error');
    expect(verdicts[0].data.scanResultDetails.notScannedReason).to.include('BlobArchived');
    const gaveUp = logged.filter((l) => l.includes('gave up on'));
    expect(gaveUp.join('\n')).to.include('after 3 attempts');
    // Given up means recorded: nothing more is tried.
    const attemptsSoFar = logged.length;
    await sleep(500);
    expect(logged.length).to.equal(attemptsSoFar);
  });

  it("drops tombstones, as the subscription's StringNotIn filter on data.contentType does", async () => {
    const container = await freshContainer();
    await start(container);
    await container.getBlockBlobClient('alice/done.jpg').upload('', 0, {
      blobHTTPHeaders: { blobContentType: TOMBSTONE_CONTENT_TYPE },
    });
    await container.getBlockBlobClient('alice/next.jpg').upload('x', 1);
    await eventually(
      async () => names(await queued(), 'Microsoft.Storage.BlobCreated').length >= 1,
      5_000,
    );
    await sleep(500);
    expect(names(await queued(), 'Microsoft.Storage.BlobCreated')).to.deep.equal([
      'alice/next.jpg',
    ]);
  });
});
