import { Readable } from 'node:stream';
import { expect } from 'chai';
import { BodyTooLargeError, readBody } from '../../functions/adapters/read-body';
import { rejection } from '../helpers/rejection';

const chunks = (...sizes: number[]) =>
  Readable.from(sizes.map((size, i) => Buffer.alloc(size, i + 1)));

describe('read-body', () => {
  it('joins chunks in order, whatever the size hint says', async () => {
    for (const hint of [0, 3, 10, 1000]) {
      const body = await readBody(chunks(2, 3, 5), 100, hint);
      expect([...body]).to.deep.equal([1, 1, 2, 2, 2, 3, 3, 3, 3, 3]);
    }
  });

  it('accepts exactly the limit and refuses one byte more', async () => {
    expect((await readBody(chunks(4, 4), 8, 8)).length).to.equal(8);
    await rejection(readBody(chunks(4, 5), 8, 8), BodyTooLargeError);
  });

  it('answers an empty buffer for no stream', async () => {
    expect((await readBody(undefined, 10)).length).to.equal(0);
  });
});
