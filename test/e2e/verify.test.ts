/**
 * `npm run verify` against local mode, which speaks the same API as a deployment: it passes
 * on a healthy one (signed in, scanning, as `npm start` runs), reads a stack's outputs through
 * `pulumi stack output`, and fails naming the step when processing is stopped or when the
 * malware gate is off but expected.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { expect } from 'chai';
import {
  type LocalModeProcess,
  type LocalModeProcessOptions,
  freeLocalModePorts,
  startLocalModeProcess,
} from '../../local/local-mode-process';
import { STEP_NAMES, type StepResult } from '../../ops/verify';

const REPO_ROOT = resolve(__dirname, '../..');
const COMMAND = join(REPO_ROOT, 'ops/verify-command.ts');
const STEP_LINE = /^(ok {2}|FAIL|skip) {2}(\w+) +(\d+\.\d s)? {2}(.*)$/;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

const verify = (args: string[], env?: NodeJS.ProcessEnv) =>
  run(process.execPath, ['--import', 'tsx', COMMAND, ...args], env);

function steps(
  stdout: string,
): Array<{ label: string; step: string; time?: string; detail: string }> {
  return stdout
    .split('\n')
    .map((line) => STEP_LINE.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map(([, label, step, time, detail]) => ({ label: label.trim(), step, time, detail }));
}

interface Local {
  process: LocalModeProcess;
  api: string;
  dataDir: string;
}

async function startLocal(
  options: Omit<LocalModeProcessOptions, 'role' | 'ports' | 'dataDir'>,
): Promise<Local> {
  const dataDir = await mkdtemp(join(tmpdir(), 'directdrop-verify-'));
  // Free ports can be taken by another program before local mode binds them: pick again.
  for (let attempt = 1; ; attempt++) {
    const ports = await freeLocalModePorts();
    const local = startLocalModeProcess({ role: 'all', ports, dataDir, ...options });
    try {
      await local.ready();
      return { process: local, api: `http://127.0.0.1:${ports.port}/api`, dataDir };
    } catch (error) {
      await local.signal('SIGKILL');
      if (attempt === 3 || !/already in use/.test(local.output())) throw error;
    }
  }
}

async function stopLocal(local: Local | undefined) {
  if (!local) return;
  await local.process.signal('SIGINT');
  await rm(local.dataDir, { recursive: true, force: true });
}

/**
 * A `pulumi` on PATH that prints a stack's outputs (or fails with `failure` on stderr) and
 * records how it was called.
 */
function standInPulumi(outputs: Record<string, unknown>, failure?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'directdrop-pulumi-'));
  const calls = join(dir, 'calls.json');
  writeFileSync(
    join(dir, 'pulumi'),
    `#!/usr/bin/env node
require('node:fs').writeFileSync(${JSON.stringify(calls)}, JSON.stringify({ argv: process.argv.slice(2), cwd: process.cwd() }));
${
  failure === undefined
    ? `process.stdout.write(${JSON.stringify(JSON.stringify(outputs, null, 2))});`
    : `process.stderr.write(${JSON.stringify(failure)}); process.exitCode = 255;`
}
`,
  );
  chmodSync(join(dir, 'pulumi'), 0o755);
  return {
    path: [dir, dirname(process.execPath)].join(delimiter),
    call: () => JSON.parse(readFileSync(calls, 'utf8')) as { argv: string[]; cwd: string },
  };
}

