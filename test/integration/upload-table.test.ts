/**
 * Upload records against Azurite's real Table service: issued with their quota in one
 * transaction, mirrored outcomes, deletion in two steps, several instances at once, and
 * listing that pages through an owner's uploads newest first without duplicates or gaps
 * while new ones arrive.
 */
import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TableClient, odata } from '@azure/data-tables';
import { expect } from 'chai';
import {
  InvalidListCursorError,
  RecordChangedError,
  TableUploadStore,
} from '../../functions/adapters/upload-table';
import { ownerHash } from '../../functions/core/auth';
import { STORAGE_NAMES } from '../../functions/core/definitions';
import { heldSlots, parseCallerState } from '../../functions/core/quota';
import type { OutcomeFields, UploadRecord } from '../../functions/core/upload-record';
import { type AzuriteSandbox, startAzuriteSandbox } from '../../local/azurite-sandbox';

describe('upload-table (against Azurite tables)', function () {
  this.timeout(120_000);
  let storage: AzuriteSandbox;
  let table: TableClient;
  before(async () => {
    storage = await startAzuriteSandbox();
    table = TableClient.fromConnectionString(
      storage.azurite.connectionString,
      STORAGE_NAMES.uploadTable,
      { allowInsecureConnection: true },
    );
  });
  after(() => storage.stop());

  const limits = {
    urlsPerMinute: 100_000,
    urlBurst: 10_000,
    outstandingUploads: 500,
    bytesPerDay: 1e12,
    globalUrlsPerMinute: 1_000_000,
  };
  const newStore = (overrides: Partial<typeof limits> = {}) =>
    new TableUploadStore(table, { ...limits, ...overrides });
  let n = 0;
  const newOwner = () =>
    ownerHash('0123456789abcdef0123456789abcdef', { issuer: 'test', subject: `u${n++}` });

  function upload(owner: string, issuedMs = Date.now(), metadata: Record<string, string> = {}) {
    const uploadId = randomUUID();
    const urlExpiresAtMs = issuedMs + 600_000;
    const record: UploadRecord = {
      uploadId,
      owner,
      status: 'issued',
      issuedAt: new Date(issuedMs).toISOString(),
      urlExpiresAt: new Date(urlExpiresAtMs).toISOString(),
      container: 'uploads',
      blobName: `${owner}/${uploadId}/1234/cat.jpg`,
      fileName: 'cat.jpg',
      contentType: 'image/jpeg',
      size: 1234,
      metadata,
      caller: { kind: 'oidc', issuer: 'https://idp.example', subject: 'alice' },
    };
    return { record, reservation: { uploadId, size: 1234, urlExpiresAtMs } };
  }

  /** The uploads whose rows hold a slot; the quota entity must count exactly as many. */
  async function outstanding(owner: string): Promise<string[]> {
    const held: string[] = [];
    const rows = table.listEntities<{ record: string; slot?: string }>({
      queryOptions: {
        filter: odata`PartitionKey eq ${owner} and RowKey gt 'upload-' and RowKey lt 'upload.'`,
      },
    });
    for await (const row of rows)
      if (row.slot !== undefined) held.push((JSON.parse(row.record) as UploadRecord).uploadId);
    const entity = await table.getEntity<{ state: string }>(owner, 'quota');
    expect(heldSlots(parseCallerState(entity.state), Date.now()), 'slots counted').to.equal(
      held.length,
    );
    return held;
  }

  const processed: OutcomeFields = {
    status: 'processed',
    completedAt: '2026-12-06T10:00:05.000Z',
    uploadedAt: '2026-12-06T10:00:01.000Z',
    original: { format: 'jpeg', width: 640, height: 480, size: 1234 },
    outputs: [
      {
        name: 'thumb',
        blobName: 'abc/thumb.webp',
        width: 320,
        height: 240,
        contentType: 'image/webp',
        size: 999,
      },
    ],
  };

  it('issue writes the record, its list entry and the slot together; get and list read them back', async () => {
    const store = newStore();
    const owner = newOwner();
    const { record, reservation } = upload(owner, Date.now(), { postId: '42' });
    const decision = await store.issue(record, reservation);
    expect(decision).to.include({ ok: true, limit: 10_000 });
    const got = await store.get(owner, record.uploadId);
    expect(got?.record).to.deep.equal(record);
    expect(got?.etag).to.be.a('string');
    const { records, nextCursor } = await store.list(owner, 20);
    expect(records.map((r) => r.uploadId)).to.deep.equal([record.uploadId]);
    expect(records[0]).to.deep.include({ metadata: { postId: '42' }, status: 'issued' });
    expect(nextCursor).to.equal(undefined);
    expect(await outstanding(owner)).to.deep.equal([record.uploadId]);
    // Another owner's partition holds nothing of it.
    expect(await store.get(newOwner(), record.uploadId)).to.equal(undefined);
  });

  // The pipeline retries a request whose answer never came; the transaction it sent may
  // have taken effect. A proxy that forwards the first $batch and then drops the connection
  // makes exactly that happen.
  it('an issue whose answer was lost after it took effect is issued once, not twice', async () => {
    const tableEndpoint = new URL(
      /TableEndpoint=([^;]+)/.exec(storage.azurite.connectionString)![1],
    );
    let dropped = 0;
    const proxy = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      // The caller's transaction (its record row in it), not the global cap's lease.
      const drop = body.includes('upload-') && dropped++ === 0;
      const upstream = httpRequest(
        {
          host: tableEndpoint.hostname,
          port: tableEndpoint.port,
          path: req.url,
          method: req.method,
          headers: req.headers,
        },
        (answer) => {
          if (drop) {
            answer.resume();
            answer.on('end', () => res.socket?.destroy());
            return;
          }
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.end(body);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const port = (proxy.address() as AddressInfo).port;
      const viaProxy = storage.azurite.connectionString.replace(
        tableEndpoint.origin,
        `http://127.0.0.1:${port}`,
      );
      const store = new TableUploadStore(
        TableClient.fromConnectionString(viaProxy, STORAGE_NAMES.uploadTable, {
          allowInsecureConnection: true,
        }),
        { ...limits, urlBurst: 5, urlsPerMinute: 1 },
      );
      const owner = newOwner();
      const { record, reservation } = upload(owner);
      const decision = await store.issue(record, reservation);
      expect(dropped, 'the transaction was sent again').to.be.at.least(2);
      expect(decision).to.include({ ok: true, remaining: 4 });
      expect(await outstanding(owner)).to.deep.equal([record.uploadId]);
      expect((await store.list(owner, 10)).records).to.have.length(1);
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('recordOutcome mirrors the outcome into record and list entry and frees the slot, idempotently', async () => {
    const store = newStore();
    const worker = newStore();
    const owner = newOwner();
    const { record, reservation } = upload(owner);
    await store.issue(record, reservation);
    const before = await worker.get(owner, record.uploadId);
    await worker.recordOutcome(owner, record.uploadId, processed, before?.etag);
    const after = await worker.get(owner, record.uploadId);
    expect(after?.record).to.deep.equal({ ...record, ...processed });
    expect(await outstanding(owner)).to.deep.equal([]);
    const [entry] = (await store.list(owner, 5)).records;
    expect(entry).to.deep.include({ status: 'processed', completedAt: processed.completedAt });
    expect(entry).to.not.have.property('outputs');
    // A redelivery with the etag read before the first write: the same outcome, nothing changes.
    await worker.recordOutcome(owner, record.uploadId, processed, before?.etag);
    expect((await worker.get(owner, record.uploadId))?.etag).to.equal(after?.etag);
    // A rejection replaces the outcome's fields: no outputs are left behind.
    const rejected: OutcomeFields = {
      status: 'rejected',
      reason: 'corrupt',
      message: 'The image data is corrupt.',
      completedAt: '2026-12-06T10:00:09.000Z',
    };
    await worker.recordOutcome(owner, record.uploadId, rejected);
    expect((await worker.get(owner, record.uploadId))?.record).to.deep.equal({
      ...record,
      ...rejected,
    });
  });

  it('recordOutcome refuses a record changed since it was read, and never revives a deleted one', async () => {
    const store = newStore();
    const owner = newOwner();
    const { record, reservation } = upload(owner);
    await store.issue(record, reservation);
    const read = await store.get(owner, record.uploadId);
    await store.markDeleted(owner, record.uploadId, read!.etag);
    let error: unknown;
    try {
      await store.recordOutcome(owner, record.uploadId, processed, read!.etag);
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(RecordChangedError);
    error = undefined;
    try {
      await store.recordOutcome(owner, record.uploadId, processed);
    } catch (e) {
      error = e;
    }
    expect(error, 'without an etag too').to.be.instanceOf(RecordChangedError);
    expect((await store.get(owner, record.uploadId))?.record.status).to.equal('deleted');
  });

  it('markDeleted hides the upload from the list at once; remove takes record, entry and slot in one go', async () => {
    const store = newStore();
    const owner = newOwner();
    const kept = upload(owner, Date.now() - 1000);
    const gone = upload(owner);
    await store.issue(kept.record, kept.reservation);
    await store.issue(gone.record, gone.reservation);
    const read = await store.get(owner, gone.record.uploadId);
    let stale: unknown;
    try {
      await store.markDeleted(
        owner,
        gone.record.uploadId,
        'W/"datetime\'2000-01-01T00%3A00%3A00Z\'"',
      );
    } catch (e) {
      stale = e;
    }
    expect(stale, 'a stale etag').to.be.instanceOf(RecordChangedError);
    await store.markDeleted(owner, gone.record.uploadId, read!.etag);
    expect((await store.list(owner, 10)).records.map((r) => r.uploadId)).to.deep.equal([
      kept.record.uploadId,
    ]);
    await store.remove(owner, gone.record.uploadId);
    expect(await store.get(owner, gone.record.uploadId)).to.equal(undefined);
    expect(await outstanding(owner)).to.deep.equal([kept.record.uploadId]);
    const rows = [];
    for await (const e of table.listEntities({
      queryOptions: { filter: `PartitionKey eq '${owner}'` },
    }))
      rows.push(e.rowKey);
    expect(rows.filter((r) => r?.includes(gone.record.uploadId))).to.deep.equal([]);
    // Removing again is harmless.
    await store.remove(owner, gone.record.uploadId);
  });

  it('refund takes back what issue wrote: the record, its entry, the token, the slot and the bytes', async () => {
    const store = newStore({ urlBurst: 2 });
    const owner = newOwner();
    const a = upload(owner);
    await store.issue(a.record, a.reservation);
    await store.refund(a.record, a.reservation);
    expect(await store.get(owner, a.record.uploadId)).to.equal(undefined);
    expect((await store.list(owner, 10)).records).to.deep.equal([]);
    expect(await outstanding(owner)).to.deep.equal([]);
    const entity = await table.getEntity<{ state: string }>(owner, 'quota');
    expect(parseCallerState(entity.state)).to.deep.include({ bytes: 0 });
    // Both tokens are there again.
    for (let i = 0; i < 2; i++) {
      const next = upload(owner);
      expect((await store.issue(next.record, next.reservation)).ok).to.equal(true);
    }
    // A refund of what was never issued does nothing.
    const never = upload(owner);
    await store.refund(never.record, never.reservation);
  });

  it('a drop zone upload gets its record from its outcome', async () => {
    const store = newStore();
    const zoneOwner = newOwner();
    const uploadId = randomUUID();
    const outcome: OutcomeFields = {
      ...processed,
      dropZone: {
        zone: 'cameras',
        container: 'dropzone-cameras',
        blobName: 'cam-7/2026-12-06/IMG_1.jpg',
        fileName: 'IMG_1.jpg',
        contentType: 'image/jpeg',
        issuedAt: '2026-12-06T09:59:59.000Z',
      },
    };
    await store.recordOutcome(zoneOwner, uploadId, outcome);
    const got = await store.get(zoneOwner, uploadId);
    expect(got?.record).to.deep.include({
      uploadId,
      owner: zoneOwner,
      status: 'processed',
      dropZone: 'cameras',
      container: 'dropzone-cameras',
      blobName: 'cam-7/2026-12-06/IMG_1.jpg',
      metadata: {},
    });
    expect(got?.record.caller).to.deep.equal({ kind: 'dropZone', zone: 'cameras' });
    expect(got?.record.size).to.equal(undefined);
    await store.recordOutcome(zoneOwner, uploadId, outcome);
    expect((await store.get(zoneOwner, uploadId))?.etag).to.equal(got?.etag);
  });

  // Found by the suite under load: the worker planned on its remembered quota entity, saw
  // no slot to free, and wrote the record without the quota entity, so nothing re-checked it.
  it('an outcome recorded on an instance whose memory of the caller is stale still frees its slot', async () => {
    const issuer = newStore();
    const worker = newStore();
    const owner = newOwner();
    const first = upload(owner);
    expect((await issuer.issue(first.record, first.reservation)).ok).to.equal(true);
    // The worker now remembers the caller's quota entity as it wrote it.
    await worker.recordOutcome(owner, first.record.uploadId, processed);
    const second = upload(owner);
    expect((await issuer.issue(second.record, second.reservation)).ok).to.equal(true);
    await worker.recordOutcome(owner, second.record.uploadId, processed);
    expect(await outstanding(owner)).to.deep.equal([]);
    expect((await worker.get(owner, second.record.uploadId))?.record.status).to.equal('processed');
  });

  it('outcomes recorded on other instances while issuing goes on keep the counters exact', async () => {
    const issuers = [newStore({ outstandingUploads: 5 }), newStore({ outstandingUploads: 5 })];
    const worker = newStore({ outstandingUploads: 5 });
    const owner = newOwner();
    const done: string[] = [];
    // 40 requests at once from one caller on two instances, the worker completing what it sees.
    const results = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const { record, reservation } = upload(owner);
        const decision = await issuers[i % 2].issue(record, reservation);
        if (decision.ok && done.length < 10) {
          done.push(record.uploadId);
          await worker.recordOutcome(owner, record.uploadId, processed);
        }
        return decision.ok;
      }),
    );
    const issued = results.filter(Boolean).length;
    const held = await outstanding(owner);
    expect(held.length).to.be.at.most(5);
    expect(held.length).to.equal(issued - done.length);
    expect((await issuers[0].list(owner, 100)).records).to.have.length(issued);
  });

  it('pages through 1,000 uploads of one owner newest first, without duplicate or gap while new ones arrive; another owner sees none', async () => {
    const store = newStore();
    const owner = newOwner();
    const stranger = newOwner();
    const start = Date.parse('2026-12-06T08:00:00.000Z');
    const ids: Array<{ uploadId: string; issuedMs: number }> = [];
    // Issued as the API would, the worker freeing each slot (at most 500 are outstanding).
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          // Some share a millisecond: the id orders those.
          const issuedMs = start + (batch * 50 + i) * 7 - (i % 3);
          const { record, reservation } = upload(owner, issuedMs);
          expect((await store.issue(record, reservation)).ok).to.equal(true);
          await store.recordOutcome(owner, record.uploadId, processed);
          ids.push({ uploadId: record.uploadId, issuedMs });
        }),
      );
    }
    const expected = [...ids]
      .sort((a, b) => b.issuedMs - a.issuedMs || (a.uploadId < b.uploadId ? -1 : 1))
      .map((r) => r.uploadId);

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    const arriving: string[] = [];
    do {
      const page = await store.list(owner, 37, cursor);
      seen.push(...page.records.map((r) => r.uploadId));
      cursor = page.nextCursor;
      pages++;
      // New uploads land between pages; they sort before everything already read.
      const fresh = upload(owner);
      await store.issue(fresh.record, fresh.reservation);
      arriving.push(fresh.record.uploadId);
    } while (cursor);
    expect(pages).to.equal(Math.ceil(1000 / 37));
    expect(seen).to.deep.equal(expected);
    const first = await store.list(owner, 100);
    expect(first.records.slice(0, arriving.length).map((r) => r.uploadId)).to.deep.equal(
      [...arriving].reverse(),
    );
    expect((await store.list(stranger, 100)).records).to.deep.equal([]);
  });

  it('refuses a cursor it did not make', async () => {
    const store = newStore();
    for (const cursor of ['', 'bm90LWEta2V5', 'x'.repeat(101), '!!!']) {
      let error: unknown;
      try {
        await store.list(newOwner(), 10, cursor);
      } catch (e) {
        error = e;
      }
      expect(error, cursor).to.be.instanceOf(InvalidListCursorError);
    }
  });
});
