import { expect } from 'chai';
import {
  CLOCK_SKEW_ALLOWANCE_MS,
  readSasPolicy,
  uploadSasPolicy,
} from '../../functions/core/sas-policy';

describe('sas-policy', () => {
  const now = new Date('2026-11-26T12:00:00Z');

  it('grants create only, back-dated for clock skew, expiring after the TTL', () => {
    const policy = uploadSasPolicy(now, 600);
    expect(policy.permissions).to.equal('c');
    expect(now.getTime() - policy.startsOn.getTime()).to.equal(CLOCK_SKEW_ALLOWANCE_MS);
    expect(policy.expiresOn.toISOString()).to.equal('2026-11-26T12:10:00.000Z');
  });

  it('grants read only for output URLs', () => {
    const policy = readSasPolicy(now, 900);
    expect(policy.permissions).to.equal('r');
    expect(policy.expiresOn.toISOString()).to.equal('2026-11-26T12:15:00.000Z');
  });
});
