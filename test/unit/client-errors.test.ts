import { expect } from 'chai';
import { REJECT_REASON_MESSAGES, type RejectReason } from '../../client/src/errors';
import type { RejectReason as ServerRejectReason } from '../../functions/core/manifest';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// The package ships without the server, so it copies the list; `npm run typecheck` fails here when they differ.
const sameReasons: Same<RejectReason, ServerRejectReason> = true;

describe('client errors', () => {
  it('know every rejection reason the server records, with a sentence for each', () => {
    expect(sameReasons).to.equal(true);
    for (const message of Object.values(REJECT_REASON_MESSAGES)) expect(message).to.match(/\.$/);
  });
});
