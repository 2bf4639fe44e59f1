/**
 * Quotas against Azurite's real Table service: exact under concurrency (ETag optimistic
 * concurrency), and outstanding slots released by every outcome the worker records.
 */
import { expect } from 'chai';
import { apiContract } from '../helpers/openapi';
import { type Runtime, createRuntime } from '../../functions/adapters/runtime';
import { functionKeyOwner } from '../../functions/core/auth';
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
    createRuntime({ ...storage.env, [SETTING_KEYS.quotaTable]: 'directdropquotas', ...quotas });
  const issue = (runtime: Runtime, size = 1000) =>
    createUploadHandler(() => runtime)(
      postJson(JSON.stringify({ fileName: 'a.jpg', contentType: 'image/jpeg', size })),
      invocationContext('createUpload'),
    );

  async function resetTable() {
    // Each test starts from no counters: a fresh table name would need provisioning, so clear rows.
    const { TableClient } = await import('@azure/data-tables');
    const table = TableClient.fromConnectionString(
      storage.azurite.connectionString,
      'directdropquotas',
      { allowInsecureConnection: true },
    );
    for await (const entity of table.listEntities())
      await table.deleteEntity(entity.partitionKey as string, entity.rowKey as string);
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
    // Two refusals by the global cap left the caller's own bucket as after three URLs.
    const { TableClient } = await import('@azure/data-tables');
    const entity = await TableClient.fromConnectionString(
      storage.azurite.connectionString,
      'directdropquotas',
      { allowInsecureConnection: true },
    ).getEntity<{ state: string }>(functionKeyOwner(), 'quota');
    expect(Object.keys(JSON.parse(entity.state).outstanding)).to.have.length(3);
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
