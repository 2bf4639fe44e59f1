import { expect } from 'chai';
import {
  decodeBase64Message,
  poisonQueueNameFor,
  toHandlerPayload,
} from '../../local/queue-listener';

describe('queue-listener helpers', () => {
  it('decodes strict Base64, ignoring whitespace like .NET', () => {
    const text = '{"a":"ü"}';
    const encoded = Buffer.from(text).toString('base64');
    expect(decodeBase64Message(encoded)).to.equal(text);
    expect(decodeBase64Message(`${encoded.slice(0, 4)}\n${encoded.slice(4)}`)).to.equal(text);
  });

  it('refuses text that is not Base64', () => {
    for (const text of ['{"plain":"json"}', 'abc', 'ab=c', 'a*bc']) {
      expect(decodeBase64Message(text), text).to.equal(undefined);
    }
  });

  it('hands handlers parsed JSON, or the text when it is not JSON', () => {
    expect(toHandlerPayload('{"a":1}')).to.deep.equal({ a: 1 });
    expect(toHandlerPayload('[1]')).to.deep.equal([1]);
    expect(toHandlerPayload('hello')).to.equal('hello');
  });

  it('names poison queues like the extension, and none for poison or over-long queues', () => {
    expect(poisonQueueNameFor('upload-events')).to.equal('upload-events-poison');
    expect(poisonQueueNameFor('upload-events-poison')).to.equal(undefined);
    expect(poisonQueueNameFor('q'.repeat(57))).to.equal(undefined);
    expect(poisonQueueNameFor('q'.repeat(56))).to.equal(`${'q'.repeat(56)}-poison`);
  });
});
