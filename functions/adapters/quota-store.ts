/**
 * Quota counters in Azure Table Storage (Azurite locally). Each caller's counters are one
 * entity, the global cap a few shard entities; every change is a read, the pure decision
 * of core/quota.ts, and a write conditional on the ETag read (or an insert that fails if
 * another got there first), retried on conflict. So concurrent requests never overspend.
 */
import { RestError, type TableClient } from '@azure/data-tables';
import {
  type CallerQuotaState,
  type GlobalQuotaState,
  type QuotaExceeded,
  type QuotaLimits,
  type Reservation,
  globalShards,
  parseCallerState,
  parseGlobalState,
  refundCaller,
  releaseOutstanding,
  remainingUrls,
  reserveForCaller,
  reserveGlobal,
} from '../core/quota';

export interface QuotaGate {
  /** Takes the caller's and the global share for one upload URL, or says which limit refuses. */
  reserve(owner: string, reservation: Reservation): Promise<QuotaDecision>;
  /** Gives a reservation back when the URL could not be issued. */
  refund(owner: string, reservation: Reservation): Promise<void>;
  /** Frees the outstanding slot of an upload whose outcome is recorded; a no-op when none is held. */
  release(owner: string, uploadId: string): Promise<void>;
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

const MAX_ATTEMPTS = 100;
/** Entities whose last written state this instance remembers. */
const MAX_REMEMBERED = 10_000;
const CALLER_ROW = 'quota';
const GLOBAL_PARTITION = 'global';

interface StateEntity {
  partitionKey: string;
  rowKey: string;
  state: string;
}

function isConflict(error: unknown): boolean {
  return error instanceof RestError && (error.statusCode === 409 || error.statusCode === 412);
}

const pause = (attempt: number) =>
  new Promise((resolve) =>
    setTimeout(resolve, Math.random() * Math.min(50, 2 ** Math.min(attempt, 6))),
  );

export class TableQuotaStore implements QuotaGate {
  private readonly global: { shards: number; perShard: number };
  /** The last state and ETag this instance wrote, per entity. */
  private readonly known = new Map<string, { text: string; etag: string }>();
  /** The change under way per entity, so this instance's own changes run one at a time. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly table: TableClient,
    private readonly limits: QuotaLimits & { globalUrlsPerMinute: number },
    private readonly now: () => number = Date.now,
  ) {
    this.global = globalShards(limits.globalUrlsPerMinute);
  }

  async reserve(owner: string, reservation: Reservation): Promise<QuotaDecision> {
    const caller = await this.update<CallerQuotaState, QuotaExceeded>(
      owner,
      CALLER_ROW,
      parseCallerState,
      (state, nowMs) => {
        const result = reserveForCaller(state, this.limits, reservation, nowMs);
        return result.ok ? { write: result.state } : { refuse: result.exceeded };
      },
    );
    if ('refused' in caller) return { ok: false, exceeded: caller.refused };
    if (!('written' in caller)) throw new Error('a reservation is always written or refused');

    const shard = `shard-${Math.floor(Math.random() * this.global.shards)}`;
    const global = await this.update<GlobalQuotaState, QuotaExceeded>(
      GLOBAL_PARTITION,
      shard,
      parseGlobalState,
      (state, nowMs) => {
        const result = reserveGlobal(
          state,
          this.global.perShard,
          this.limits.globalUrlsPerMinute,
          nowMs,
        );
        return result.ok ? { write: result.state } : { refuse: result.exceeded };
      },
    );
    if ('refused' in global) {
      // The caller's share goes back: one caller's 429s must not use up everyone's capacity.
      await this.refund(owner, reservation);
      return { ok: false, exceeded: global.refused };
    }
    return {
      ok: true,
      limit: this.limits.urlBurst,
      ...remainingUrls(caller.written, this.limits, this.now()),
    };
  }

  async refund(owner: string, reservation: Reservation): Promise<void> {
    await this.update<CallerQuotaState, never>(
      owner,
      CALLER_ROW,
      parseCallerState,
      (state, nowMs) =>
        state ? { write: refundCaller(state, this.limits, reservation, nowMs) } : { skip: true },
    );
  }

  async release(owner: string, uploadId: string): Promise<void> {
    await this.update<CallerQuotaState, never>(owner, CALLER_ROW, parseCallerState, (state) => {
      const next = releaseOutstanding(state, uploadId);
      return next ? { write: next } : { skip: true };
    });
  }

  /**
   * Decide and write conditionally, one change per entity at a time within this instance
   * (so its own requests never conflict), from the last state this instance wrote when it
   * has one: the ETag condition catches any other instance's write, and then the entity is
   * read afresh. Refusals and no-ops are never decided on remembered state alone, since
   * another instance (the worker freeing a slot) may have changed it since.
   */
  private update<S, R>(
    partitionKey: string,
    rowKey: string,
    parse: (text: string | undefined) => S | undefined,
    decide: (state: S | undefined, nowMs: number) => { write: S } | { refuse: R } | { skip: true },
  ): Promise<{ written: S } | { refused: R } | { skipped: true }> {
    const key = `${partitionKey}/${rowKey}`;
    const run = (this.queues.get(key) ?? Promise.resolve()).then(() =>
      this.apply(key, partitionKey, rowKey, parse, decide),
    );
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return run;
  }

  private async apply<S, R>(
    key: string,
    partitionKey: string,
    rowKey: string,
    parse: (text: string | undefined) => S | undefined,
    decide: (state: S | undefined, nowMs: number) => { write: S } | { refuse: R } | { skip: true },
  ): Promise<{ written: S } | { refused: R } | { skipped: true }> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const remembered = this.known.get(key);
      let current: { state: S | undefined; etag: string } | undefined;
      if (remembered) current = { state: parse(remembered.text), etag: remembered.etag };
      else {
        try {
          const entity = await this.table.getEntity<StateEntity>(partitionKey, rowKey);
          current = { state: parse(entity.state), etag: entity.etag };
        } catch (error) {
          if (!(error instanceof RestError && error.statusCode === 404)) throw error;
        }
      }
      const decision = decide(current?.state, this.now());
      if (!('write' in decision)) {
        if (remembered) {
          this.known.delete(key);
          continue;
        }
        return 'refuse' in decision ? { refused: decision.refuse } : { skipped: true };
      }
      const text = JSON.stringify(decision.write);
      const entity: StateEntity = { partitionKey, rowKey, state: text };
      try {
        const response = current
          ? await this.table.updateEntity(entity, 'Replace', { etag: current.etag })
          : await this.table.createEntity(entity);
        this.remember(key, text, response.etag);
        return { written: decision.write };
      } catch (error) {
        this.known.delete(key);
        if (!isConflict(error)) throw error;
        // Lost to another instance: read afresh at once; back off only when it keeps happening.
        if (!remembered) await pause(attempt);
      }
    }
    throw new QuotaContentionError();
  }

  private remember(key: string, text: string, etag: string | undefined): void {
    if (!etag) return;
    this.known.delete(key);
    this.known.set(key, { text, etag });
    // Oldest first: a bounded memory of recently active callers.
    if (this.known.size > MAX_REMEMBERED)
      this.known.delete(this.known.keys().next().value as string);
  }
}
