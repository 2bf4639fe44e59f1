/** CPU accounting from Linux /proc; every function degrades to "unknown" elsewhere. */
import { readFileSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';

/** USER_HZ, the unit of /proc CPU times; 100 on every Linux build we run on. */
const CLOCK_TICKS = 100;

/** utime, stime, cutime, cstime of a process, in ticks; cutime/cstime cover reaped children. */
function processTicks(pid: number | 'self'): number[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name start at field 3 (state).
  const fields = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  return fields.slice(11, 15);
}

/** CPU a running process has used so far, in milliseconds (10 ms resolution). */
export function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const [utime, stime] = processTicks(pid);
    return ((utime + stime) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

interface Snapshot {
  at: number;
  /** Busy CPU time of the whole machine, seconds. */
  machine: number;
  /** This process plus its waited-for children, seconds. */
  ours: number;
}

function snapshot(): Snapshot | undefined {
  try {
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    const [user, nice, system, , , irq, softirq, steal] = ticks.map(Number);
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    // utime, stime, cutime, cstime
    const ours = fields[11] + fields[12] + fields[13] + fields[14];
    return {
      at: performance.now(),
      machine: (user + nice + system + irq + softirq + steal) / CLOCK_TICKS,
      ours: ours / CLOCK_TICKS,
    };
  } catch {
    return undefined;
  }
}

/**
 * How much of the machine other processes used while we measured: all busy CPU time
 * (steal included) minus this process's and its reaped children's (workers, Azurite,
 * local mode, vipsthumbnail). A load average cannot tell our threads from others'.
 * Call at the start; the returned function gives the outside share of all cores, 0–1.
 */
export function watchOutsideLoad(): () => number | undefined {
  const start = snapshot();
  return () => {
    const end = snapshot();
    if (!start || !end) return undefined;
    const capacity = ((end.at - start.at) / 1000) * cpus().length;
    const outside = end.machine - start.machine - (end.ours - start.ours);
    return Math.max(0, outside) / capacity;
  };
}

/**
 * CPU each kind of thread of this process has used so far, in milliseconds, by thread
 * name (MainThread, V8Worker for the garbage collector's helpers, libuv-worker for sharp's
 * pipelines, vips-* for libvips' own); threads that have exited are not counted.
 */
export function threadCpuMs(): Map<string, number> {
  const byName = new Map<string, number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        const name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        const [utime, stime] = stat
          .slice(stat.lastIndexOf(')') + 2)
          .split(' ')
          .slice(11, 13)
          .map(Number);
        const kind = name.replace(/[-_ ]?\d+$/, '');
        byName.set(kind, (byName.get(kind) ?? 0) + ((utime + stime) * 1000) / CLOCK_TICKS);
      } catch {
        // The thread ended while we looked.
      }
    }
  } catch {
    // Not Linux: nothing to report.
  }
  return byName;
}
