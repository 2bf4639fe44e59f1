/**
 * `npm run soak`: a bounded load run through local mode, storage and functions in
 * separate processes, with duplicate events injected by the Event Grid emulator and the
 * processing host killed (SIGKILL) mid-batch and restarted. It then audits storage and
 * the logs and prints whether every upload reached exactly one terminal state, with no
 * duplicate output, within the concurrency cap. Loopback only; exits 1 on any violation.
 *
 *   npm run soak -- [--uploads 1000] [--concurrency 16] [--kills 2] [--minutes 20]
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readHostConfig } from '../local/host-config';
import {
  InvocationCounter,
  type LocalModeProcess,
  freeLocalModePorts,
  startLocalModeProcess,
} from '../local/local-mode-process';
import { fmt, percentile } from '../bench/lib/measure';
import {
  auditUploads,
  countOutcomeLines,
  finishedUploadsInLanding,
  landingContainerOf,
  processedContainerOf,
} from './audit';
import { buildSoakCorpus } from './corpus';
import { type UploadRecord, uploadPatiently } from './uploader';

const REPO = resolve(__dirname, '..');
const QUEUE_FUNCTION = 'processUploadEvent';
const HOSTILE_SHARE = 0.05;
/** EICAR uploads, refused by the malware-scan gate (on, as in the dev stack). */
const MALWARE_SHARE = 0.05;
const DUPLICATE_SHARE = 0.05;
/** Short enough that a crashed host's messages come back within the run. */
const LEASE_SECONDS = 15;
/**
 * A host at its concurrency cap holds six decoded photos at most; 1 GiB leaves room for
 * sharp's cache and V8 while catching anything that grows with the number of uploads.
 */
const RSS_BOUND_MIB = 1024;

interface Host {
  process: LocalModeProcess;
  counter: InvocationCounter;
  /** Peak resident memory, read just before the host is killed or stopped. */
  peakRssMiB?: number;
}

/** The kernel's high-water mark of a process's resident memory (Linux), in MiB. */
function peakRssMiB(pid: number | undefined): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    return kib ? Number(kib) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

interface Kill {
  afterCommits: number;
  inFlight: number;
  at: number;
}

function options() {
  const { values } = parseArgs({
    options: {
      uploads: { type: 'string', default: '1000' },
      concurrency: { type: 'string', default: '16' },
      kills: { type: 'string', default: '2' },
      minutes: { type: 'string', default: '20' },
    },
  });
  const whole = (name: keyof typeof values, min: number, max: number) => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(`--${name} must be a whole number from ${min} to ${max}`);
    }
    return value;
  };
  return {
    uploads: whole('uploads', 20, 100_000),
    concurrency: whole('concurrency', 1, 256),
    kills: whole('kills', 0, 20),
    minutes: whole('minutes', 1, 120),
  };
}

