import { expect } from 'chai';
import {
  OUTSTANDING_GRACE_MS,
  globalShards,
  leaseGlobal,
  refundCaller,
  releaseOutstanding,
  reserveForCaller,
  retryAfterSeconds,
} from '../../functions/core/quota';

const limits = { urlsPerMinute: 6, urlBurst: 2, outstandingUploads: 3, bytesPerDay: 100 };
const T0 = Date.parse('2026-12-01T23:59:00.000Z');
const upload = (uploadId: string, size = 10) => ({ uploadId, size, urlExpiresAtMs: T0 + 600_000 });

describe('quota', () => {
  it('spends the burst, then refills at the per-minute pace', () => {
    let r = reserveForCaller(undefined, limits, upload('a'), T0);
    if (!r.ok) throw new Error('first refused');
    r = reserveForCaller(r.state, limits, upload('b'), T0);
    if (!r.ok) throw new Error('second refused');
    const third = reserveForCaller(r.state, limits, upload('c'), T0);
    expect(third.ok).to.equal(false);
    if (third.ok) return;
    expect(third.exceeded.limit).to.equal('urls-per-minute');
    // 6 per minute: one token every 10 s.
    expect(third.exceeded.resetsAt.getTime() - T0).to.equal(10_000);
    expect(retryAfterSeconds(third.exceeded, T0)).to.equal(10);
    expect(reserveForCaller(r.state, limits, upload('c'), T0 + 10_000).ok).to.equal(true);
  });

  it('counts outstanding uploads until released or lapsed', () => {
    const big = { ...limits, urlBurst: 10, urlsPerMinute: 1000 };
    let state;
    for (const id of ['a', 'b', 'c']) {
      const r = reserveForCaller(state, big, upload(id), T0);
      if (!r.ok) throw new Error(id);
      state = r.state;
    }
    const refused = reserveForCaller(state, big, upload('d'), T0);
    expect(refused.ok || refused.exceeded.limit).to.equal('outstanding-uploads');
    if (!refused.ok)
      expect(refused.exceeded.resetsAt.getTime()).to.equal(T0 + 600_000 + OUTSTANDING_GRACE_MS);
    const released = releaseOutstanding(state, 'b');
    expect(released && Object.keys(released.outstanding)).to.deep.equal(['a', 'c']);
    expect(reserveForCaller(released, big, upload('d'), T0).ok).to.equal(true);
    expect(releaseOutstanding(state, 'zzz'), 'nothing to write for an unknown id').to.equal(
      undefined,
    );
    const lapsed = T0 + 600_000 + OUTSTANDING_GRACE_MS + 1;
    expect(reserveForCaller(state, big, upload('d'), lapsed).ok).to.equal(true);
  });

  it('counts declared bytes per UTC day and resets at midnight', () => {
    const big = { ...limits, urlBurst: 10, urlsPerMinute: 1000, outstandingUploads: 10 };
    const r = reserveForCaller(undefined, big, upload('a', 90), T0);
    if (!r.ok) throw new Error('refused');
    const over = reserveForCaller(r.state, big, upload('b', 11), T0);
    expect(over.ok).to.equal(false);
    if (!over.ok) expect(over.exceeded.resetsAt.toISOString()).to.equal('2026-12-02T00:00:00.000Z');
    expect(reserveForCaller(r.state, big, upload('b', 10), T0).ok).to.equal(true);
    expect(reserveForCaller(r.state, big, upload('b', 11), T0 + 60_000).ok).to.equal(true);
  });

  it('a refund gives back the token, the slot and the bytes', () => {
    const r = reserveForCaller(undefined, limits, upload('a', 40), T0);
    if (!r.ok) throw new Error('refused');
    const refunded = refundCaller(r.state, limits, upload('a', 40), T0);
    expect(refunded).to.deep.include({ tokens: 2, bytes: 0, outstanding: {} });
  });

  it('global: a fixed minute window per shard; small caps stay one exact counter', () => {
    expect(globalShards(3)).to.deep.equal({ shards: 1, perShard: 3, block: 1 });
    expect(globalShards(6000)).to.deep.equal({ shards: 8, perShard: 750, block: 37 });
    let state;
    for (let i = 0; i < 3; i++) {
      const r = leaseGlobal(state, 3, 3, 1, T0);
      if (!r.ok) throw new Error(String(i));
      expect(r.granted).to.equal(1);
      state = r.state;
    }
    const refused = leaseGlobal(state, 3, 3, 1, T0);
    expect(refused.ok).to.equal(false);
    if (!refused.ok)
      expect(refused.exceeded.resetsAt.toISOString()).to.equal('2026-12-02T00:00:00.000Z');
    expect(leaseGlobal(state, 3, 3, 1, T0 + 60_000).ok).to.equal(true);
  });

  it('global leases: blocks of tokens, the last one short, never more than the shard holds', () => {
    let state;
    const granted = [];
    for (;;) {
      const r = leaseGlobal(state, 750, 6000, 37, T0);
      if (!r.ok) break;
      granted.push(r.granted);
      state = r.state;
    }
    expect(granted.reduce((a, b) => a + b, 0)).to.equal(750);
    expect(granted.at(-1)).to.equal(750 - 37 * 20);
    // A lease is good in its own minute only: the next minute starts from nothing leased.
    const next = leaseGlobal(state, 750, 6000, 37, T0 + 60_000);
    expect(next.ok && next.state.count).to.equal(37);
  });
});
