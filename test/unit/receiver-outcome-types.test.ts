/**
 * The receiver's copy of the outcome event types equals the server's: the same event types,
 * and the same TypeScript type (each accepts exactly what the other does), with `reason`
 * compared as a string on both sides (the receiver's is open so a newer reason still types).
 */
import { expect } from 'chai';
import {
  OUTCOME_EVENT_TYPES as SERVER_TYPES,
  type UploadOutcomeEvent as ServerEvent,
} from '../../functions/core/outcome-events';
import {
  OUTCOME_EVENT_TYPES as RECEIVER_TYPES,
  type UploadOutcomeEvent as ReceiverEvent,
} from '../../receiver/src/index';

type WidenReason<T> = T extends { data: infer D }
  ? Omit<T, 'data'> & {
      data: D extends { reason: unknown } ? Omit<D, 'reason'> & { reason: string } : D;
    }
  : never;
type Equal<A, B> =
  (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
type MutuallyAssignable<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

// Compile-time: fails `npm run typecheck` when the two drift apart.
const sameEvents: MutuallyAssignable<WidenReason<ServerEvent>, WidenReason<ReceiverEvent>> = true;
const sameTypeNames: Equal<ServerEvent['type'], ReceiverEvent['type']> = true;

describe('receiver: its event types equal the server’s', function () {
  it('lists the same event types, in the same order', function () {
    expect([...RECEIVER_TYPES]).to.deep.equal(Object.values(SERVER_TYPES));
    expect([sameEvents, sameTypeNames]).to.deep.equal([true, true]);
  });
});
