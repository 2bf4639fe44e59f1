/**
 * The upload table (Azure Table Storage; Azurite locally). Per owner partition: the quota
 * counters (`quota`), each upload's record (`upload-<id>`) and its list entry
 * (`list-<inverted ms>-<id>`), always changed together in one entity-group transaction,
 * so the counters, the record and the list never disagree. The global per-minute cap lives
 * in `global`/`shard-<n>` and is leased to each instance in blocks of tokens.
 *
 * Every change is the pure decision of core/quota.ts on the quota state, written with
 * `If-Match` on the ETag this instance last saw (read afresh only after a 412), so
 * concurrent requests on any number of instances never overspend. Issuing a URL costs one
 * round trip when this instance knows the caller's ETag and holds global tokens, two at most
 * otherwise (both reads run beside each other, and so do both writes). Writes and point
 * reads are written by hand (table-batch.ts), at about half the CPU of the SDK's calls;
 * only the list queries go through the SDK.
 */
import { RestError, type TableClient, odata } from '@azure/data-tables';
import {
  type CallerQuotaState,
  type GlobalQuotaState,
  type QuotaExceeded,
  type QuotaLimits,
  type Reservation,
  globalExceeded,
  globalShards,
  leaseGlobal,
  minuteWindow,
  parseCallerState,
  parseGlobalState,
  refundCaller,
  releaseSlot,
  remainingUrls,
  reserveForCaller,
  slotKey,
} from '../core/quota';
import {
  LIST_ROW_END,
  LIST_ROW_PREFIX,
  type OutcomeFields,
  QUOTA_ROW,
  type RecordStatus,
  type UploadRecord,
  decodeListCursor,
  encodeListCursor,
  listRowKey,
  listed,
  parseStoredRecord,
  recordRowKey,
  withOutcome,
} from '../core/upload-record';
import { type BatchOperation, TableBatches } from './table-batch';

export interface UploadStore {
  /** Quota (caller bucket, outstanding slot, bytes/day, global lease) and the record together:
   *  one entity-group transaction in the caller's partition when uncontended. */
  issue(record: UploadRecord, reservation: Reservation): Promise<QuotaDecision>;
  /** Undo an issue() whose URL could not be signed. */
  refund(record: UploadRecord, reservation: Reservation): Promise<void>;
  get(owner: string, uploadId: string): Promise<{ record: UploadRecord; etag: string } | undefined>;
  /** Newest first; `cursor` is the previous page's `nextCursor` (InvalidListCursorError otherwise). */
  list(
    owner: string,
    limit: number,
    cursor?: string,
  ): Promise<{ records: UploadRecord[]; nextCursor?: string }>;
  /** Mirror a recorded outcome into the record and list entry and free the outstanding slot, atomically.
   *  `expectedEtag` (from get) makes it fail with RecordChangedError when the record changed
   *  (e.g. marked deleted meanwhile). Drop-zone records are created here (upsert). Idempotent. */
  recordOutcome(
    owner: string,
    uploadId: string,
    outcome: OutcomeFields,
    expectedEtag?: string,
  ): Promise<void>;
  /** Mark 'deleted' (If-Match), then later remove record + list entry + slot in one transaction. */
  markDeleted(owner: string, uploadId: string, expectedEtag: string): Promise<void>;
  remove(owner: string, uploadId: string): Promise<void>;
  /**
   * One page of the records in `status`, across every owner (the sweep's bounded scan);
   * `continuationToken` is the previous page's, absent at the end.
   */
  listByStatus(
    status: RecordStatus,
    limit: number,
    continuationToken?: string,
  ): Promise<{ records: UploadRecord[]; continuationToken?: string }>;
}

export type QuotaDecision =
  | { ok: true; limit: number; remaining: number; resetSeconds: number }
  | { ok: false; exceeded: QuotaExceeded };

/** Optimistic concurrency lost this many times in a row: answer 503 rather than spin. */
export class QuotaContentionError extends Error {
  constructor() {
    super('Quota counters are too contended to update; retry shortly.');
    this.name = 'QuotaContentionError';
  }
}

/** The record is not the one the caller read (changed, marked deleted or gone). */
export class RecordChangedError extends Error {
  constructor(uploadId: string) {
    super(`The record of upload ${uploadId} changed meanwhile`);
    this.name = 'RecordChangedError';
  }
}

export class InvalidListCursorError extends Error {
  constructor() {
    super('The cursor is not one a list page returned.');
    this.name = 'InvalidListCursorError';
  }
}

