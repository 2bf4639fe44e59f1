import { expect } from 'chai';
import { CronError, nextOccurrence, parseCronSchedule } from '../../local/timer-trigger';

const at = (iso: string) => new Date(iso);

describe('timer-trigger (NCRONTAB)', () => {
  it('finds the next occurrence of a step, a list and a range, in UTC', () => {
    const everyFive = parseCronSchedule('0 */5 * * * *');
    expect(nextOccurrence(everyFive, at('2026-12-01T10:03:20Z')).toISOString()).to.equal(
      '2026-12-01T10:05:00.000Z',
    );
    expect(nextOccurrence(everyFive, at('2026-12-01T10:05:00Z')).toISOString()).to.equal(
      '2026-12-01T10:10:00.000Z',
    );
    const weekdayMornings = parseCronSchedule('30 0 9,17 * * 1-5');
    // 2026-12-05 is a Saturday.
    expect(nextOccurrence(weekdayMornings, at('2026-12-05T08:00:00Z')).toISOString()).to.equal(
      '2026-12-07T09:00:30.000Z',
    );
    expect(
      nextOccurrence(
        parseCronSchedule('10/20 * * * * *'),
        at('2026-12-01T10:00:31Z'),
      ).toISOString(),
    ).to.equal('2026-12-01T10:00:50.000Z');
  });

  it('refuses five-field crontab, out-of-range values and words', () => {
    for (const bad of [
      '*/5 * * * *',
      '0 0 24 * * *',
      '0 0 0 0 * *',
      '0 0 0 * * 7',
      'x * * * * *',
      '0 */0 * * * *',
    ])
      expect(() => parseCronSchedule(bad), bad).to.throw(CronError);
  });
});
