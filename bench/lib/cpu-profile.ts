/**
 * V8 CPU profiles (the `.cpuprofile` format `node --cpu-prof` writes and DevTools opens),
 * taken around exactly the measured work through the inspector, and summarised by where
 * the main thread's time went: which package, which of our files, Node's own modules,
 * the garbage collector. Work libvips does on its own threads is not on the main thread
 * and does not appear; process CPU accounts for it.
 */
import { Session } from 'node:inspector/promises';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, relative } from 'node:path';

export interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }>;
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Starts V8's sampling profiler in this process; the returned function stops it. */
export async function startCpuProfile(intervalUs = 200): Promise<() => Promise<CpuProfile>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    return profile as unknown as CpuProfile;
  };
}

export async function saveCpuProfile(path: string, profile: CpuProfile): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, JSON.stringify(profile));
}

/** Where a frame's code lives: an npm package, one of our files, a Node module, or V8 itself. */
export function categoryOf(url: string, functionName: string, root: string): string {
  if (url === '') {
    // V8's pseudo-frames: (garbage collector), (program), (idle), and native builtins.
    return functionName.startsWith('(') ? functionName : '(native)';
  }
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1];
  if (url.startsWith('node:')) return url;
  const path = url.replace(/^file:\/\//, '');
  return path.startsWith('/') ? relative(root, path) : path;
}

export interface ProfileSummary {
  /** Milliseconds of main-thread time in the window, idle excluded. */
  busyMs: number;
  /** Self time per category, largest first. */
  categories: Array<{ category: string; ms: number; share: number }>;
  /** Self time per function, largest first. */
  functions: Array<{ name: string; ms: number; share: number }>;
  /**
   * Time by the innermost of our own functions on the stack (what it spent, libraries it
   * called synchronously included); samples with none of ours on the stack (socket reads,
   * timers, GC) by the outermost frame's category.
   */
  ours: Array<{ name: string; ms: number; share: number }>;
}

/** Self time per category and per function; `per` divides every figure (e.g. per call). */
export function summariseCpuProfile(
  profile: CpuProfile,
  root: string,
  per = 1,
  top = 25,
): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const isOurs = (url: string) =>
    /\/(functions|bench|local)\//.test(url) && !url.includes('node_modules');
  /** The innermost of our frames on the stack, or the outermost frame's category. */
  const owner = (id: number): string => {
    let outermost = id;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const { functionName, url } = byId.get(at)!.callFrame;
      if (isOurs(url))
        return `${functionName || '(anonymous)'} ${categoryOf(url, functionName, root)}`;
      if (
        parent.get(at) !== undefined &&
        byId.get(parent.get(at)!)!.callFrame.functionName !== '(root)'
      )
        outermost = parent.get(at)!;
    }
    const { functionName, url } = byId.get(outermost)!.callFrame;
    return `[${categoryOf(url, functionName, root)}] ${functionName || '(anonymous)'}`;
  };
  const ours = new Map<string, number>();
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const categories = new Map<string, number>();
  const functions = new Map<string, number>();
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') continue;
    busyUs += us;
    const category = categoryOf(url, functionName, root);
    categories.set(category, (categories.get(category) ?? 0) + us);
    const name = `${functionName || '(anonymous)'} ${category}${url ? `:${lineNumber + 1}` : ''}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
    const by = owner(id);
    ours.set(by, (ours.get(by) ?? 0) + us);
  }
  const rank = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000 / per, share: us / busyUs }));
  return {
    busyMs: busyUs / 1000 / per,
    categories: rank(categories).map(({ name, ms, share }) => ({ category: name, ms, share })),
    functions: rank(functions),
    ours: rank(ours),
  };
}
