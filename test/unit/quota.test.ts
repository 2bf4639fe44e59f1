import { expect } from 'chai';
import {
  OUTSTANDING_GRACE_MS,
  type CallerQuotaState,
  globalShards,
  heldSlots,
  leaseGlobal,
  parseCallerState,
  refundCaller,
  releaseSlot,
  reserveForCaller,
  retryAfterSeconds,
  slotKey,
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
    let state: CallerQuotaState | undefined;
    for (const id of ['a', 'b', 'c']) {
      const r = reserveForCaller(state, big, upload(id), T0);
      if (!r.ok) throw new Error(id);
      state = r.state;
    }
    expect(heldSlots(state, T0)).to.equal(3);
    const refused = reserveForCaller(state, big, upload('d'), T0);
    expect(refused.ok || refused.exceeded.limit).to.equal('outstanding-uploads');
    // The slot lapses at the end of the minute its grace period ends in.
    const lapsesAt = T0 + 600_000 + OUTSTANDING_GRACE_MS;
    expect(slotKey(T0 + 600_000)).to.equal(String(lapsesAt));
    if (!refused.ok) expect(refused.exceeded.resetsAt.getTime()).to.equal(lapsesAt);
    const released = releaseSlot(state, slotKey(T0 + 600_000), T0);
    expect(heldSlots(released, T0)).to.equal(2);
    expect(reserveForCaller(released, big, upload('d'), T0).ok).to.equal(true);
    expect(
      releaseSlot(state, slotKey(T0), T0),
      'nothing to write for a minute never held',
    ).to.equal(undefined);
    expect(reserveForCaller(state, big, upload('d'), lapsesAt).ok).to.equal(true);
    expect(releaseSlot(state, String(lapsesAt), lapsesAt), 'a lapsed slot').to.equal(undefined);
  });

  it('500 outstanding uploads take no more room than one: slots are counted per minute', () => {
    const big = { ...limits, urlBurst: 1000, urlsPerMinute: 1000, outstandingUploads: 500 };
    let state: CallerQuotaState | undefined;
    for (let i = 0; i < 500; i++) {
      // Issued over ten minutes: one slot minute per minute of issuing.
      const at = T0 + i * 1200;
      const r = reserveForCaller(
        state,
        { ...big, bytesPerDay: 1e9 },
        { ...upload(`u${i}`), urlExpiresAtMs: at + 600_000 },
        at,
      );
      if (!r.ok) throw new Error(`refused ${i}: ${r.exceeded.limit}`);
      state = r.state;
    }
    expect(heldSlots(state, T0 + 600_000)).to.equal(500);
    expect(Object.keys(state!.slots)).to.have.length.at.most(11);
    expect(JSON.stringify(state).length).to.be.below(400);
  });

  it('state written with one entry per upload id is read as slots per minute', () => {
    const lapse = T0 + 600_000 + OUTSTANDING_GRACE_MS;
    const legacy = JSON.stringify({
      tokens: 3,
      refilledAtMs: T0,
      outstanding: { a: lapse - 30_000, b: lapse - 20_000, c: lapse + 59_000 },
      day: '2026-12-01',
      bytes: 30,
    });
    expect(parseCallerState(legacy)).to.deep.equal({
      tokens: 3,
      refilledAtMs: T0,
      slots: { [String(lapse)]: 2, [String(lapse + 60_000)]: 1 },
      day: '2026-12-01',
      bytes: 30,
    });
    expect(
      parseCallerState(
        JSON.stringify({ tokens: 1, refilledAtMs: 0, slots: { x: 'y' }, day: 'd', bytes: 0 }),
      ),
    ).to.equal(undefined);
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
    const refunded = refundCaller(r.state, limits, upload('a', 40), slotKey(T0 + 600_000), T0);
    expect(refunded).to.deep.include({ tokens: 2, bytes: 0, slots: {} });
    const withoutSlot = refundCaller(r.state, limits, upload('a', 40), undefined, T0);
    expect(heldSlots(withoutSlot, T0), 'a record that held no slot frees none').to.equal(1);
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
