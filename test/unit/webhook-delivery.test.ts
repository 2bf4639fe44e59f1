import { readFileSync } from 'node:fs';
import { WEBHOOK_SECRET_HEADER } from '../../functions/core/definitions';
import { join } from 'node:path';
import { expect } from 'chai';
import type { PublishedCloudEvent } from '../../local/event-topic-publish';
import {
  EVENT_GRID_RETRY_SCHEDULE_MS,
  LOCAL_DELIVERY_POLICY,
  LOCAL_RETRY_SCHEDULE_MS,
  deadLetterBlobName,
  deadLetterRecord,
  decideAfterAttempt,
  deliveryHeaders,
  deliveryOutcome,
  handshakeHeaders,
  handshakeVerdict,
  maxAttempts,
  webhookSubscription,
} from '../../local/webhook-delivery';

const sample = JSON.parse(
  readFileSync(join(__dirname, '../fixtures/event-grid-cloudevents-webhook-delivery.json'), 'utf8'),
) as {
  headers: string[];
  event: PublishedCloudEvent;
  deadLetterEvent: Record<string, unknown>;
};

describe('webhook-delivery', () => {
  describe('retry schedule', () => {
    it("is Event Grid's (10 s, 30 s, 1 min, 5 min, 10 min, 30 min, 1 h) with a minute per second", () => {
      expect(EVENT_GRID_RETRY_SCHEDULE_MS).to.deep.equal([
        10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000,
      ]);
      expect(LOCAL_RETRY_SCHEDULE_MS).to.deep.equal([
        167, 500, 1_000, 5_000, 10_000, 30_000, 60_000,
      ]);
    });

    it('is bounded: eight attempts, about 107 s from the first to the last', () => {
      expect(maxAttempts(LOCAL_DELIVERY_POLICY)).to.equal(8);
      const total = LOCAL_RETRY_SCHEDULE_MS.reduce((a, b) => a + b, 0);
      expect(total).to.equal(106_667);
    });

    it('retries a failure after the delay of its step, and dead-letters the last attempt', () => {
      const failure = { kind: 'status', status: 500 } as const;
      LOCAL_RETRY_SCHEDULE_MS.forEach((delayMs, i) => {
        expect(decideAfterAttempt(failure, i + 1, LOCAL_DELIVERY_POLICY)).to.deep.equal({
          action: 'retry',
          delayMs,
        });
      });
      expect(decideAfterAttempt(failure, 8, LOCAL_DELIVERY_POLICY)).to.deep.equal({
        action: 'dead-letter',
        reason: 'MaxDeliveryAttemptsExceeded',
      });
      expect(decideAfterAttempt({ kind: 'timeout' }, 8, LOCAL_DELIVERY_POLICY).action).to.equal(
        'dead-letter',
      );
    });

    it('counts only 200 to 204 as delivered', () => {
      for (const status of [200, 201, 202, 203, 204]) {
        expect(
          decideAfterAttempt({ kind: 'status', status }, 1, LOCAL_DELIVERY_POLICY),
        ).to.deep.equal({ action: 'delivered' });
      }
      for (const status of [205, 301, 302, 404, 408, 429, 500, 503]) {
        expect(
          decideAfterAttempt({ kind: 'status', status }, 1, LOCAL_DELIVERY_POLICY).action,
          String(status),
        ).to.equal('retry');
      }
    });

    it("never retries a webhook's 400, 401, 403 or 413", () => {
      for (const status of [400, 401, 403, 413]) {
        expect(
          decideAfterAttempt({ kind: 'status', status }, 1, LOCAL_DELIVERY_POLICY),
        ).to.deep.equal({ action: 'dead-letter', reason: 'UndeliverableDueToClientError' });
      }
    });
  });

  it('names outcomes as Event Grid dead letters do', () => {
    expect(deliveryOutcome({ kind: 'status', status: 404 })).to.equal('NotFound');
    expect(deliveryOutcome({ kind: 'status', status: 401 })).to.equal('Unauthorized');
    expect(deliveryOutcome({ kind: 'status', status: 503 })).to.equal('Busy');
    expect(deliveryOutcome({ kind: 'status', status: 500 })).to.equal('GenericError');
    expect(deliveryOutcome({ kind: 'timeout' })).to.equal('TimedOut');
    expect(deliveryOutcome({ kind: 'network', detail: 'ECONNREFUSED' })).to.equal('GenericError');
  });

  describe('handshake', () => {
    it('asks with WebHook-Request-Origin: eventgrid.azure.net', () => {
      expect(handshakeHeaders()).to.deep.equal({ 'WebHook-Request-Origin': 'eventgrid.azure.net' });
    });

    it('takes 200 with WebHook-Allowed-Origin of the origin or *, and nothing else', () => {
      expect(handshakeVerdict(200, 'eventgrid.azure.net').accepted).to.equal(true);
      expect(handshakeVerdict(200, 'EventGrid.Azure.Net ').accepted).to.equal(true);
      expect(handshakeVerdict(200, '*').accepted).to.equal(true);
      for (const [status, origin] of [
        [200, null],
        [200, 'example.com'],
        [204, 'eventgrid.azure.net'],
        [405, '*'],
        [500, '*'],
      ] as const) {
        expect(handshakeVerdict(status, origin).accepted, `${status} ${origin}`).to.equal(false);
      }
    });
  });

  it("sends the headers Microsoft's handler docs list, plus the secret, for one structured event", () => {
    const subscription = webhookSubscription('http://localhost:3000/hooks');
    const headers = deliveryHeaders(sample.event, subscription, 3, 's3cret');
    expect(Object.keys(headers).filter((h) => h.startsWith('aeg-'))).to.have.members(
      sample.headers,
    );
    expect(headers).to.deep.equal({
      'Content-Type': 'application/cloudevents+json; charset=utf-8',
      'aeg-subscription-name': subscription.name,
      'aeg-delivery-count': '2',
      'aeg-event-type': 'Notification',
      'aeg-metadata-version': '1.0',
      'aeg-data-version': '1.0',
      [WEBHOOK_SECRET_HEADER]: 's3cret',
    });
    expect(subscription.name).to.equal(subscription.name.toUpperCase());
  });

  it('names one subscription and queue per URL, stable across runs', () => {
    const a = webhookSubscription('http://localhost:3000/hooks');
    expect(webhookSubscription('http://localhost:3000/hooks')).to.deep.equal(a);
    expect(webhookSubscription('http://localhost:3001/hooks').queueName).to.not.equal(a.queueName);
    expect(a.queueName).to.match(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/);
  });

  it("shapes the dead letter as Microsoft's CloudEvents sample, field for field, in order", () => {
    const record = deadLetterRecord(sample.event, {
      reason: 'MaxDeliveryAttemptsExceeded',
      attempts: 1,
      lastResult: { kind: 'status', status: 404 },
      publishTime: new Date('2020-08-13T21:21:36.401Z'),
      lastAttemptTime: new Date('2020-08-13T21:21:37.002Z'),
    });
    // The sample's fields first and as spelled there; then the two the Event Grid schema's record adds.
    expect(Object.keys(record)).to.deep.equal([
      ...Object.keys(sample.deadLetterEvent).filter((k) => k !== 'publishtime'),
      'lasthttpstatuscode',
      'publishtime',
      'lastdeliveryattempttime',
    ]);
    for (const [key, value] of Object.entries(sample.deadLetterEvent)) {
      if (key === 'publishtime')
        expect(record[key]).to.match(/^\d{4}-\d{2}-\d{2}T[\d:]{8}\.\d{7}Z$/);
      else expect(record[key], key).to.deep.equal(value);
    }
    expect(record.lasthttpstatuscode).to.equal(404);
    expect(record.lastdeliveryattempttime).to.equal('2020-08-13T21:21:37.0020000Z');
  });

  it('files dead letters under the upper-case subscription and the unpadded UTC date and hour', () => {
    const subscription = webhookSubscription('http://localhost:3000/hooks');
    expect(
      deadLetterBlobName(
        subscription,
        new Date('2026-02-05T07:08:09Z'),
        '11111111-1111-1111-1111-111111111111',
      ),
    ).to.equal(`${subscription.name}/2026/2/5/7/11111111-1111-1111-1111-111111111111.json`);
  });
});