const MAX_ATTEMPTS = 100;
/** Callers whose last written quota state this instance remembers. */
const MAX_REMEMBERED = 10_000;
const GLOBAL_PARTITION = 'global';

// Type aliases, not interfaces: the SDK's entity type needs an implicit index signature.
type StateEntity = {
  partitionKey: string;
  rowKey: string;
  state: string;
};

type RecordEntity = {
  partitionKey: string;
  rowKey: string;
  status: string;
  record: string;
  /** On an upload's own row while it holds an outstanding slot: the slot's minute (slotKey). */
  slot?: string;
};

/** A record as read, with the slot its row holds. */
interface StoredRecord {
  record: UploadRecord;
  etag: string;
  slot?: string;
}

type Plan<R> = { done: R } | { quota?: CallerQuotaState; ops: BatchOperation[]; result: R };

function isConflict(error: unknown): boolean {
  if (!(error instanceof RestError)) return false;
  // A 404 inside a transaction is an entity that went away between the read and the write.
  if (error.statusCode === 404) return error.code === 'ResourceNotFound';
  return error.statusCode === 409 || error.statusCode === 412;
}

/** A property as stored: the upload table writes strings only. */
function stringProperty(entity: Record<string, unknown>, name: string): string | undefined {
  const value = entity[name];
  return typeof value === 'string' ? value : undefined;
}

const pause = (attempt: number) =>
  new Promise((resolve) =>
    setTimeout(resolve, Math.random() * Math.min(50, 2 ** Math.min(attempt, 6))),
  );

/** Every upload key of one owner's partition; `rowKey` alone for deletes. */
function rows(record: UploadRecord, slot?: string): { record: RecordEntity; list: RecordEntity } {
  return {
    record: {
      partitionKey: record.owner,
      rowKey: recordRowKey(record.uploadId),
      status: record.status,
      record: JSON.stringify(record),
      ...(slot !== undefined && { slot }),
    },
    list: {
      partitionKey: record.owner,
      rowKey: listRowKey(record.issuedAt, record.uploadId),
      status: record.status,
      record: JSON.stringify(listed(record)),
    },
  };
}

function deletions(record: UploadRecord): BatchOperation[] {
  const { record: row, list } = rows(record);
  return [
    { kind: 'delete', partitionKey: row.partitionKey, rowKey: row.rowKey },
    { kind: 'delete', partitionKey: list.partitionKey, rowKey: list.rowKey },
  ];
}

export class TableUploadStore implements UploadStore {
  private readonly global: { shards: number; perShard: number; block: number };
  /** The last quota state and ETag this instance wrote, per owner. */
  private readonly known = new Map<string, { state: CallerQuotaState; etag: string }>();
  /** The change under way per owner, so this instance's own changes run one at a time. */
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Global tokens this instance holds for one minute. */
  private lease = { windowStartMs: 0, tokens: 0 };
  /** Shards known to have leased their whole share in one minute. */
  private exhausted = { windowStartMs: 0, shards: new Set<number>() };
  private leasing: Promise<void> | undefined;
  private readonly knownShards = new Map<number, { text: string; etag: string }>();
  /** Refunds running after the answer was given. */
  private readonly background = new Set<Promise<void>>();
  private readonly batches: TableBatches;

  constructor(
    private readonly table: TableClient,
    private readonly limits: QuotaLimits & { globalUrlsPerMinute: number },
    private readonly now: () => number = Date.now,
  ) {
    this.global = globalShards(limits.globalUrlsPerMinute);
    this.batches = new TableBatches(table);
  }

