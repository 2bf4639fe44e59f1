/**
 * The `directdrop` command run as users run it (a child process running client/src/bin.ts)
 * against a scripted API and a real Azurite: exit codes, output, --json, concurrency.
 * The CLI against local mode's real processing is in the integration tests.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type AzuriteSandbox, freePort, startAzuriteSandbox } from '../../local/azurite-sandbox';
import type { UploadTicket } from '../../client/src/node';
import { type Reply, ScriptedApi, processed } from './client-scripted-api';

const BIN = resolve(__dirname, '../../client/src/bin.ts');

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Asynchronous on purpose: the scripted API answers from this same process. */
function runCli(
  args: string[],
  env: Record<string, string> = {},
  onSpawn?: (child: ChildProcess) => void,
): Promise<CliRun> {
  return new Promise((resolvePromise, reject) => {
    // The caller's own DIRECTDROP_* settings must not leak into the test.
    const base = { ...process.env };
    delete base.DIRECTDROP_API;
    delete base.DIRECTDROP_FUNCTIONS_KEY;
    delete base.DIRECTDROP_TOKEN;
    const child = spawn(process.execPath, ['--import', 'tsx', BIN, ...args], {
      env: { ...base, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolvePromise({ code, stdout, stderr }));
    onSpawn?.(child);
  });
}

describe('directdrop CLI (scripted API, real Azurite)', function () {
  this.timeout(60_000);
  let storage: AzuriteSandbox;
  let api: ScriptedApi;
  let dir: string;
  const file = (name: string) => join(dir, name);

  before(async function () {
    storage = await startAzuriteSandbox();
    api = new ScriptedApi(storage);
    await api.start();
    dir = await mkdtemp(join(tmpdir(), 'directdrop-cli-'));
    for (const name of ['a.jpg', 'b.jpg', 'c.png', 'd.jpg', 'e.webp', 'fake.jpg']) {
      await writeFile(file(name), Buffer.alloc(64 * 1024, name.charCodeAt(0)));
    }
    await writeFile(file('notes.txt'), 'not an image');
  });
  after(async function () {
    await api?.stop();
    await storage?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Uploads named fake.* come back rejected; the rest processed after two pending polls. */
  function scriptOutcomes() {
    const fileOf = new Map<string, string>();
    const polls = new Map<string, number>();
    api.onCreate = (body) => {
      const reply = api.issue(body.fileName, body.contentType);
      fileOf.set((reply.json as UploadTicket).uploadId, body.fileName);
      return reply;
    };
    api.onStatus = (uploadId): Reply => {
      const n = (polls.get(uploadId) ?? 0) + 1;
      polls.set(uploadId, n);
      if (n < 3) return { status: 200, json: { uploadId, status: 'pending' } };
      if (fileOf.get(uploadId)?.startsWith('fake')) {
        const message = 'The file is not a supported image.';
        return {
          status: 200,
          json: { uploadId, status: 'rejected', reason: 'not-an-image', message },
        };
      }
      return processed(uploadId);
    };
  }
  beforeEach(function () {
    api.reset();
    scriptOutcomes();
  });

  it('documents every option, the environment variables and the exit codes in --help', async function () {
    const { code, stdout } = await runCli(['upload', '--help']);
    expect(code).to.equal(0);
    for (const text of [
      '--api <url>',
      'DIRECTDROP_API',
      '--key <key>',
      'DIRECTDROP_FUNCTIONS_KEY',
      '--token <jwt>',
      'DIRECTDROP_TOKEN',
      'dev-token --api',
      '--meta <key=value>',
      '--header',
      '--concurrency',
      '--timeout',
      '--json',
      '--no-progress',
      'Exit codes',
      '130',
    ]) {
      expect(stdout).to.contain(text);
    }
  });

  it('exits 0 and prints each variant URL when every file is processed', async function () {
    const { code, stdout, stderr } = await runCli([
      'upload',
      file('a.jpg'),
      file('c.png'),
      '--api',
      api.baseUrl,
    ]);
    expect(code, stderr).to.equal(0);
    expect(stdout)
      .to.match(/✔ .*a\.jpg: processed/)
      .and.match(/✔ .*c\.png: processed/);
    expect(stdout.match(/thumb +320×240 +image\/webp .* http:\/\/x\/t/g)).to.have.length(2);
    expect(stderr).to.contain('2 of 2 files processed');
    expect(stdout + stderr, 'never prints the upload SAS').not.to.contain('sig=');
  });

  it('exits 1 with a reason per file when files are rejected, refused locally or missing', async function () {
    const { code, stdout } = await runCli([
      'upload',
      file('a.jpg'),
      file('fake.jpg'),
      file('notes.txt'),
      file('missing.jpg'),
      '--api',
      api.baseUrl,
    ]);
    expect(code).to.equal(1);
    expect(stdout).to.match(/✔ .*a\.jpg: processed/);
    expect(stdout).to.match(
      /✖ .*fake\.jpg: rejected \(not-an-image\): The file is not a supported image\./,
    );
    expect(stdout).to.match(/✖ .*notes\.txt: failed \(content-type-not-allowed, checked locally\)/);
    expect(stdout).to.match(/✖ .*missing\.jpg: failed \(file-not-found/);
  });

  it('prints one JSON document with --json, results in argument order', async function () {
    const { code, stdout } = await runCli([
      'upload',
      file('fake.jpg'),
      file('a.jpg'),
      '--api',
      api.baseUrl,
      '--json',
    ]);
    expect(code).to.equal(1);
    const report = JSON.parse(stdout);
    expect(report).to.include({ processed: 1, failed: 1 });
    expect(report.results.map((r: { file: string }) => r.file)).to.deep.equal([
      file('fake.jpg'),
      file('a.jpg'),
    ]);
    expect(report.results[0]).to.deep.include({ ok: false });
    expect(report.results[0].error).to.include({
      code: 'rejected',
      reason: 'not-an-image',
      stage: 'processing',
    });
    expect(report.results[1]).to.include({ ok: true, status: 'processed', fileName: 'a.jpg' });
    expect(report.results[1].outputs[0]).to.include({ name: 'thumb', url: 'http://x/t' });
    expect(report.results[1].timings.totalMs).to.be.a('number');
  });

  it('exits 2 for a bad --api without touching any file', async function () {
    for (const bad of ['localhost:7071/api', 'ftp://example.com/api']) {
      const { code, stderr } = await runCli(['upload', file('a.jpg'), '--api', bad]);
      expect(code, bad).to.equal(2);
      expect(stderr).to.contain('--api');
    }
    expect(api.requests).to.have.length(0);
  });

  it('exits 2 for a missing --api or an unknown option', async function () {
    const missing = await runCli(['upload', file('a.jpg')]);
    expect(missing.code).to.equal(2);
    expect(missing.stderr).to.contain("required option '--api <url>'");
    const unknown = await runCli(['upload', file('a.jpg'), '--api', api.baseUrl, '--bogus']);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.contain("unknown option '--bogus'");
  });

  it('exits 3 with a clear message when the API cannot be reached', async function () {
    const port = await freePort();
    const { code, stdout } = await runCli([
      'upload',
      file('a.jpg'),
      '--api',
      `http://127.0.0.1:${port}/api`,
    ]);
    expect(code).to.equal(3);
    expect(stdout).to.contain(
      `Could not reach the directdrop API at http://127.0.0.1:${port} (ECONNREFUSED)`,
    );
  });

  it('reads --api and --key from the environment and sends the key to the API only', async function () {
    const { code } = await runCli(['upload', file('a.jpg')], {
      DIRECTDROP_API: api.baseUrl,
      DIRECTDROP_FUNCTIONS_KEY: 'secret-key',
    });
    expect(code).to.equal(0);
    expect(api.requests.every((r) => r.headers['x-functions-key'] === 'secret-key')).to.equal(true);
  });

  it('keeps at most --concurrency uploads in flight', async function () {
    const opened = new Map<string, number>();
    const closed = new Map<string, number>();
    const create = api.onCreate;
    api.onCreate = (body) => {
      const reply = create(body);
      opened.set((reply.json as UploadTicket).uploadId, Date.now());
      return reply;
    };
    const status = api.onStatus!;
    api.onStatus = (uploadId) => {
      const reply = status(uploadId);
      if ((reply.json as { status: string }).status !== 'pending') closed.set(uploadId, Date.now());
      return reply;
    };
    const files = ['a.jpg', 'b.jpg', 'c.png', 'd.jpg', 'e.webp'].map(file);
    const { code } = await runCli(['upload', ...files, '--api', api.baseUrl, '--concurrency', '2']);
    expect(code).to.equal(0);
    expect(opened.size).to.equal(5);
    const maxInFlight = Math.max(
      ...[...opened.values()].map(
        (t) =>
          [...opened.keys()].filter((id) => opened.get(id)! <= t && closed.get(id)! > t).length,
      ),
    );
    expect(maxInFlight).to.equal(2);
  });

  it('cancels uploads in flight on Ctrl-C and exits 130', async function () {
    api.onStatus = (uploadId) => ({ status: 200, json: { uploadId, status: 'pending' } });
    let child: ChildProcess | undefined;
    const run = runCli(
      ['upload', file('a.jpg'), file('b.jpg'), '--api', api.baseUrl],
      {},
      (c) => (child = c),
    );
    const polled = async () => {
      while (!api.requests.some((r) => r.method === 'GET'))
        await new Promise((r) => setTimeout(r, 50));
    };
    await polled();
    child!.kill('SIGINT');
    const { code, stdout, stderr } = await run;
    expect(code).to.equal(130);
    expect(stderr).to.contain('interrupted');
    expect(stdout.match(/failed \(aborted\)/g)).to.have.length(2);
  });

  it('sends --meta key=value (repeatable) as the upload’s metadata, and refuses a malformed one', async function () {
    const { code, stderr } = await runCli([
      'upload',
      file('a.jpg'),
      '--api',
      api.baseUrl,
      '--meta',
      'postId=42',
      '--meta',
      'note=a=b',
    ]);
    expect(code, stderr).to.equal(0);
    const post = api.requests.find((r) => r.method === 'POST')!;
    expect(JSON.parse(post.body).metadata).to.deep.equal({ postId: '42', note: 'a=b' });
    const bad = await runCli(['upload', file('a.jpg'), '--api', api.baseUrl, '--meta', 'postId']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.contain('key=value');
  });

  it('lists the caller’s uploads, one page or --all, as lines or --json', async function () {
    const summary = (n: number) => ({
      uploadId: `00000000-0000-4000-8000-00000000000${n}`,
      status: n === 0 ? 'pending' : 'rejected',
      ...(n === 0 ? { stage: 'scanning' } : { reason: 'not-an-image' }),
      fileName: `${n}.jpg`,
      contentType: 'image/jpeg',
      size: 2048,
      metadata: { postId: String(n) },
      issuedAt: '2026-12-01T10:00:00.000Z',
    });
    api.onList = (query) =>
      query.get('cursor') === 'p2'
        ? { status: 200, json: { uploads: [summary(1)] } }
        : { status: 200, json: { uploads: [summary(0)], nextCursor: 'p2' } };
    const first = await runCli(['list', '--api', api.baseUrl, '--token', 'jwt', '--limit', '1']);
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout).to.match(
      /^00000000-0000-4000-8000-000000000000 {2}pending \(scanning\) +2026-12-01T10:00:00\.000Z {2}0\.jpg {2}2\.0 KiB {2}postId=0\n$/,
    );
    expect(first.stderr).to.contain('more with --cursor p2');
    expect(api.requests[0].headers.authorization).to.equal('Bearer jwt');
    const all = await runCli(['list', '--api', api.baseUrl, '--all', '--json']);
    expect(all.code, all.stderr).to.equal(0);
    const listed = JSON.parse(all.stdout);
    expect(listed.uploads.map((u: { fileName: string }) => u.fileName)).to.deep.equal([
      '0.jpg',
      '1.jpg',
    ]);
    expect(listed).to.not.have.property('nextCursor');
  });

  it('exits 1 when the API refuses the listing', async function () {
    api.onList = () => ({
      status: 403,
      json: { error: { code: 'listing-unavailable', message: 'Anonymous callers cannot list.' } },
    });
    const { code, stderr } = await runCli(['list', '--api', api.baseUrl]);
    expect(code).to.equal(1);
    expect(stderr).to.contain('Anonymous callers cannot list.');
  });

  it('deletes uploads by id, going on past one that is not found, and exits 1 then', async function () {
    const [known, unknown] = [randomUUID(), randomUUID()];
    api.onDelete = (id) =>
      id === known
        ? { status: 204 }
        : {
            status: 404,
            json: { error: { code: 'upload-not-found', message: 'No such upload.' } },
          };
    const { code, stdout, stderr } = await runCli([
      'delete',
      unknown,
      known,
      '--api',
      api.baseUrl,
      '--key',
      'k',
    ]);
    expect(code).to.equal(1);
    expect(stdout).to.equal(`deleted ${known}\n`);
    expect(stderr).to.contain('No such upload.');
    expect(
      api.requests.map((r) => `${r.method} ${r.path} ${r.headers['x-functions-key']}`),
    ).to.deep.equal([`DELETE /api/uploads/${unknown} k`, `DELETE /api/uploads/${known} k`]);
  });
});
