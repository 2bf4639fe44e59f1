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

  /** Read, decide, write conditionally; again from the read when another writer won. */
  private async update<S, R>(
    partitionKey: string,
    rowKey: string,
    parse: (text: string | undefined) => S | undefined,
    decide: (state: S | undefined, nowMs: number) => { write: S } | { refuse: R } | { skip: true },
  ): Promise<{ written: S } | { refused: R } | { skipped: true }> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      let current: { state: S | undefined; etag: string } | undefined;
      try {
        const entity = await this.table.getEntity<StateEntity>(partitionKey, rowKey);
        current = { state: parse(entity.state), etag: entity.etag };
      } catch (error) {
        if (!(error instanceof RestError && error.statusCode === 404)) throw error;
      }
      const decision = decide(current?.state, this.now());
      if ('refuse' in decision) return { refused: decision.refuse };
      if ('skip' in decision) return { skipped: true };
      const entity: StateEntity = { partitionKey, rowKey, state: JSON.stringify(decision.write) };
      try {
        if (current) await this.table.updateEntity(entity, 'Replace', { etag: current.etag });
        else await this.table.createEntity(entity);
        return { written: decision.write };
      } catch (error) {
        if (!isConflict(error)) throw error;
        await pause(attempt);
      }
    }
    throw new QuotaContentionError();
  }
}
