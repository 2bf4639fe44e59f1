import { expect } from 'chai';
import { PENDING_DEADLINE_MS } from '../../functions/core/definitions';
import { SETTING_LIMITS } from '../../functions/core/settings';
import {
  LANDING_SWEEP_AGE_MS,
  SWEEP_MARGIN_MS,
  folderIsLeftover,
  gateRecordIsLeftover,
  landedAction,
  uploadEntry,
  zoneSweepAgeMs,
} from '../../functions/core/sweep';

const uploadId = '3f2b8c1e-9d4a-4b6f-8e2a-1c3d5e7f9a0b';

describe('sweep', () => {
  it('waits out the longest URL lifetime plus a margin before touching a landing or zone blob', () => {
    expect(LANDING_SWEEP_AGE_MS).to.equal(
      SETTING_LIMITS.uploadUrlTtlSeconds.max * 1000 + SWEEP_MARGIN_MS,
    );
    expect(zoneSweepAgeMs({ name: 'cams', retentionDays: 1, maxSasHours: 48 })).to.equal(
      48 * 3600_000 + SWEEP_MARGIN_MS,
    );
    const young = { ageMs: LANDING_SWEEP_AGE_MS, sweepAgeMs: LANDING_SWEEP_AGE_MS };
    for (const tombstone of [true, false])
      expect(landedAction({ ...young, tombstone, attributable: true, hasOutcome: true })).to.equal(
        'keep',
      );
  });

  it('deletes old tombstones and unattributable blobs, finishes recorded ones, gives up on the long pending', () => {
    const old = { ageMs: LANDING_SWEEP_AGE_MS + 1, sweepAgeMs: LANDING_SWEEP_AGE_MS };
    const blob = { ...old, tombstone: false, attributable: true, hasOutcome: false };
    expect(landedAction({ ...blob, tombstone: true })).to.equal('delete');
    expect(landedAction({ ...blob, attributable: false })).to.equal('delete');
    expect(landedAction({ ...blob, hasOutcome: true })).to.equal('finish');
    // Still pending (a slow scan, a backlog): left to its events until the deadline.
    expect(landedAction(blob)).to.equal('keep');
    expect(landedAction({ ...blob, ageMs: PENDING_DEADLINE_MS + 1 })).to.equal('give-up');
  });

  it("tells an upload's manifest, folder pointers and gate records apart", () => {
    const folder = 'ab'.repeat(16);
    expect(uploadEntry(uploadId, `${uploadId}/manifest.json`)).to.deep.equal({ kind: 'manifest' });
    expect(uploadEntry(uploadId, `${uploadId}/folders/${folder}`)).to.deep.equal({
      kind: 'folder-pointer',
      folder,
    });
    expect(uploadEntry(uploadId, `${uploadId}/gate/0x8D1/pending.json`)).to.deep.equal({
      kind: 'gate-record',
    });
    expect(uploadEntry(uploadId, `${uploadId}/folders/../x`)).to.deep.equal({ kind: 'other' });
  });

  it('keeps the named folder and young ones, and gate records until the outcome', () => {
    const [a, b] = ['a'.repeat(32), 'b'.repeat(32)];
    expect(folderIsLeftover(a, SWEEP_MARGIN_MS + 1, a, true)).to.equal(false);
    expect(folderIsLeftover(b, SWEEP_MARGIN_MS + 1, a, true)).to.equal(true);
    expect(folderIsLeftover(b, SWEEP_MARGIN_MS - 1, a, true)).to.equal(false);
    expect(folderIsLeftover(a, PENDING_DEADLINE_MS - 1, undefined, false)).to.equal(false);
    expect(folderIsLeftover(a, PENDING_DEADLINE_MS + 1, undefined, false)).to.equal(true);
    expect(gateRecordIsLeftover(SWEEP_MARGIN_MS + 1, true)).to.equal(true);
    expect(gateRecordIsLeftover(PENDING_DEADLINE_MS + 1, false)).to.equal(false);
  });
});
