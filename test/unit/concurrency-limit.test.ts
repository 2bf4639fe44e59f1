import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { concurrencyLimit } from '../../functions/core/concurrency-limit';

describe('concurrencyLimit', () => {
  it('runs at most max tasks at once, in arrival order, and passes results and errors through', async () => {
    const limit = concurrencyLimit(2);
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const task = (i: number) => async () => {
      started.push(i);
      running += 1;
      peak = Math.max(peak, running);
      await sleep(10);
      running -= 1;
      if (i === 3) throw new Error('boom');
      return i * 10;
    };
    const results = await Promise.allSettled([0, 1, 2, 3, 4, 5].map((i) => limit(task(i))));
    expect(peak).to.equal(2);
    expect(started).to.deep.equal([0, 1, 2, 3, 4, 5]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'failed'))).to.deep.equal([
      0,
      10,
      20,
      'failed',
      40,
      50,
    ]);
    // A failure gives its slot back: the limiter is still usable.
    expect(await limit(async () => 'again')).to.equal('again');
  });
});
