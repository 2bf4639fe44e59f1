/**
 * The receiver's parser: CloudEvents 1.0's rules, then directdrop's documented fields, each
 * refusal naming the field at fault; the delivery modes and content types Event Grid uses.
 */
import { expect } from 'chai';
import {
  OUTCOME_DATA_FIELDS,
  OUTCOME_EVENT_TYPES,
  ReceiverError,
  type UploadOutcomeEvent,
} from '../../receiver/src/index';
import { deliveryMode, parseDelivery } from '../../receiver/src/parse';
import { toOutcomeEvent } from '../../receiver/src/validate';
import {
  EVERY_KIND,
  deletedEvent,
  failedEvent,
  processedEvent,
  rejectedEvent,
} from '../helpers/outcome-events';

type Mutable = Record<string, unknown> & { data: Record<string, unknown> };
const mutable = (event: UploadOutcomeEvent) => structuredClone(event) as unknown as Mutable;

function refusal(run: () => unknown): ReceiverError {
  try {
    run();
  } catch (error) {
    expect(error).to.be.instanceOf(ReceiverError);
    return error as ReceiverError;
  }
  throw new Error('expected a refusal');
}

describe('receiver: parsing outcome events', function () {
  describe('directdrop outcome events', function () {
    for (const make of EVERY_KIND) {
      it(`accepts a documented ${make().type} event unchanged`, function () {
        const event = make();
        expect(toOutcomeEvent(structuredClone(event))).to.deep.equal(event);
      });
    }

    it('narrows on type: a processed event has outputs, a rejected one a reason', function () {
      const kinds = EVERY_KIND.map((make) => toOutcomeEvent(make()));
      const summary = kinds.map((event) => {
        switch (event.type) {
          case 'directdrop.upload.processed':
            return event.data.outputs.map((o) => o.name).join('+');
          case 'directdrop.upload.rejected':
          case 'directdrop.upload.failed':
            return event.data.reason;
          case 'directdrop.upload.deleted':
            return event.data.deletedAt;
        }
      });
      expect(summary).to.deep.equal([
        'thumb+large',
        'malware',
        'not-uploaded',
        '2026-12-02T09:15:00.000Z',
      ]);
    });

    for (const type of OUTCOME_EVENT_TYPES) {
      const make = EVERY_KIND.find((m) => m().type === type)!;
      for (const field of OUTCOME_DATA_FIELDS[type].required) {
        it(`${type}: refuses an event without data.${field}`, function () {
          const event = mutable(make());
          delete event.data[field];
          const error = refusal(() => toOutcomeEvent(event));
          expect([error.code, error.status, error.message]).to.deep.equal([
            'invalid-event',
            400,
            `data.${field}: missing`,
          ]);
        });
      }
    }

    const wrongValues: Array<[string, (e: Mutable) => void, string, () => UploadOutcomeEvent]> = [
      [
        'a zero width',
        (e) => ((e.data.outputs as Mutable[])[1].width = 0),
        'data.outputs[1].width: expected a positive integer',
        processedEvent,
      ],
      [
        'a fractional size',
        (e) => ((e.data.original as Mutable).size = 1.5),
        'data.original.size: expected an integer ≥ 0',
        processedEvent,
      ],
      [
        'outputs not an array',
        (e) => (e.data.outputs = {}),
        'data.outputs: expected an array',
        processedEvent,
      ],
      [
        'a metadata value that is not a string',
        (e) => (e.data.metadata = { postId: 42 }),
        'data.metadata.postId: expected a string',
        processedEvent,
      ],
      [
        'an unknown caller kind',
        (e) => (e.data.caller = { kind: 'robot' }),
        'data.caller.kind: expected one of oidc, functionKey, anonymous, dropZone',
        processedEvent,
      ],
      [
        'a caller kind from the prototype',
        (e) => (e.data.caller = { kind: 'toString' }),
        'data.caller.kind: expected one of oidc, functionKey, anonymous, dropZone',
        processedEvent,
      ],
      [
        'an oidc caller without a subject',
        (e) => (e.data.caller = { kind: 'oidc', issuer: 'https://i' }),
        'data.caller.subject: expected a non-empty string',
        rejectedEvent,
      ],
      [
        'a status that is not the type',
        (e) => (e.data.status = 'processed'),
        'data.status: expected "rejected" for directdrop.upload.rejected',
        rejectedEvent,
      ],
      [
        'a subject naming another upload',
        (e) => (e.subject = 'uploads/someone-else'),
        'subject: expected uploads/<data.uploadId>',
        failedEvent,
      ],
      [
        'a timestamp that is not RFC 3339',
        (e) => (e.data.deletedAt = '02/12/2026'),
        'data.deletedAt: expected an RFC 3339 timestamp',
        deletedEvent,
      ],
      [
        'an impossible date',
        (e) => (e.data.issuedAt = '2026-13-45T25:61:00Z'),
        'data.issuedAt: expected an RFC 3339 timestamp',
        deletedEvent,
      ],
      [
        'data as a string',
        (e) => ((e as Record<string, unknown>).data = '{}'),
        'data: expected an object',
        failedEvent,
      ],
      [
        'another data content type',
        (e) => (e.datacontenttype = 'text/plain'),
        'datacontenttype: expected application/json',
        failedEvent,
      ],
      ['no time', (e) => delete e.time, 'time: missing', processedEvent],
    ];
    for (const [what, change, message, make] of wrongValues) {
      it(`refuses ${what}, naming the field`, function () {
        const event = mutable(make());
        change(event);
        const error = refusal(() => toOutcomeEvent(event));
        expect(error.message).to.equal(message);
      });
    }

    it('refuses event types it does not know, directdrop or not', function () {
      for (const type of ['directdrop.upload.reprocessed', 'Microsoft.Storage.BlobCreated']) {
        const event = mutable(processedEvent());
        event.type = type;
        expect(refusal(() => toOutcomeEvent(event)).code).to.equal('unknown-event-type');
      }
    });

    it('keeps data fields and extension attributes it does not know, so the server can add some', function () {
      const event = mutable(processedEvent());
      event.data.futureField = { anything: true };
      event.traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      expect(toOutcomeEvent(event)).to.deep.equal(event);
    });

    it('accepts only the configured sources when given', function () {
      const event = processedEvent();
      expect(toOutcomeEvent(event, { sources: ['urn:directdrop:dev'] })).to.equal(event);
      const error = refusal(() => toOutcomeEvent(event, { sources: ['urn:directdrop:prod'] }));
      expect([error.code, error.status]).to.deep.equal(['unexpected-source', 400]);
    });
  });

  describe('CloudEvents 1.0 rules', function () {
    const broken: Array<[string, (e: Mutable) => void, string]> = [
      ['another specversion', (e) => (e.specversion = '0.3'), 'specversion: expected "1.0"'],
      // The cloudevents SDK would invent an id here, which deduplication cannot survive.
      ['no id', (e) => delete e.id, 'id: expected a non-empty string'],
      ['an empty source', (e) => (e.source = ''), 'source: expected a non-empty string'],
      ['a numeric type', (e) => (e.type = 7), 'type: expected a non-empty string'],
      [
        'a time that does not parse',
        (e) => (e.time = 'yesterday'),
        'time: expected an RFC 3339 timestamp',
      ],
      [
        'an upper-case attribute',
        (e) => (e.traceParent = 'x'),
        'traceParent: attribute names are lower-case letters and digits',
      ],
      [
        'an object-valued extension',
        (e) => (e.extra = { a: 1 }),
        'extra: extension attributes are strings, numbers or booleans',
      ],
      [
        'data beside data_base64',
        (e) => (e.data_base64 = 'e30='),
        'data and data_base64 are mutually exclusive',
      ],
    ];
    for (const [what, change, message] of broken) {
      it(`refuses ${what}`, function () {
        const event = mutable(processedEvent());
        change(event);
        const error = refusal(() => toOutcomeEvent(event));
        expect([error.code, error.message]).to.deep.equal(['invalid-cloudevent', message]);
      });
    }

    it('refuses a body that is not an object', function () {
      for (const value of [null, [], 'event', 42]) {
        expect(refusal(() => toOutcomeEvent(value)).message).to.equal('expected a JSON object');
      }
    });
  });

  describe('delivery modes', function () {
    it('reads structured and batched content types as Event Grid and other senders write them', function () {
      const cases: Array<[string, string]> = [
        ['application/cloudevents+json; charset=utf-8', 'structured'],
        ['application/cloudevents+json;charset=UTF-8', 'structured'],
        ['Application/CloudEvents+JSON', 'structured'],
        ['application/cloudevents+json; charset="utf-8"', 'structured'],
        ['application/cloudevents-batch+json; charset=utf-8', 'batch'],
      ];
      for (const [contentType, mode] of cases)
        expect(deliveryMode(contentType), contentType).to.equal(mode);
    });

    it('refuses with 415 what is not a structured or batched CloudEvents body in UTF-8', function () {
      for (const contentType of [
        null,
        'application/json',
        'text/plain',
        'application/cloudevents+json; charset=utf-16',
        'application/cloudevents+jsonx',
      ]) {
        const error = refusal(() => deliveryMode(contentType));
        expect([error.code, error.status], String(contentType)).to.deep.equal([
          'unsupported-content-type',
          415,
        ]);
      }
    });

    it('parses a batch in order, returning an event repeated within it once', function () {
      const batch = [processedEvent(), rejectedEvent(), processedEvent()];
      const events = parseDelivery('batch', JSON.stringify(batch));
      expect(events.map((e) => e.type)).to.deep.equal([
        'directdrop.upload.processed',
        'directdrop.upload.rejected',
      ]);
    });

    it('refuses a whole batch for one bad event, naming it', function () {
      const bad = mutable(rejectedEvent());
      delete bad.data.reason;
      const error = refusal(() => parseDelivery('batch', JSON.stringify([processedEvent(), bad])));
      expect(error.message).to.equal('event[1].data.reason: missing');
    });

    it('refuses malformed JSON and a batch that is not an array', function () {
      expect(refusal(() => parseDelivery('structured', '{"specversion":')).code).to.equal(
        'malformed-body',
      );
      const notArray = refusal(() => parseDelivery('batch', JSON.stringify(processedEvent())));
      expect([notArray.code, notArray.message]).to.deep.equal([
        'malformed-body',
        'A batch is a JSON array of events.',
      ]);
    });
  });
});