  async issue(record: UploadRecord, reservation: Reservation): Promise<QuotaDecision> {
    const { record: row, list } = rows(record, slotKey(reservation.urlExpiresAtMs));
    let planned = false;
    const [global, caller] = await Promise.allSettled([
      this.takeGlobal(),
      this.change<{ ok: true; state: CallerQuotaState } | { ok: false; exceeded: QuotaExceeded }>(
        record.owner,
        async (state, nowMs) => {
          // Planned again after a refused write: one whose answer was lost but which took
          // effect left the record (its id is ours alone), and then the upload is issued.
          if (planned && state && (await this.batches.get(record.owner, row.rowKey)))
            return { done: { ok: true, state } };
          planned = true;
          const result = reserveForCaller(state, this.limits, reservation, nowMs);
          if (!result.ok) return { done: result };
          return {
            quota: result.state,
            ops: [
              { kind: 'create', entity: row },
              { kind: 'create', entity: list },
            ],
            result: { ok: true, state: result.state },
          };
        },
      ),
    ]);
    const taken = global.status === 'fulfilled' && global.value.ok ? global.value : undefined;
    const issued = caller.status === 'fulfilled' && caller.value.ok ? caller.value : undefined;
    // One caller's refusals must not use up everyone's capacity: its token goes back.
    if (taken && !issued) this.returnGlobal(taken.windowStartMs);
    // A URL the global cap refuses is taken back off the request path.
    if (issued && !taken) this.inBackground(this.refund(record, reservation));
    if (caller.status === 'rejected') throw caller.reason;
    if (global.status === 'rejected') throw global.reason;
    if (!caller.value.ok) return caller.value;
    if (!global.value.ok) return global.value;
    return {
      ok: true,
      limit: this.limits.urlBurst,
      ...remainingUrls(caller.value.state, this.limits, this.now()),
    };
  }

  async refund(record: UploadRecord, reservation: Reservation): Promise<void> {
    await this.change<void>(record.owner, async (state, nowMs) => {
      // Only an issue() that took effect wrote the record, in the transaction that took quota.
      const stored = await this.read(record.owner, record.uploadId);
      if (!stored || !state) return { done: undefined };
      return {
        quota: refundCaller(state, this.limits, reservation, stored.slot, nowMs),
        ops: deletions(stored.record),
        result: undefined,
      };
    });
  }

  async listByStatus(
    status: RecordStatus,
    limit: number,
    continuationToken?: string,
  ): Promise<{ records: UploadRecord[]; continuationToken?: string }> {
    const first = recordRowKey('');
    const filter = odata`status eq ${status} and RowKey ge ${first} and RowKey lt ${first.replace(/-$/, '.')}`;
    const page = await this.table
      .listEntities<RecordEntity>({ queryOptions: { filter } })
      .byPage({ maxPageSize: limit, continuationToken })
      .next();
    if (page.done) return { records: [] };
    const records = page.value
      .map((entity) => parseStoredRecord(entity.record))
      .filter((record): record is UploadRecord => record !== undefined);
    return { records, continuationToken: page.value.continuationToken };
  }

  async get(
    owner: string,
    uploadId: string,
  ): Promise<{ record: UploadRecord; etag: string } | undefined> {
    const stored = await this.read(owner, uploadId);
    return stored && { record: stored.record, etag: stored.etag };
  }

  private async read(owner: string, uploadId: string): Promise<StoredRecord | undefined> {
    const found = await this.batches.get(owner, recordRowKey(uploadId));
    const record = found && parseStoredRecord(stringProperty(found.entity, 'record'));
    if (!record) return undefined;
    const slot = stringProperty(found.entity, 'slot');
    return { record, etag: found.etag, ...(slot !== undefined && { slot }) };
  }

  async list(
    owner: string,
    limit: number,
    cursor?: string,
  ): Promise<{ records: UploadRecord[]; nextCursor?: string }> {
    const after = cursor === undefined ? LIST_ROW_PREFIX : decodeListCursor(cursor);
    if (after === undefined) throw new InvalidListCursorError();
    const filter = odata`PartitionKey eq ${owner} and RowKey gt ${after} and RowKey lt ${LIST_ROW_END} and status ne 'deleted'`;
    const found: Array<{ rowKey: string; record: UploadRecord }> = [];
    // One more than asked says whether a next page exists; the service may split pages anyway.
    const pages = this.table
      .listEntities<RecordEntity>({ queryOptions: { filter } })
      .byPage({ maxPageSize: limit + 1 });
    for await (const page of pages) {
      for (const entity of page) {
        const record = parseStoredRecord(entity.record);
        if (record) found.push({ rowKey: entity.rowKey as string, record });
      }
      if (found.length > limit) break;
    }
    const records = found.slice(0, limit);
    return {
      records: records.map((r) => r.record),
      ...(found.length > limit ? { nextCursor: encodeListCursor(records[limit - 1].rowKey) } : {}),
    };
  }

