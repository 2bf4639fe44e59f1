/**
 * Quotas against Azurite's real Table service (the upload table): exact under concurrency
 * (ETag optimistic concurrency in entity-group transactions, the global cap leased in
 * blocks), few round trips on the request path, and outstanding slots released by every
 * outcome the worker records.
 */
import { expect } from 'chai';
import { apiContract } from '../helpers/openapi';
import { type Runtime, createRuntime } from '../../functions/adapters/runtime';
import { TableUploadStore } from '../../functions/adapters/upload-table';
import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { functionKeyOwner, ownerHash } from '../../functions/core/auth';
import type { UploadRecord } from '../../functions/core/upload-record';
import { heldSlots, parseCallerState } from '../../functions/core/quota';
import { SETTING_KEYS } from '../../functions/core/settings';
import { createUploadHandler } from '../../functions/handlers/create-upload';
import { processUploadEventHandler } from '../../functions/handlers/process-upload';
import { recordPoisonedEventHandler } from '../../functions/handlers/record-poisoned-event';
import { type AzuriteSandbox, startAzuriteSandbox } from '../../local/azurite-sandbox';
import { blobCreatedEvent } from '../helpers/events';
import { bodyOf, invocationContext, postJson } from '../helpers/functions';
import { sidewaysPhotoWithGps } from '../helpers/images';

