/**
 * `parseQueueMessage`: one outcome event in a Storage Queue or Service Bus message, in each
 * form a consumer gets it (Base64 text from @azure/storage-queue, bytes or parsed JSON from
 * @azure/service-bus, an Azure Functions trigger's decoded item).
 */
import { expect } from 'chai';
import { ReceiverError, parseQueueMessage } from '../../receiver/src/index';
import { processedEvent, rejectedEvent } from '../helpers/outcome-events';

function refusal(run: () => unknown): ReceiverError {
  try {
    run();
  } catch (error) {
    expect(error).to.be.instanceOf(ReceiverError);
    return error as ReceiverError;
  }
  throw new Error('expected a refusal');
}

describe('receiver: queue messages', function () {
  const event = processedEvent();
  const json = JSON.stringify(event);

  it('reads the event in every form a queue consumer receives it', function () {
    const bytes = new TextEncoder().encode(json);
    const forms: Array<[string, Parameters<typeof parseQueueMessage>[0]]> = [
      [
        'Base64 text, as Event Grid writes a Storage Queue message',
        Buffer.from(json).toString('base64'),
      ],
      ['JSON text', json],
      ['JSON text with surrounding whitespace', `\n ${json} \n`],
      ['UTF-8 bytes (a Service Bus body)', bytes],
      ['a Buffer', Buffer.from(json)],
      ['an ArrayBuffer', bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)],
      ['Base64 bytes', Buffer.from(Buffer.from(json).toString('base64'))],
      ['a parsed object (a Functions trigger item)', JSON.parse(json) as object],
      ['a one-element array', [JSON.parse(json)]],
    ];
    for (const [what, message] of forms)
      expect(parseQueueMessage(message), what).to.deep.equal(event);
  });

  it('checks the event as a webhook delivery is checked, sources included', function () {
    const bad = structuredClone(rejectedEvent()) as unknown as { data: Record<string, unknown> };
    delete bad.data.reason;
    expect(refusal(() => parseQueueMessage(bad)).message).to.equal('data.reason: missing');
    expect(
      refusal(() => parseQueueMessage(json, { sources: ['urn:directdrop:prod'] })).code,
    ).to.equal('unexpected-source');
  });

  it('refuses what is neither JSON nor strict Base64 of JSON, and several events in one message', function () {
    const cases: Array<[string, Parameters<typeof parseQueueMessage>[0], string]> = [
      [
        'Base64 with a stray character',
        `${Buffer.from(json).toString('base64')}!`,
        'The message is neither JSON nor Base64-encoded JSON.',
      ],
      [
        'Base64 of text',
        Buffer.from('hello there').toString('base64'),
        'The message is neither JSON nor Base64-encoded JSON.',
      ],
      ['broken JSON', '{"specversion":"1.0"', 'The body is not JSON.'],
      ['bytes that are not UTF-8', new Uint8Array([0x7b, 0xff, 0x7d]), 'The message is not UTF-8.'],
      ['two events', [event, event], 'Expected one event in the message, found 2.'],
    ];
    for (const [what, message, text] of cases) {
      const error = refusal(() => parseQueueMessage(message));
      expect([error.code, error.message], what).to.deep.equal(['malformed-body', text]);
    }
  });
});