  async recordOutcome(
    owner: string,
    uploadId: string,
    outcome: OutcomeFields,
    expectedEtag?: string,
  ): Promise<void> {
    await this.change<void>(owner, async (state, nowMs) => {
      const current = await this.read(owner, uploadId);
      const next = withOutcome(current?.record, owner, uploadId, outcome);
      // Mirrored already (a redelivery, or an answer lost after the write took effect).
      const unchanged =
        current !== undefined &&
        next !== undefined &&
        JSON.stringify(current.record) === JSON.stringify(next);
      const changedMeanwhile = current
        ? current.record.status === 'deleted' ||
          (expectedEtag !== undefined && current.etag !== expectedEtag)
        : expectedEtag !== undefined;
      if (!unchanged && changedMeanwhile) throw new RecordChangedError(uploadId);
      const ops: BatchOperation[] = [];
      // The outcome frees the slot the record holds; the row is written without it.
      if (next && (!unchanged || current?.slot !== undefined)) {
        const { record: row, list } = rows(next);
        ops.push(
          current
            ? { kind: 'replace', entity: row, etag: current.etag }
            : { kind: 'create', entity: row },
          { kind: 'upsert', entity: list },
        );
      }
      const quota = releaseSlot(state, current?.slot, nowMs);
      return quota || ops.length > 0 ? { quota, ops, result: undefined } : { done: undefined };
    });
  }

  async markDeleted(owner: string, uploadId: string, expectedEtag: string): Promise<void> {
    const current = await this.read(owner, uploadId);
    if (!current || current.etag !== expectedEtag) throw new RecordChangedError(uploadId);
    // The slot stays held until remove() takes the record.
    const { record: row, list } = rows({ ...current.record, status: 'deleted' }, current.slot);
    try {
      await this.batches.submit([
        { kind: 'replace', entity: row, etag: expectedEtag },
        { kind: 'upsert', entity: list },
      ]);
    } catch (error) {
      if (isConflict(error)) throw new RecordChangedError(uploadId);
      throw error;
    }
  }

  async remove(owner: string, uploadId: string): Promise<void> {
    await this.change<void>(owner, async (state, nowMs) => {
      const current = await this.read(owner, uploadId);
      const quota = releaseSlot(state, current?.slot, nowMs);
      const ops = current ? deletions(current.record) : [];
      return quota || ops.length > 0 ? { quota, ops, result: undefined } : { done: undefined };
    });
  }

  /** Resolves once the refunds started after answers were given have finished. */
  async settled(): Promise<void> {
    while (this.background.size > 0) await Promise.all([...this.background]);
  }

  private inBackground(work: Promise<void>): void {
    // Best effort: a slot not given back lapses by itself (OUTSTANDING_GRACE_MS).
    const tracked = work.catch(() => undefined);
    this.background.add(tracked);
    void tracked.then(() => this.background.delete(tracked));
  }

  /**
   * Writes the plan for an owner's partition as one transaction, its quota entity first and
   * conditional on the ETag last seen, one change per owner at a time within this instance
   * (so its own requests never conflict). Another instance's write fails the condition, and
   * then the entity is read afresh and the plan made again. Nothing that leaves the quota
   * entity unwritten (a refusal, a no-op, an outcome with no slot to free) is decided on
   * remembered state alone, since another instance may have changed it since.
   */
  private change<R>(
    owner: string,
    plan: (state: CallerQuotaState | undefined, nowMs: number) => Plan<R> | Promise<Plan<R>>,
  ): Promise<R> {
    const run = (this.queues.get(owner) ?? Promise.resolve()).then(() => this.apply(owner, plan));
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(owner, tail);
    void tail.then(() => {
      if (this.queues.get(owner) === tail) this.queues.delete(owner);
    });
    return run;
  }

