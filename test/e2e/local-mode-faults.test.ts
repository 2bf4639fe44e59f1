/**
 * Crashes and restarts in local mode, with storage (Azurite + the Event Grid emulator)
 * and the functions in separate processes as `npm start -- --role …` runs them: the
 * processing host killed mid-batch, and storage killed in the middle of a stream of
 * uploads. Every committed upload must end processed, its outcome recorded once, and
 * nothing half-written may ever be reported as processed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import sharp from 'sharp';
import { DEFAULT_SETTINGS } from '../../functions/core/settings';
import {
  InvocationCounter,
  type LocalModePorts,
  type LocalModeProcess,
  freeLocalModePorts,
  startLocalModeProcess,
  waitForPortsFree,
} from '../../local/local-mode-process';
import {
  auditUploads,
  countOutcomeLines,
  finishedUploadsInLanding,
  landingContainerOf,
  processedContainerOf,
} from '../../soak/audit';
import { type UploadRecord, uploadPatiently } from '../../soak/uploader';
import { cameraNoise } from '../helpers/images';

const QUEUE_FUNCTION = 'processUploadEvent';
const LEASE_SECONDS = 6;

function noisyPhoto(width: number, height: number): Promise<Buffer> {
  return cameraNoise(width, height).jpeg({ quality: 85 }).toBuffer();
}

describe('local mode under faults (storage and functions as separate processes)', function () {
  this.timeout(180_000);
  let ports: LocalModePorts;
  let dataDir: string;
  let storage: LocalModeProcess;
  let functions: LocalModeProcess;
  let apiBaseUrl: string;

  // These faults are about processing; the scan gate's own are in local-mode-malware.test.ts,
  // and with it on each upload takes two invocations, which the kill trigger would miscount.
  const GATE_OFF = ['--malware-scanning', 'off'];

  function startStorage(): LocalModeProcess {
    return startLocalModeProcess({ role: 'storage', ports, dataDir, args: GATE_OFF });
  }

  function startFunctions(): LocalModeProcess {
    return startLocalModeProcess({
      role: 'functions',
      ports,
      dataDir,
      args: [...GATE_OFF, '--message-lease', String(LEASE_SECONDS)],
      env: { AzureFunctionsJobHost__extensions__queues__maxPollingInterval: '00:00:00.5' },
    });
  }

  function upload(name: string, bytes: Buffer): Promise<UploadRecord> {
    return uploadPatiently(
      { name, contentType: 'image/jpeg', bytes },
      { apiBaseUrl, deadlineMs: 90_000 },
    );
  }

  before(async () => {
    ports = await freeLocalModePorts();
    dataDir = await mkdtemp(join(tmpdir(), 'directdrop-faults-'));
    apiBaseUrl = `http://127.0.0.1:${ports.port}/api`;
    storage = startStorage();
    await storage.ready();
    functions = startFunctions();
    await functions.ready();
  });

  after(async () => {
    await functions?.signal('SIGINT');
    await storage?.signal('SIGINT');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses to start the functions half when no storage half runs on its ports', async () => {
    const lonely = startLocalModeProcess({
      role: 'functions',
      ports: await freeLocalModePorts(),
      dataDir,
    });
    await lonely.exited;
    expect(lonely.child.exitCode).to.equal(1);
    expect(lonely.output()).to.match(/No Azurite blob service is listening on port \d+/);
    expect(lonely.output()).to.contain('npm start -- --role storage');
  });

  it('SIGKILL mid-batch: leased messages return after the lease and each upload is processed once', async () => {
    const photos = await Promise.all(
      Array.from({ length: 8 }, (_, i) => noisyPhoto(2000 + i * 8, 1500)),
    );
    const killedHost = functions;
    const before = new InvocationCounter(QUEUE_FUNCTION);
    let killed = false;
    let inFlightAtKill = 0;
    const crashed = new Promise<void>((resolve) => {
      killedHost.onLine((line) => {
        before.observe(line);
        // Some uploads done (manifests written), others mid-run: the crash leaves both kinds.
        const finished = before.starts.length - before.now;
        if (!killed && finished >= 2 && before.now > 0) {
          killed = true;
          inFlightAtKill = before.now;
          killedHost.child.kill('SIGKILL');
          resolve();
        }
      });
    });
    const uploads = photos.map((photo, i) => upload(`batch-${i}.jpg`, photo));
    await crashed;
    await killedHost.exited;
    expect(killedHost.child.signalCode).to.equal('SIGKILL');

    // While no host runs, whatever storage calls processed must be complete.
    const processed = processedContainerOf(ports);
    const done = [...(await auditUploads(processed)).values()].filter((a) => a.manifest);
    expect(done.length, 'uploads finished before the kill').to.be.at.least(2);
    for (const audit of done) {
      expect(audit.brokenOutputs, audit.uploadId).to.deep.equal([]);
    }

    functions = startFunctions();
    const after = new InvocationCounter(QUEUE_FUNCTION);
    functions.onLine((line) => after.observe(line));
    await functions.ready();
    const records = await Promise.all(uploads);

    expect(records.map((r) => r.outcome ?? r.problem)).to.deep.equal(Array(8).fill('processed'));
    // A host killed after a manifest but before its invocation returned (the landing blob's
    // delete, the quota release) held a message whose upload is already done: every held
    // message still comes back, once its lease ends, whether or not a client waits for it.
    const redeliveredSoFar = () => after.starts.filter((s) => s.dequeueCount >= 2);
    const waitUntil = performance.now() + (LEASE_SECONDS + 10) * 1000;
    while (redeliveredSoFar().length < inFlightAtKill && performance.now() < waitUntil)
      await sleep(200);
    const redelivered = redeliveredSoFar();
    expect(redelivered.length, 'messages the killed host held').to.be.at.least(inFlightAtKill);
    // Every message the killed host held was leased no earlier than its first invocation
    // began; none may come back before a whole lease has passed since then.
    const firstBack = Math.min(...redelivered.map((s) => s.at));
    const leaseEndsNoEarlierThan = before.starts[0].at + LEASE_SECONDS * 1000;
    expect(firstBack, 'held messages stay invisible until the lease ends').to.be.at.least(
      leaseEndsNoEarlierThan - 500,
    );

    const ids = records.map((r) => r.uploadId as string);
    // At most once: a host killed between writing a manifest and logging it logs nothing.
    const outcomes = countOutcomeLines([killedHost.output(), functions.output()]);
    expect(ids.filter((id) => (outcomes.get(id) ?? 0) > 1)).to.deep.equal([]);
    const audits = await auditUploads(processed, ids);
    for (const audit of audits.values()) {
      expect(audit.manifest?.status, audit.uploadId).to.equal('processed');
      expect(audit.strayBlobs, audit.uploadId).to.deep.equal([]);
      expect(audit.brokenOutputs, audit.uploadId).to.deep.equal([]);
    }
    // A host killed between a manifest and its landing blob's delete: the redelivery deletes it.
    expect(await finishedUploadsInLanding(landingContainerOf(ports), audits)).to.deep.equal([]);
    // What clients were served as processed is whole: every read URL gives the image it names.
    for (const output of records.flatMap((r) => r.outputs ?? [])) {
      const bytes = Buffer.from(await (await fetch(output.url)).arrayBuffer());
      const metadata = await sharp(bytes).metadata();
      expect([metadata.width, metadata.height, bytes.length]).to.deep.equal([
        output.width,
        output.height,
        output.size,
      ]);
    }
    expect(records.flatMap((r) => r.outputs ?? [])).to.have.length(
      8 * DEFAULT_SETTINGS.variants.length,
    );
  });

  it('restarting Azurite and the Event Grid emulator mid-stream loses no committed upload', async () => {
    const photo = await noisyPhoto(640, 480);
    const logBefore = functions.output().length;
    const uploads: Array<Promise<UploadRecord>> = [];
    const records: UploadRecord[] = [];
    const restart: { at?: number; uploadsStarted: number } = { uploadsStarted: Infinity };
    // One upload every 150 ms until storage is back and four more have been started.
    const stream = (async () => {
      for (let i = 0; uploads.length < restart.uploadsStarted + 4; i++) {
        uploads.push(upload(`stream-${i}.jpg`, photo).then((r) => (records.push(r), r)));
        await sleep(150);
      }
    })();
    const committed = () => records.filter((r) => r.committedAt !== undefined).length;
    // Let a few land first, so storage dies with uploads in every stage.
    while (committed() < 4) await sleep(20);
    const killedAt = performance.now();
    await storage.signal('SIGKILL');
    await waitForPortsFree([ports.blobPort, ports.queuePort, ports.tablePort]);
    storage = startStorage();
    await storage.ready();
    restart.at = performance.now();
    restart.uploadsStarted = uploads.length;
    await stream;
    const all = await Promise.all(uploads);

    expect(all.map((r) => r.outcome ?? r.problem)).to.deep.equal(
      Array(all.length).fill('processed'),
    );
    const landedBeforeKill = all.filter((r) => (r.committedAt as number) < killedAt).length;
    expect(landedBeforeKill, 'uploads committed before storage died').to.be.at.least(4);
    const landedAfter = all.filter(
      (r) => (r.committedAt as number) > (restart.at as number),
    ).length;
    expect(landedAfter, 'uploads committed after it came back').to.be.at.least(4);
    const ids = all.map((r) => r.uploadId as string);
    // At most once: a manifest written just as storage died is found on the retry, unlogged.
    const outcomes = countOutcomeLines([functions.output().slice(logBefore)]);
    expect(ids.filter((id) => (outcomes.get(id) ?? 0) > 1)).to.deep.equal([]);
    for (const audit of (await auditUploads(processedContainerOf(ports), ids)).values()) {
      expect(audit.manifest?.status, audit.uploadId).to.equal('processed');
      expect(audit.strayBlobs, audit.uploadId).to.deep.equal([]);
      expect(audit.brokenOutputs, audit.uploadId).to.deep.equal([]);
    }
  });
});
