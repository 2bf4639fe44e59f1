/**
 * `npm run bench:profile -- issuance|processing`: V8 CPU profiles of the measured work,
 * summarised per call by where the main thread's time goes, saved as .cpuprofile files in
 * bench/results/profiles/ (open them in Chrome DevTools or VS Code).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startAzuriteSandbox } from '../local/azurite-sandbox';
import { BENCH_DIR } from './lib/child';
import { saveCpuProfile, startCpuProfile, summariseCpuProfile } from './lib/cpu-profile';
import { cpuMsSince, fmt } from './lib/measure';
import { issuanceGuards } from './issuance';
import { InvocationContext } from '@azure/functions';
import { createRuntime } from '../functions/adapters/runtime';
import { processImage } from '../functions/core/image-pipeline';
import { processUploadEventHandler } from '../functions/handlers/process-upload';
import { loadFixtures } from './fixtures';
import { threadCpuMs } from './lib/proc';
import { landUpload } from './processing';
import { decodeOnce } from './sharp-alone';

const ROOT = join(BENCH_DIR, '..');
const OUT = join(BENCH_DIR, 'results', 'profiles');

function print(title: string, summary: ReturnType<typeof summariseCpuProfile>, unit: string) {
  console.log(`\n${title}: main thread ${fmt(summary.busyMs)} ${unit} per call`);
  for (const c of summary.categories)
    console.log(
      `  ${fmt(c.ms).padStart(8)} ${unit}  ${fmt(100 * c.share).padStart(5)} %  ${c.category}`,
    );
  console.log('  by our innermost function on the stack:');
  for (const f of summary.ours)
    console.log(
      `  ${fmt(f.ms).padStart(8)} ${unit}  ${fmt(100 * f.share).padStart(5)} %  ${f.name}`,
    );
  console.log('  top functions (self):');
  for (const f of summary.functions.slice(0, 20))
    console.log(
      `  ${fmt(f.ms).padStart(8)} ${unit}  ${fmt(100 * f.share).padStart(5)} %  ${f.name}`,
    );
}

/** Azurite on one core, us on the other: its wake-ups do not preempt the sampled thread. */
function pin(pid: number | undefined, core: number) {
  if (pid !== undefined)
    spawnSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
}

async function profileIssuance(calls: number) {
  const storage = await startAzuriteSandbox();
  pin(process.pid, 0);
  pin(storage.azurite.process.pid, 1);
  const guards = await issuanceGuards(storage);
  try {
    for (let i = 0; i < 2000; i++) await guards.handler();
    for (const [label, fn] of [
      ['quota and record alone', guards.issueRecord],
      ['handler', () => guards.handler()],
    ] as const) {
      const threads = threadCpuMs();
      const c = process.cpuUsage();
      for (let i = 0; i < calls; i++) await fn();
      const u = process.cpuUsage(c);
      const perThread = threadDelta(threadCpuMs(), threads, calls / 1000);
      console.log(
        `${label}: user ${fmt(u.user / calls)} µs, system ${fmt(u.system / calls)} µs; by thread (µs): ${perThread.map(([n, us]) => `${n} ${fmt(us)}`).join(', ')}`,
      );
    }
    const stopStore = await startCpuProfile();
    for (let i = 0; i < calls; i++) await guards.issueRecord();
    const storeProfile = await stopStore();
    await saveCpuProfile(join(OUT, 'issuance-store.cpuprofile'), storeProfile);
    print(
      'quota and record (store.issue)',
      summariseCpuProfile(storeProfile, ROOT, calls / 1000),
      'µs',
    );
    const cpu = process.cpuUsage();
    const stop = await startCpuProfile();
    for (let i = 0; i < calls; i++) await guards.handler();
    const profile = await stop();
    const cpuMs = cpuMsSince(cpu);
    const split = process.cpuUsage(cpu);
    console.log(
      `user ${fmt(split.user / calls)} µs, system ${fmt(split.system / calls)} µs per issuance`,
    );
    await saveCpuProfile(join(OUT, 'issuance-handler.cpuprofile'), profile);
    const summary = summariseCpuProfile(profile, ROOT, calls / 1000);
    console.log(`process CPU ${fmt((1000 * cpuMs) / calls)} µs per issuance (profiler on)`);
    print('createUpload, signed in, quotas, record', summary, 'µs');
  } finally {
    await guards.stop();
    await storage.stop();
  }
}

