import { expect } from 'chai';
import {
  describeDeliveryNotice,
  describeOutcomeEvent,
  parseSseFrames,
} from '../../local/event-watch';

describe('event-watch', () => {
  it('splits Server-Sent Events into frames, skipping comments and keeping a partial frame', () => {
    const { frames, rest } = parseSseFrames(
      ': hello\n\nevent: cloudevent\ndata: {"a":\ndata: 1}\n\n: keep-alive\n\nevent: delivery\ndata: {"b"',
    );
    expect(frames).to.deep.equal([{ event: 'cloudevent', data: '{"a":\n1}' }]);
    expect(rest).to.equal('event: delivery\ndata: {"b"');
  });

  it('says what a rejection was, and a dead letter', () => {
    expect(
      describeOutcomeEvent({
        type: 'directdrop.upload.rejected',
        subject: 'uploads/u1',
        time: 't',
        data: { status: 'rejected', reason: 'not-an-image', metadata: {} },
      }),
    ).to.equal('t  directdrop.upload.rejected  uploads/u1  rejected  not-an-image');
    expect(
      describeDeliveryNotice({
        subscription: 'S',
        url: 'http://localhost:3000/h',
        id: 'u1',
        type: 'directdrop.upload.processed',
        attempt: 8,
        outcome: 'dead-lettered',
        result: 'TimedOut',
        deadLetter: 'event-deadletters/S/2026/1/1/0/x.json',
      }),
    ).to.equal(
      '  → http://localhost:3000/h: directdrop.upload.processed u1 dead-lettered after 8 attempt(s) (TimedOut) → event-deadletters/S/2026/1/1/0/x.json',
    );
  });
});