describe('quota-store (against Azurite tables)', function () {
  this.timeout(60_000);
  let storage: AzuriteSandbox;
  before(async () => {
    storage = await startAzuriteSandbox();
  });
  after(() => storage.stop());

  const runtimeWith = (quotas: Record<string, string>) =>
    createRuntime({ ...storage.env, [SETTING_KEYS.uploadTable]: 'directdropuploads', ...quotas });
  const issue = (runtime: Runtime, size = 1000) =>
    createUploadHandler(() => runtime)(
      postJson(JSON.stringify({ fileName: 'a.jpg', contentType: 'image/jpeg', size })),
      invocationContext('createUpload'),
    );

  async function resetTable() {
    // Each test starts from no counters: a fresh table name would need provisioning, so clear rows.
    const table = TableClient.fromConnectionString(
      storage.azurite.connectionString,
      'directdropuploads',
      { allowInsecureConnection: true },
    );
    for await (const entity of table.listEntities())
      await table
        .deleteEntity(entity.partitionKey as string, entity.rowKey as string)
        .catch((error: { statusCode?: number }) => {
          if (error.statusCode !== 404) throw error;
        });
  }
  beforeEach(resetTable);

  /** Instances share the table but nothing else: their writes meet only at the ETag check. */
  const instances = (count: number, quotas: Record<string, string>) =>
    Array.from({ length: count }, () => runtimeWith(quotas));

  it('64 concurrent requests from one caller over 4 instances get exactly the burst of 201s; the rest 429 with Retry-After', async () => {
    const runtimes = instances(4, {
      [SETTING_KEYS.quotaUrlBurst]: '10',
      [SETTING_KEYS.quotaUrlsPerMinute]: '1',
    });
    const responses = await Promise.all(
      Array.from({ length: 64 }, (_, i) => issue(runtimes[i % runtimes.length])),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).to.have.length(10);
    expect(statuses.filter((s) => s === 429)).to.have.length(54);
    const refused = responses.find((r) => r.status === 429);
    const error = bodyOf(refused!).error as Record<string, unknown>;
    expect(error).to.include({ code: 'quota-exceeded', limit: 'urls-per-minute', max: 1 });
    expect(Date.parse(error.resetsAt as string)).to.be.above(Date.now());
    expect(Number((refused!.headers as Record<string, string>)['Retry-After'])).to.be.within(1, 60);
    const accepted = responses.find((r) => r.status === 201)!;
    expect(accepted.headers).to.include({ 'RateLimit-Limit': '10' });
    const contract = await apiContract();
    for (const answer of [refused!, accepted]) {
      const problems = contract.problems('POST', '/uploads', {
        status: answer.status ?? 0,
        // Header names as HTTP carries them, case-insensitively.
        headers: Object.fromEntries(
          Object.entries(answer.headers as Record<string, string>).map(([k, v]) => [
            k.toLowerCase(),
            v,
          ]),
        ),
        body: bodyOf(answer),
      });
      expect(problems, 'as the OpenAPI document describes').to.deep.equal([]);
    }
  });

  it('64 concurrent requests over 4 instances never hold more outstanding uploads than allowed', async () => {
    const runtimes = instances(4, {
      [SETTING_KEYS.quotaUrlBurst]: '1000',
      [SETTING_KEYS.quotaOutstandingUploads]: '7',
    });
    const responses = await Promise.all(
      Array.from({ length: 64 }, (_, i) => issue(runtimes[i % runtimes.length])),
    );
    expect(responses.filter((r) => r.status === 201)).to.have.length(7);
    const error = bodyOf(responses.find((r) => r.status === 429)!).error as Record<string, unknown>;
    expect(error).to.include({ limit: 'outstanding-uploads', max: 7 });
  });

  it('bytes declared per day: the request that would cross the limit is refused until midnight UTC', async () => {
    const runtime = runtimeWith({ [SETTING_KEYS.quotaBytesPerDay]: '2500' });
    expect((await issue(runtime, 1000)).status).to.equal(201);
    expect((await issue(runtime, 1000)).status).to.equal(201);
    const refused = await issue(runtime, 1000);
    expect(refused.status).to.equal(429);
    const error = bodyOf(refused).error as Record<string, unknown>;
    expect(error).to.include({ limit: 'bytes-per-day' });
    expect((error.resetsAt as string).endsWith('T00:00:00.000Z')).to.equal(true);
    expect((await issue(runtime, 500)).status).to.equal(201);
  });

  it('the global cap refuses every caller alike and gives the caller its share back', async () => {
    const runtime = runtimeWith({ [SETTING_KEYS.quotaGlobalUrlsPerMinute]: '3' });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await issue(runtime)).status);
    expect(statuses).to.deep.equal([201, 201, 201, 429, 429]);
    // The caller's share goes back off the request path.
    await (runtime.uploads as TableUploadStore).settled();
    // Two refusals by the global cap left the caller's own bucket as after three URLs.
    const entity = await TableClient.fromConnectionString(
      storage.azurite.connectionString,
      'directdropuploads',
      { allowInsecureConnection: true },
    ).getEntity<{ state: string }>(functionKeyOwner(), 'quota');
    expect(heldSlots(parseCallerState(entity.state), Date.now())).to.equal(3);
    // And the refused URLs' records went with their share: the caller lists three uploads.
    const listed = await runtime.uploads.list(functionKeyOwner(), 100);
    expect(listed.records).to.have.length(3);
  });

  /** A store on its own client, counting the storage requests it sends. */
  function countingStore(
    limits: Partial<ConstructorParameters<typeof TableUploadStore>[1]> = {},
    now?: () => number,
  ) {
    const counter = { requests: 0 };
    const table = TableClient.fromConnectionString(
      storage.azurite.connectionString,
      'directdropuploads',
      {
        allowInsecureConnection: true,
        additionalPolicies: [
          {
            position: 'perCall',
            policy: {
              name: 'count',
              sendRequest: (request, next) => {
                counter.requests++;
                return next(request);
              },
            },
          },
        ],
      },
    );
    const store = new TableUploadStore(
      table,
      {
        urlsPerMinute: 1000,
        urlBurst: 1000,
        outstandingUploads: 500,
        bytesPerDay: 1e12,
        globalUrlsPerMinute: 1_000_000,
        ...limits,
      },
      now,
    );
    return { store, counter };
  }

  const owner = (i: number) =>
    ownerHash('0123456789abcdef0123456789abcdef', { issuer: 't', subject: `s${i}` });
  function upload(ownerOf: string, nowMs = Date.now()) {
    const uploadId = randomUUID();
    const urlExpiresAtMs = nowMs + 600_000;
    const record: UploadRecord = {
      uploadId,
      owner: ownerOf,
      status: 'issued',
      issuedAt: new Date(nowMs).toISOString(),
      urlExpiresAt: new Date(urlExpiresAtMs).toISOString(),
      container: 'uploads',
      blobName: `${ownerOf}/${uploadId}/1000/a.jpg`,
      fileName: 'a.jpg',
      contentType: 'image/jpeg',
      size: 1000,
      metadata: {},
      caller: { kind: 'anonymous' },
    };
    return { record, reservation: { uploadId, size: 1000, urlExpiresAtMs } };
  }

  it('issuing takes one storage round trip when the caller is known and the lease has tokens, two at most otherwise', async () => {
    const { store, counter } = countingStore();
    const first = upload(owner(1));
    expect((await store.issue(first.record, first.reservation)).ok).to.equal(true);
    // Caller's quota read beside the global shard's, then the transaction beside the lease write.
    expect(counter.requests).to.equal(4);
    counter.requests = 0;
    const second = upload(owner(1));
    expect((await store.issue(second.record, second.reservation)).ok).to.equal(true);
    expect(counter.requests, 'one transaction: quota, record and list entry').to.equal(1);
    counter.requests = 0;
    const other = upload(owner(2));
    expect((await store.issue(other.record, other.reservation)).ok).to.equal(true);
    expect(counter.requests, 'a caller this instance has not seen: read, then write').to.equal(2);
  });

  it('the global cap over 4 instances and 120 callers at once: never more than the cap in a minute', async () => {
    const stores = Array.from(
      { length: 4 },
      () => countingStore({ globalUrlsPerMinute: 40 }).store,
    );
    const decisions = await Promise.all(
      Array.from({ length: 120 }, (_, i) => {
        const { record, reservation } = upload(owner(100 + i));
        return stores[i % 4].issue(record, reservation);
      }),
    );
    const issued = decisions.filter((d) => d.ok).length;
    expect(issued).to.be.at.most(40);
    // Blocks of 2 leased to 4 instances: at most 4 × 2 tokens lapse unused.
    expect(issued).to.be.at.least(40 - 8);
    const refused = decisions.find((d) => !d.ok);
    expect(refused && !refused.ok && refused.exceeded.limit).to.equal('global-urls-per-minute');
    await Promise.all(stores.map((s) => s.settled()));
  });

  it('a leased block is good in its own minute only: the tokens left over lapse', async () => {
    let nowMs = Date.parse('2026-12-06T10:00:10.000Z');
    const shard = () =>
      TableClient.fromConnectionString(storage.azurite.connectionString, 'directdropuploads', {
        allowInsecureConnection: true,
      }).getEntity<{ state: string }>('global', 'shard-0');
    // 100 a minute: one shard, leased 5 at a time.
    const { store } = countingStore({ globalUrlsPerMinute: 100 }, () => nowMs);
    const a = upload(owner(300), nowMs);
    expect((await store.issue(a.record, a.reservation)).ok).to.equal(true);
    expect(JSON.parse((await shard()).state)).to.deep.equal({
      windowStartMs: Date.parse('2026-12-06T10:00:00.000Z'),
      count: 5,
    });
    nowMs += 60_000;
    const b = upload(owner(300), nowMs);
    expect((await store.issue(b.record, b.reservation)).ok).to.equal(true);
    // The four tokens of the first minute were not carried over: a new block was leased.
    expect(JSON.parse((await shard()).state)).to.deep.equal({
      windowStartMs: Date.parse('2026-12-06T10:01:00.000Z'),
      count: 5,
    });
  });

  describe('outstanding slots are released by every recorded outcome (worker on another instance)', () => {
    const limits = { [SETTING_KEYS.quotaOutstandingUploads]: '1' };
    async function landed(runtime: Runtime, bytes: Buffer) {
      const issued = bodyOf(await issue(runtime, bytes.length));
      expect(issued.uploadId).to.be.a('string');
      const put = await fetch(issued.uploadUrl as string, {
        method: 'PUT',
        headers: issued.headers as Record<string, string>,
        body: new Uint8Array(bytes),
      });
      expect(put.status).to.equal(201);
      const blobName = decodeURIComponent(
        new URL(issued.uploadUrl as string).pathname.split('/').slice(3).join('/'),
      );
      return blobCreatedEvent(runtime.landing, blobName);
    }

    it('processed', async () => {
      const runtime = runtimeWith(limits);
      const event = await landed(runtime, await sidewaysPhotoWithGps(200, 150));
      expect((await issue(runtime)).status, 'the one slot is taken').to.equal(429);
      await processUploadEventHandler(() => runtimeWith(limits))(event, invocationContext('p'));
      expect((await issue(runtime)).status).to.equal(201);
    });

    it('rejected', async () => {
      const runtime = runtimeWith(limits);
      const event = await landed(runtime, Buffer.from('not an image at all'));
      expect((await issue(runtime)).status).to.equal(429);
      await processUploadEventHandler(() => runtimeWith(limits))(event, invocationContext('p'));
      expect((await issue(runtime)).status).to.equal(201);
    });

    it('failed (from the poison queue)', async () => {
      const runtime = runtimeWith(limits);
      const event = await landed(runtime, await sidewaysPhotoWithGps(200, 150));
      expect((await issue(runtime)).status).to.equal(429);
      await recordPoisonedEventHandler(() => runtimeWith(limits))(event, invocationContext('r'));
      expect((await issue(runtime)).status).to.equal(201);
    });
  });
});