describe('npm run verify against local mode', function () {
  this.timeout(120_000);

  describe('a healthy deployment (sign-in and scanning on, as npm start runs)', () => {
    let local: Local | undefined;
    let token: string;

    before(async () => {
      local = await startLocal({ signIn: true, args: ['--malware-scanning', 'on'] });
      token = /TOKEN=(\S+)/.exec(local.process.output())?.[1] ?? '';
      expect(token).to.match(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    });
    after(() => stopLocal(local));

    it('passes every step, each with its time, and exits 0', async () => {
      const result = await run('npm', [
        'run',
        '-s',
        'verify',
        '--',
        '--api',
        local!.api,
        '--token',
        token,
        '--scanning',
        'on',
      ]);
      expect(result.code, result.stdout + result.stderr).to.equal(0);
      expect(result.stdout.split('\n')[0]).to.equal(`Verifying ${local!.api}`);
      const seen = steps(result.stdout);
      expect(seen.map((s) => s.step)).to.deep.equal([...STEP_NAMES]);
      for (const step of seen) {
        expect(step.label, step.detail).to.equal('ok');
        expect(step.time).to.match(/^\d+\.\d s$/);
      }
      const byStep = Object.fromEntries(seen.map((s) => [s.step, s.detail]));
      expect(byStep.unsigned).to.equal('POST /uploads without credentials: 401');
      expect(byStep.photo).to.match(
        /^\d+ KiB photo processed in \d+\.\d s.*: thumb 320×\d+, display 1600×\d+, each readable$/,
      );
      expect(byStep.malware).to.equal('the EICAR test file ended rejected / malware');
      expect(result.stdout).to.match(/\n5 step\(s\) passed in \d+\.\d s\.\n$/);
      expect(result.stdout + result.stderr).not.to.contain(token);
    });

    it('reads the API and scanning from the stack’s outputs, and prints JSON for CI', async () => {
      const pulumi = standInPulumi({
        apiBaseUrl: local!.api,
        functionAppName: 'directdrop-local',
        scanResultsTopic: 'devstoreaccount1-scan-results',
      });
      const result = await verify(['--stack', 'dev', '--token', token, '--json'], {
        ...process.env,
        PATH: pulumi.path,
      });
      expect(result.code, result.stdout + result.stderr).to.equal(0);
      expect(pulumi.call()).to.deep.equal({
        argv: ['stack', 'output', '--json', '--stack', 'dev'],
        cwd: REPO_ROOT,
      });
      const report = JSON.parse(result.stdout) as {
        ok: boolean;
        api: string;
        stack: string;
        malwareScanning: boolean;
        steps: StepResult[];
      };
      expect(report).to.include({ ok: true, api: local!.api, stack: 'dev', malwareScanning: true });
      expect(report.steps.map((s) => [s.step, s.result])).to.deep.equal(
        STEP_NAMES.map((s) => [s, 'ok']),
      );
      for (const step of report.steps) expect(step.ms).to.be.a('number');
    });

    it('says how to get credentials when the stack needs them', async () => {
      const result = await verify(['--api', local!.api, '--scanning', 'on', '--timeout', '5']);
      expect(result.code).to.equal(1);
      const photo = steps(result.stdout).find((s) => s.step === 'photo');
      expect(photo?.label).to.equal('FAIL');
      expect(photo?.detail).to.contain('the API refused the credentials (401');
      expect(photo?.detail).to.contain('pass --key <function key> or --token <JWT>');
    });
  });

  it('says what to do when pulumi is missing, or the flags are wrong', async () => {
    const noPulumi = await verify(['--stack', 'dev'], {
      ...process.env,
      PATH: [mkdtempSync(join(tmpdir(), 'directdrop-no-pulumi-')), dirname(process.execPath)].join(
        delimiter,
      ),
    });
    expect(noPulumi.code).to.equal(2);
    expect(noPulumi.stderr).to.contain('verify: pulumi is not installed or not on PATH.');
    expect(noPulumi.stderr).to.contain('pass --api <base URL> instead of --stack');

    const noStack = standInPulumi({}, "error: no stack named 'nope' found\n");
    const unknown = await verify(['--stack', 'nope'], { ...process.env, PATH: noStack.path });
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.contain(
      "verify: pulumi stack output --stack nope failed (error: no stack named 'nope' found). Check the stack's name (pulumi stack ls)",
    );

    const noApi = standInPulumi({ functionAppName: 'directdrop-x' });
    const unfinished = await verify(['--stack', 'dev'], { ...process.env, PATH: noApi.path });
    expect(unfinished.code).to.equal(2);
    expect(unfinished.stderr).to.contain(
      'verify: stack dev has no apiBaseUrl output; has pulumi up finished?',
    );

    const neither = await verify([], { ...process.env, DIRECTDROP_API: '' });
    expect(neither.code).to.equal(2);
    expect(neither.stderr).to.contain('verify: give either --stack <name> or --api <base URL>');

    const badScanning = await verify(['--api', 'http://127.0.0.1:9/api', '--scanning', 'maybe']);
    expect(badScanning.code).to.equal(2);
    expect(badScanning.stderr).to.contain('must be on or off');
  });

  describe('failures, each named by its step', () => {
    let local: Local | undefined;
    afterEach(async () => {
      await stopLocal(local);
      local = undefined;
    });

    it('fails the photo step when processing is stopped (AzureWebJobs.processUploadEvent.Disabled)', async () => {
      local = await startLocal({
        args: ['--malware-scanning', 'off'],
        env: { 'AzureWebJobs.processUploadEvent.Disabled': 'true' },
      });
      expect(local.process.output()).to.contain("Function 'processUploadEvent' is disabled");
      const result = await verify(['--api', local.api, '--scanning', 'off', '--timeout', '4']);
      expect(result.code, result.stdout + result.stderr).to.equal(1);
      const byStep = Object.fromEntries(steps(result.stdout).map((s) => [s.step, s]));
      expect(byStep.limits.label).to.equal('ok');
      expect(byStep.photo.label).to.equal('FAIL');
      expect(byStep.photo.detail).to.match(
        /^the photo was not processed: it had no outcome after 4 s \(upload [\w-]+, still pending\)\. Is processing running\?/,
      );
      expect(byStep.malware).to.include({
        label: 'skip',
        detail: 'the stack does not scan for malware',
      });
      expect(result.stdout).to.match(
        /\n1 step\(s\) failed \(photo\); 2 passed, 2 skipped, in \d+\.\d s\.\n$/,
      );
    });

    it('fails the malware step when the gate is off but expected', async () => {
      local = await startLocal({ args: ['--malware-scanning', 'off'] });
      const result = await verify(['--api', local.api, '--scanning', 'on', '--json']);
      expect(result.code, result.stdout + result.stderr).to.equal(1);
      const report = JSON.parse(result.stdout) as { ok: boolean; steps: StepResult[] };
      expect(report.ok).to.equal(false);
      const byStep = Object.fromEntries(report.steps.map((s) => [s.step, s]));
      expect(byStep.photo.result).to.equal('ok');
      expect(byStep.malware.result).to.equal('fail');
      expect(byStep.malware.detail).to.match(
        /^the EICAR test file should end rejected \/ malware, but it ended rejected \/ (corrupt|not-an-image)/,
      );
      expect(byStep.malware.detail).to.contain('is malware scanning on for the upload account?');
    });
  });
});
