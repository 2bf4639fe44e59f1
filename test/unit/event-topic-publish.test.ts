import { expect } from 'chai';
import {
  MAX_PUBLISH_BYTES,
  type PublishRequest,
  eventGridErrorBody,
  judgePublish,
  keyMatches,
} from '../../local/event-topic-publish';

const KEY = 'k'.repeat(44);
const event = { specversion: '1.0', id: '1', source: 'urn:directdrop:local', type: 't', data: {} };

function request(overrides: Partial<PublishRequest> = {}, body: unknown = [event]): PublishRequest {
  return {
    method: 'POST',
    target: '/api/events?api-version=2018-01-01',
    headers: {
      'aeg-sas-key': KEY,
      'content-type': 'application/cloudevents-batch+json; charset=utf-8',
    },
    body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    ...overrides,
  };
}
const refusal = (r: PublishRequest) => {
  const verdict = judgePublish(r, KEY);
  return verdict.ok ? undefined : verdict.refusal;
};

describe('event-topic-publish', () => {
  it('accepts a CloudEvents batch, and one structured event', () => {
    expect(judgePublish(request(), KEY)).to.deep.equal({ ok: true, events: [event] });
    const single = request(
      { headers: { 'aeg-sas-key': KEY, 'content-type': 'application/cloudevents+json' } },
      event,
    );
    expect(judgePublish(single, KEY)).to.deep.equal({ ok: true, events: [event] });
  });

  it('answers in the order of the service: route, method, api-version, key, size, type, events', () => {
    expect(refusal(request({ target: '/api/other?api-version=2018-01-01' }))?.status).to.equal(404);
    expect(refusal(request({ method: 'GET' }))).to.deep.include({
      status: 405,
      headers: { allow: 'POST' },
    });
    expect(refusal(request({ target: '/api/events' }))?.status).to.equal(400);
    expect(refusal(request({ target: '/api/events?api-version=2099-01-01' }))?.status).to.equal(
      400,
    );
    expect(
      refusal(request({ headers: { 'content-type': 'application/cloudevents-batch+json' } })),
    ).to.deep.include({ status: 401, code: 'Unauthorized' });
    expect(refusal(request({ body: Buffer.alloc(MAX_PUBLISH_BYTES + 1, 0x20) }))?.status).to.equal(
      413,
    );
    expect(
      refusal(request({ headers: { 'aeg-sas-key': KEY, 'content-type': 'application/json' } }))
        ?.status,
    ).to.equal(400);
  });

  it('names the unsupported credentials a 401 was about', () => {
    const token = refusal(
      request({
        headers: {
          'aeg-sas-token': 'r=x&e=y&s=z',
          'content-type': 'application/cloudevents-batch+json',
        },
      }),
    );
    expect(token?.message).to.include('aeg-sas-token');
    const bearer = refusal(
      request({
        headers: {
          authorization: 'Bearer x',
          'content-type': 'application/cloudevents-batch+json',
        },
      }),
    );
    expect(bearer?.message).to.include('Entra');
    expect(refusal(request({ headers: { 'aeg-sas-key': `${KEY}x` } }))?.status).to.equal(401);
  });

  it('refuses malformed events with 400 naming the problem', () => {
    const cases: Array<[unknown, string]> = [
      ['{', 'not valid JSON'],
      [event, 'must be a JSON array'],
      [[], 'no events'],
      [[42], 'not a JSON object'],
      [[{ ...event, specversion: '0.3' }], 'specversion'],
      [[{ ...event, id: '' }], "'id'"],
      [[{ ...event, source: undefined }], "'source'"],
      [[{ ...event, type: 7 }], "'type'"],
      [[{ ...event, Upper: 'x' }], "'Upper'"],
      [[{ ...event, time: 'yesterday' }], "'time'"],
      [[{ ...event, subject: 3 }], "'subject'"],
      [[{ ...event, data_base64: 'AA==' }], 'exclusive'],
    ];
    for (const [body, words] of cases) {
      const answer = refusal(request({}, typeof body === 'string' ? body : body));
      expect(answer?.status, JSON.stringify(body)).to.equal(400);
      expect(answer?.message, JSON.stringify(body)).to.include(words);
    }
  });

  it("shapes errors as Event Grid's {error:{code,message,details}}", () => {
    expect(eventGridErrorBody({ status: 401, code: 'Unauthorized', message: 'no' })).to.deep.equal({
      error: {
        code: 'Unauthorized',
        message: 'no',
        details: [{ code: 'Unauthorized', message: 'no' }],
      },
    });
  });

  it('compares keys by digest, so any length is simply unequal', () => {
    expect(keyMatches(KEY, KEY)).to.equal(true);
    expect(keyMatches(undefined, KEY)).to.equal(false);
    expect(keyMatches('', KEY)).to.equal(false);
    expect(keyMatches(KEY.slice(1), KEY)).to.equal(false);
  });
});
