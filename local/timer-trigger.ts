/**
 * Timer triggers for the local Functions host: NCRONTAB schedules (six fields, seconds
 * first, as the Functions timer trigger takes them, in UTC as on Flex Consumption) and a
 * runner that invokes one handler per occurrence, never two at once, as the real host's
 * singleton lock does. Source: learn.microsoft.com/azure/azure-functions/functions-bindings-timer
 * (NCRONTAB expressions, "Scale-out").
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** For each of second, minute, hour, day, month, day of week: the values it allows. */
export type CronSchedule = ReadonlyArray<ReadonlySet<number>>;

const FIELDS = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day of week', min: 0, max: 6 },
] as const;

export class CronError extends Error {}

function parseField(text: string, { name, min, max }: (typeof FIELDS)[number]): Set<number> {
  const values = new Set<number>();
  for (const part of text.split(',')) {
    const match = /^(\*|\d+(?:-\d+)?)(?:\/(\d+))?$/.exec(part);
    if (!match) throw new CronError(`${name} "${part}" is not *, n, n-m or a step of them`);
    const [from, to] =
      match[1] === '*'
        ? [min, max]
        : match[1].includes('-')
          ? match[1].split('-').map(Number)
          : [Number(match[1]), match[2] ? max : Number(match[1])];
    const step = match[2] ? Number(match[2]) : 1;
    if (from < min || to > max || from > to || step < 1)
      throw new CronError(`${name} "${part}" is outside ${min}-${max}`);
    for (let value = from; value <= to; value += step) values.add(value);
  }
  return values;
}

export function parseCronSchedule(expression: string): CronSchedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== FIELDS.length)
    throw new CronError(
      `"${expression}" must have six fields: second minute hour day month day-of-week`,
    );
  return parts.map((part, index) => parseField(part, FIELDS[index]));
}

function matches(schedule: CronSchedule, at: Date): boolean {
  const fields = [
    at.getUTCSeconds(),
    at.getUTCMinutes(),
    at.getUTCHours(),
    at.getUTCDate(),
    at.getUTCMonth() + 1,
    at.getUTCDay(),
  ];
  return fields.every((value, index) => schedule[index].has(value));
}

/** The first whole second after `after` the schedule names, within a year. */
export function nextOccurrence(schedule: CronSchedule, after: Date): Date {
  let candidate = Math.floor(after.getTime() / 1000) * 1000 + 1000;
  const limit = candidate + 366 * 24 * 3600 * 1000;
  for (; candidate < limit; candidate += 1000) {
    const at = new Date(candidate);
    if (matches(schedule, at)) return at;
  }
  throw new CronError('the schedule names no second within a year');
}

export interface TimerRunner {
  /** Stops scheduling; waits up to `drainMs` for a running invocation. */
  stop(drainMs: number): Promise<void>;
}

/**
 * Invokes `invoke` at each occurrence. An occurrence that comes while the last invocation
 * still runs is passed over, and the next invocation is told it is past due.
 */
export function startTimer(
  schedule: CronSchedule,
  invoke: (isPastDue: boolean, last: Date | undefined, next: Date) => Promise<void>,
): TimerRunner {
  const stopping = new AbortController();
  let running: Promise<void> | undefined;
  const loop = async () => {
    let last: Date | undefined;
    let missed = false;
    while (!stopping.signal.aborted) {
      const due = nextOccurrence(schedule, new Date());
      try {
        await sleep(Math.max(0, due.getTime() - Date.now()), undefined, {
          signal: stopping.signal,
        });
      } catch {
        return;
      }
      if (running) {
        missed = true;
        continue;
      }
      const isPastDue = missed;
      missed = false;
      running = invoke(isPastDue, last, nextOccurrence(schedule, due))
        .catch(() => undefined)
        .finally(() => (running = undefined));
      last = due;
    }
  };
  const looping = loop();
  return {
    async stop(drainMs) {
      stopping.abort();
      await looping;
      if (running) await Promise.race([running, sleep(drainMs)]);
    },
  };
}