async function main(): Promise<number> {
  const opts = options();
  const started = performance.now();
  const deadline = started + opts.minutes * 60_000;
  const config = await readHostConfig(join(REPO, 'host.json'), process.env, availableParallelism());
  const cap = config.queues.batchSize + config.queues.newBatchThreshold;
  console.log(
    `Generating ${opts.uploads} uploads (${HOSTILE_SHARE * 100} % hostile, ${MALWARE_SHARE * 100} % EICAR)…`,
  );
  const corpus = await buildSoakCorpus(opts.uploads, HOSTILE_SHARE, MALWARE_SHARE);

  const ports = await freeLocalModePorts();
  const dataDir = await mkdtemp(join(tmpdir(), 'directdrop-soak-'));
  const storage = startLocalModeProcess({
    role: 'storage',
    ports,
    dataDir,
    args: ['--duplicate-events', String(DUPLICATE_SHARE), '--malware-scanning', 'on'],
  });
  const hosts: Host[] = [];
  const kills: Kill[] = [];
  const killAt = Array.from({ length: opts.kills }, (_, k) =>
    Math.floor((opts.uploads * (k + 1)) / (opts.kills + 1)),
  );
  let committed = 0;
  let restarting: Promise<void> = Promise.resolve();

  const startHost = async (): Promise<void> => {
    const host: Host = {
      process: startLocalModeProcess({
        role: 'functions',
        ports,
        dataDir,
        args: ['--message-lease', String(LEASE_SECONDS), '--malware-scanning', 'on'],
      }),
      counter: new InvocationCounter(QUEUE_FUNCTION),
    };
    hosts.push(host);
    host.process.onLine((line) => {
      host.counter.observe(line);
      // A kill is due: strike while invocations are running, so a batch is cut in half.
      const due = kills.length < killAt.length && committed >= killAt[kills.length];
      if (due && host.counter.now > 0 && host === hosts[hosts.length - 1]) {
        kills.push({ afterCommits: committed, inFlight: host.counter.now, at: performance.now() });
        host.peakRssMiB = peakRssMiB(host.process.child.pid);
        host.process.child.kill('SIGKILL');
        restarting = host.process.exited.then(startHost);
      }
    });
    await host.process.ready();
  };

  let exitCode: number;
  try {
    await storage.ready();
    await startHost();
    console.log(
      `Local mode up (API http://127.0.0.1:${ports.port}/api); uploading with ${opts.concurrency} clients…`,
    );
    const records: Array<UploadRecord & { index: number }> = [];
    let next = 0;
    const progress = setInterval(() => {
      const settled = records.filter((r) => r.settledAt !== undefined).length;
      console.log(
        `  ${Math.round((performance.now() - started) / 1000)} s: ${committed} committed, ` +
          `${settled} settled, ${kills.length}/${opts.kills} kills`,
      );
    }, 10_000);
    const client = async () => {
      for (let index = next++; index < corpus.length; index = next++) {
        const file = corpus[index];
        const record = await uploadPatiently(
          { name: file.name, contentType: file.contentType, bytes: file.bytes },
          {
            apiBaseUrl: `http://127.0.0.1:${ports.port}/api`,
            deadlineMs: Math.max(1, deadline - performance.now()),
            onCommitted: () => committed++,
          },
        );
        records.push({ ...record, index });
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, client));
    clearInterval(progress);
    await restarting;
    const last = hosts[hosts.length - 1];
    last.peakRssMiB = peakRssMiB(last.process.child.pid);
    const wallSeconds = (performance.now() - started) / 1000;

    console.log('Auditing storage and logs…');
    const ids = records.flatMap((r) => (r.uploadId ? [r.uploadId] : []));
    const audits = await auditUploads(processedContainerOf(ports), ids);
    // A client sees its outcome once it is recorded; the event and the tombstone follow it,
    // and a host killed in between finishes them when its leased message returns. So the
    // landing container is judged once that has had its time.
    const settleBy = performance.now() + (2 * LEASE_SECONDS + 10) * 1000;
    let leftInLanding = await finishedUploadsInLanding(landingContainerOf(ports), audits);
    while (leftInLanding.length > 0 && performance.now() < settleBy) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      leftInLanding = await finishedUploadsInLanding(landingContainerOf(ports), audits);
    }
    const hostLogs = hosts.map((h) => h.process.output());
    const outcomeLines = countOutcomeLines(hostLogs);

    const committedRecords = records.filter((r) => r.committedAt !== undefined);
    const byOutcome = (o: string) => committedRecords.filter((r) => r.outcome === o).length;
    const unexpected = committedRecords.filter((r) => {
      const expected = corpus[r.index].expected;
      const manifest = audits.get(r.uploadId as string)?.manifest;
      return (
        r.outcome !== expected.status ||
        manifest?.status !== r.outcome ||
        (expected.status === 'rejected' && r.reason !== expected.reason)
      );
    });
    const manifests = ids.filter((id) => audits.get(id)?.manifest).length;
    const recordedTwice = ids.filter((id) => (outcomeLines.get(id) ?? 0) > 1).length;
    const strayBlobs = [...audits.values()].reduce((n, a) => n + a.strayBlobs.length, 0);
    const brokenOutputs = [...audits.values()].reduce((n, a) => n + a.brokenOutputs.length, 0);
    const latencies = committedRecords
      .filter((r) => r.settledAt !== undefined)
      .map((r) => (r.settledAt as number) - (r.committedAt as number));
    const maxInFlight = Math.max(...hosts.map((h) => h.counter.max));
    const redelivered = hosts
      .slice(1)
      .reduce((n, h) => n + h.counter.starts.filter((s) => s.dequeueCount >= 2).length, 0);
    const duplicatesInjected = (
      storage.output().match(/delivered (event|scan result of) \S+ twice/g) ?? []
    ).length;
    const duplicatesAbsorbed = hostLogs
      .join('\n')
      .split('\n')
      .filter((l) =>
        / is (already-done|stale); nothing to do|concurrent delivery already|verdict for \S+ already recorded/.test(
          l,
        ),
      ).length;
    const notCommitted = records.length - committedRecords.length;
    const uploadsIn = committedRecords.length;
    const terminal = byOutcome('processed') + byOutcome('rejected') + byOutcome('failed');

    const checks: Array<[string, string, boolean]> = [
      ['uploads in (committed)', `${uploadsIn} of ${opts.uploads}`, uploadsIn === opts.uploads],
      [
        'terminal states out',
        `${terminal} = ${byOutcome('processed')} processed + ${byOutcome('rejected')} rejected + ${byOutcome('failed')} failed`,
        terminal === uploadsIn,
      ],
      ['manifests (one per upload)', String(manifests), manifests === uploadsIn],
      ['outcomes recorded twice', String(recordedTwice), recordedTwice === 0],
      ['outcome differs from the expected one', String(unexpected.length), unexpected.length === 0],
      ['duplicate or stray outputs', String(strayBlobs), strayBlobs === 0],
      [
        'finished uploads left in the landing container',
        String(leftInLanding.length),
        leftInLanding.length === 0,
      ],
      ['outputs that fail to decode or match', String(brokenOutputs), brokenOutputs === 0],
      ['max invocations in flight per host', `${maxInFlight} (cap ${cap})`, maxInFlight <= cap],
      [
        `peak RSS of each host (MiB, bound ${RSS_BOUND_MIB})`,
        hosts.map((h) => (h.peakRssMiB === undefined ? 'n/a' : fmt(h.peakRssMiB))).join(', '),
        hosts.every((h) => (h.peakRssMiB ?? 0) <= RSS_BOUND_MIB),
      ],
      [
        'processor kills (SIGKILL)',
        `${kills.length} of ${opts.kills}`,
        kills.length === opts.kills,
      ],
      [
        'uploads without a terminal state',
        String(notCommitted + uploadsIn - terminal),
        notCommitted + uploadsIn - terminal === 0,
      ],
    ];
    const info: Array<[string, string]> = [
      [
        'duplicate events injected / absorbed',
        `${duplicatesInjected} / ${duplicatesAbsorbed} (incl. redeliveries after kills)`,
      ],
      [
        'in flight at each kill',
        kills.map((k) => `${k.inFlight} (after ${k.afterCommits} commits)`).join(', ') || 'n/a',
      ],
      ['messages redelivered after kills', String(redelivered)],
      [
        'latency commit → outcome seen, p50 / p95 / p99 / max',
        [50, 95, 99, 100].map((p) => `${fmt(percentile(latencies, p) / 1000)} s`).join(' / '),
      ],
      ['wall time', `${fmt(wallSeconds)} s (${fmt(uploadsIn / wallSeconds)} uploads/s)`],
      ['hosts started', String(hosts.length)],
    ];

    console.log('\n| check | result | ok |\n|---|---|---|');
    for (const [name, value, ok] of checks)
      console.log(`| ${name} | ${value} | ${ok ? 'yes' : 'NO'} |`);
    for (const [name, value] of info) console.log(`| ${name} | ${value} | |`);
    for (const r of unexpected.slice(0, 10)) {
      console.log(
        `  unexpected: ${corpus[r.index].name} ${r.uploadId}: ${r.outcome ?? r.problem} ${r.reason ?? ''}`,
      );
    }
    for (const r of records.filter((x) => x.problem).slice(0, 10)) {
      console.log(`  problem: ${corpus[r.index].name} ${r.uploadId ?? ''}: ${r.problem}`);
    }

    const resultsDir = join(REPO, 'bench', 'results');
    await mkdir(resultsDir, { recursive: true });
    const file = join(resultsDir, `soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(
      file,
      JSON.stringify({ options: opts, cap, checks, info, kills, when: new Date() }, null, 2),
    );
    console.log(`\nSaved ${file}`);
    exitCode = checks.every(([, , ok]) => ok) ? 0 : 1;
    if (exitCode !== 0) {
      // A failed check is investigated from what each process logged; the data folder goes.
      const logs = file.replace(/\.json$/, '-logs');
      await mkdir(logs, { recursive: true });
      await writeFile(join(logs, 'storage.log'), storage.output());
      await Promise.all(
        hostLogs.map((log, index) => writeFile(join(logs, `host-${index + 1}.log`), log)),
      );
      console.log(`Logs of every process: ${logs}`);
    }
  } finally {
    await restarting.catch(() => undefined);
    await Promise.all(hosts.map((h) => h.process.signal('SIGINT')));
    await storage.signal('SIGINT');
    await rm(dataDir, { recursive: true, force: true });
  }
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