function threadDelta(after: Map<string, number>, before: Map<string, number>, per: number) {
  return [...after]
    .map(([name, ms]) => [name, (ms - (before.get(name) ?? 0)) / per] as const)
    .filter(([, ms]) => ms > 0)
    .sort((a, b) => b[1] - a[1]);
}

/** CPU per image by thread, and a profile of the main thread for `mode` 'handler'. */
async function measureImages(label: string, count: number, one: (i: number) => Promise<void>) {
  await one(-1);
  const threads = threadCpuMs();
  const cpu = process.cpuUsage();
  const stop = await startCpuProfile(500);
  for (let i = 0; i < count; i++) await one(i);
  const profile = await stop();
  const split = process.cpuUsage(cpu);
  const perThread = threadDelta(threadCpuMs(), threads, count);
  console.log(
    `\n${label}: process CPU ${fmt((split.user + split.system) / 1000 / count)} ms per image (user ${fmt(split.user / 1000 / count)}, system ${fmt(split.system / 1000 / count)}); by thread: ${perThread.map(([n, ms]) => `${n} ${fmt(ms)}`).join(', ')}`,
  );
  return profile;
}

async function profileProcessing(which: 'jpeg' | 'png', count: number) {
  const storage = await startAzuriteSandbox();
  try {
    const runtime = createRuntime(storage.env);
    const fixture = (await loadFixtures())[which];
    const handler = processUploadEventHandler(() => runtime);
    const outcomes: string[] = [];
    const context = new InvocationContext({
      functionName: 'profile',
      logHandler: (_level, message) => {
        if (typeof message === 'string' && /: (processed|rejected)/.test(message))
          outcomes.push(message);
      },
    });
    const events: unknown[] = [];
    // Two rounds of a warm-up and `count` measured uploads, each landed afresh.
    for (let i = 0; i < 2 * (count + 1); i++) {
      const { bytes, contentType } = fixture;
      const landed = await landUpload(runtime, {
        name: `photo.${which}`,
        bytes,
        declared: bytes.length,
        contentType,
      });
      events.push(landed.event);
    }
    const { variants } = runtime.settings;
    for (let round = 0; round < 2; round++) {
      await measureImages(`sharp alone (${fixture.name})`, count, async () => {
        await decodeOnce(fixture.bytes, variants, true);
      });
      await measureImages(`processImage from memory (${fixture.name})`, count, async () => {
        const result = await processImage(fixture.bytes, variants, runtime.settings);
        if (!result.ok) throw new Error(result.message);
      });
      let next = round * (count + 1);
      const profile = await measureImages(`handler (${fixture.name})`, count, async () => {
        await handler(events[next++], context);
      });
      if (
        !outcomes.every((o) => o.endsWith(': processed')) ||
        outcomes.length !== (round + 1) * (count + 1)
      )
        throw new Error(`not every upload was processed: ${outcomes.join('; ')}`);
      if (round === 1) {
        await saveCpuProfile(join(OUT, `handler-${which}.cpuprofile`), profile);
        print(
          `handler main thread (${fixture.name})`,
          summariseCpuProfile(profile, ROOT, count),
          'ms',
        );
      }
    }
  } finally {
    await storage.stop();
  }
}

async function main() {
  const [what = 'issuance', count] = process.argv.slice(2);
  if (what === 'issuance') await profileIssuance(Number(count ?? 5000));
  else if (what === 'jpeg' || what === 'png') await profileProcessing(what, Number(count ?? 6));
  else throw new Error('profile what? issuance, jpeg or png');
}

void main();
