/**
 * The webhook secret check: right, wrong, missing, any length, several secrets while rotating,
 * and a comparison whose time does not depend on how much of the secret a guess got right.
 */
import { expect } from 'chai';
import { secretChecker } from '../../receiver/src/secret';

const SECRET = 'k7Jq2xV9mP4rT8wZ5nB3cF6hL1sD0gYe';

describe('receiver: the webhook secret', function () {
  it('accepts the secret and refuses anything else, of any length, without throwing', function () {
    const matches = secretChecker(SECRET);
    expect(matches(SECRET)).to.equal(true);
    for (const sent of [
      null,
      '',
      'x',
      SECRET.slice(0, -1),
      `${SECRET}x`,
      SECRET.toUpperCase(),
      'é'.repeat(40),
    ]) {
      expect(matches(sent), String(sent)).to.equal(false);
    }
  });

  it('accepts each of several secrets, so one can be rotated without refusing deliveries', function () {
    const next = 'Qm9vdHN0cmFwLW5ldy1zZWNyZXQtMjAyNi0xMg';
    const matches = secretChecker([SECRET, next]);
    expect([matches(SECRET), matches(next), matches('neither-of-them-at-all')]).to.deep.equal([
      true,
      true,
      false,
    ]);
  });

  it('refuses to start with no secret or one shorter than 16 characters', function () {
    expect(() => secretChecker([])).to.throw(TypeError, 'at least one secret');
    expect(() => secretChecker('short')).to.throw(TypeError, 'at least 16 characters');
    expect(() => secretChecker([SECRET, ''])).to.throw(TypeError, 'at least 16 characters');
  });

  /**
   * A plain `===` on a long secret returns sooner the earlier the first wrong character is.
   * Both guesses here have the secret's length; one is right up to its last character. The
   * samples alternate so load on the machine falls on both alike, and the naive comparison
   * is measured the same way to show the measurement would see such a difference.
   */
  it('takes as long for a guess right up to its last character as for one wrong from the first', function () {
    this.timeout(60_000);
    const secret = 'a'.repeat(1 << 20);
    const nearlyRight = `${'a'.repeat((1 << 20) - 1)}b`;
    const wrongAtOnce = `b${'a'.repeat((1 << 20) - 1)}`;
    const matches = secretChecker(secret);
    const median = (samples: number[]) => samples.sort((a, b) => a - b)[samples.length >> 1];
    const measure = (compare: (sent: string) => boolean, rounds: number) => {
      const near: number[] = [];
      const far: number[] = [];
      for (let i = 0; i < rounds; i++) {
        for (const [sent, into] of [
          [nearlyRight, near],
          [wrongAtOnce, far],
        ] as const) {
          const started = process.hrtime.bigint();
          if (compare(sent)) throw new Error('a wrong guess matched');
          into.push(Number(process.hrtime.bigint() - started));
        }
      }
      return { near: median(near), far: median(far) };
    };
    // A fresh copy per call keeps V8 from comparing the two strings by identity.
    const naive = measure((sent) => sent === secret.slice(0), 200);
    expect(
      naive.near / naive.far,
      'the naive comparison leaks, so the measurement can see it',
    ).to.be.greaterThan(3);

    const checked = measure(matches, 200);
    const ratio = checked.near / checked.far;
    expect(ratio, `median ${checked.near} ns vs ${checked.far} ns`).to.be.within(0.85, 1.15);
  });
});