  private async apply<R>(
    owner: string,
    plan: (state: CallerQuotaState | undefined, nowMs: number) => Plan<R> | Promise<Plan<R>>,
  ): Promise<R> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const remembered = this.known.get(owner);
      let current: { state: CallerQuotaState | undefined; etag: string } | undefined;
      if (remembered) current = remembered;
      else {
        const found = await this.batches.get(owner, QUOTA_ROW);
        if (found)
          current = {
            state: parseCallerState(stringProperty(found.entity, 'state')),
            etag: found.etag,
          };
      }
      const decision = await plan(current?.state, this.now());
      // Only a write of the quota entity (If-Match) checks remembered state: a plan that
      // writes none, a no-op or "no slot to free" alike, is made again on a fresh read.
      if (remembered && ('done' in decision || !decision.quota)) {
        this.known.delete(owner);
        continue;
      }
      if ('done' in decision) return decision.done;
      const ops: BatchOperation[] = [...decision.ops];
      const text = decision.quota && JSON.stringify(decision.quota);
      if (text !== undefined) {
        const entity: StateEntity = { partitionKey: owner, rowKey: QUOTA_ROW, state: text };
        ops.unshift(
          current ? { kind: 'replace', entity, etag: current.etag } : { kind: 'create', entity },
        );
      }
      try {
        const etags = await this.batches.submit(ops);
        // The answers come in the order of the operations; the quota entity's is first.
        const etag = text !== undefined ? etags[0] : undefined;
        if (decision.quota && etag) this.remember(owner, decision.quota, etag);
        else if (decision.quota) this.known.delete(owner);
        return decision.result;
      } catch (error) {
        this.known.delete(owner);
        if (!isConflict(error)) throw error;
        // Lost to another instance: read afresh at once; back off only when it keeps happening.
        if (!remembered) await pause(attempt);
      }
    }
    throw new QuotaContentionError();
  }

  /** The state as written: the decisions never change the state they are given, only copy it. */
  private remember(owner: string, state: CallerQuotaState, etag: string): void {
    this.known.delete(owner);
    this.known.set(owner, { state, etag });
    // Oldest first: a bounded memory of recently active callers.
    if (this.known.size > MAX_REMEMBERED)
      this.known.delete(this.known.keys().next().value as string);
  }

  /** One token of the global cap from this instance's lease, leasing a block when it is empty. */
  private async takeGlobal(): Promise<
    { ok: true; windowStartMs: number } | { ok: false; exceeded: QuotaExceeded }
  > {
    for (;;) {
      const nowMs = this.now();
      const windowStartMs = minuteWindow(nowMs);
      if (this.lease.windowStartMs === windowStartMs && this.lease.tokens > 0) {
        this.lease.tokens--;
        return { ok: true, windowStartMs };
      }
      if (
        this.exhausted.windowStartMs === windowStartMs &&
        this.exhausted.shards.size >= this.global.shards
      )
        return { ok: false, exceeded: globalExceeded(this.limits.globalUrlsPerMinute, nowMs) };
      // One lease at a time per instance; everyone waiting shares what it brings.
      this.leasing ??= this.leaseBlock(windowStartMs).finally(() => {
        this.leasing = undefined;
      });
      await this.leasing;
    }
  }

  private returnGlobal(windowStartMs: number): void {
    if (this.lease.windowStartMs === windowStartMs) this.lease.tokens++;
  }

  /** Leases a block from one shard with room in this minute, or marks it exhausted. */
  private async leaseBlock(windowStartMs: number): Promise<void> {
    if (this.exhausted.windowStartMs !== windowStartMs)
      this.exhausted = { windowStartMs, shards: new Set() };
    const open = Array.from({ length: this.global.shards }, (_, i) => i).filter(
      (i) => !this.exhausted.shards.has(i),
    );
    const shard = open[Math.floor(Math.random() * open.length)];
    const rowKey = `shard-${shard}`;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const remembered = this.knownShards.get(shard);
      let current: { state: GlobalQuotaState | undefined; etag: string } | undefined;
      if (remembered) current = { state: parseGlobalState(remembered.text), etag: remembered.etag };
      else {
        const found = await this.batches.get(GLOBAL_PARTITION, rowKey);
        if (found)
          current = {
            state: parseGlobalState(stringProperty(found.entity, 'state')),
            etag: found.etag,
          };
      }
      const nowMs = this.now();
      if (minuteWindow(nowMs) !== windowStartMs) return;
      const { perShard, block } = this.global;
      const leased = leaseGlobal(
        current?.state,
        perShard,
        this.limits.globalUrlsPerMinute,
        block,
        nowMs,
      );
      if (!leased.ok) {
        if (remembered) {
          this.knownShards.delete(shard);
          continue;
        }
        this.exhausted.shards.add(shard);
        return;
      }
      const text = JSON.stringify(leased.state);
      const entity: StateEntity = { partitionKey: GLOBAL_PARTITION, rowKey, state: text };
      try {
        const [etag] = await this.batches.submit([
          current ? { kind: 'replace', entity, etag: current.etag } : { kind: 'create', entity },
        ]);
        if (etag) this.knownShards.set(shard, { text, etag });
        const held = this.lease.windowStartMs === windowStartMs ? this.lease.tokens : 0;
        this.lease = { windowStartMs, tokens: held + leased.granted };
        return;
      } catch (error) {
        this.knownShards.delete(shard);
        if (!isConflict(error)) throw error;
        if (!remembered) await pause(attempt);
      }
    }
    throw new QuotaContentionError();
  }
}
