import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { classifyFailure, configZipArgs } from '../../scripts/deploy-function-package';
import { windowsCommandLine } from '../../scripts/az';
import { type AzResponse, standInAz } from '../helpers/stand-in-az';

const SCRIPT = join(__dirname, '../../scripts/deploy-function-package.ts');
const FORBIDDEN: AzResponse = {
  exitCode: 1,
  stderr:
    'ERROR: Status Code: 403, Details: {"Code":"Forbidden","Message":"This request is not authorized to perform this operation using this permission."}\n',
};
const DEPLOYED: AzResponse = { exitCode: 0 };

function zip(contents = 'package bytes') {
  const path = join(mkdtempSync(join(tmpdir(), 'directdrop-deploy-')), 'functions package.zip');
  writeFileSync(path, contents);
  return { path, sha256: createHash('sha256').update(contents).digest('hex') };
}

function deploy(responses: AzResponse[], extra: string[] = [], pkg = zip()) {
  const az = standInAz(responses);
  const args = [
    '--subscription',
    '00000000-0000-0000-0000-000000000001',
    '--resource-group',
    'directdrop-prod',
    '--name',
    'directdrop-app',
    '--src',
    pkg.path,
    '--first-backoff',
    '0.05',
    ...extra,
  ];
  const started = Date.now();
  const result = spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, ...args], {
    env: az.env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { ...result, calls: az.calls(), ms: Date.now() - started, pkg };
}

describe('deploy-function-package (stand-in az on PATH)', function () {
  this.timeout(60_000);

  it('passes az one argument per array element: config-zip with the subscription, group, app and package', () => {
    const run = deploy([DEPLOYED]);
    expect(run.status, run.stderr).to.equal(0);
    expect(run.calls).to.deep.equal([
      [
        'functionapp',
        'deployment',
        'source',
        'config-zip',
        '--subscription',
        '00000000-0000-0000-0000-000000000001',
        '--resource-group',
        'directdrop-prod',
        '--name',
        'directdrop-app',
        '--src',
        run.pkg.path,
        '--timeout',
        '870',
        '--only-show-errors',
        '--output',
        'none',
      ],
    ]);
  });

  it('retries 403 with backoff while a role propagates, then succeeds', () => {
    const run = deploy([FORBIDDEN, FORBIDDEN, FORBIDDEN, DEPLOYED], ['--retry-for', '30']);
    expect(run.status, run.stderr).to.equal(0);
    expect(run.calls).to.have.length(4);
    expect(new Set(run.calls.map((call) => JSON.stringify(call))).size).to.equal(1);
    expect(run.stdout.match(/Refused \(401\/403\).*retrying in/g)).to.have.length(3);
    // Backoff 0.05 + 0.1 + 0.2 s before the fourth try.
    expect(run.ms).to.be.greaterThan(350);
    expect(run.stdout).to.contain('after 4 attempt(s)');
  });

  it('retries 404 (the app not reachable yet) the same way', () => {
    const notFound = {
      exitCode: 1,
      stderr: 'ERROR: Operation returned an invalid status code Not Found\n',
    };
    const run = deploy([notFound, DEPLOYED]);
    expect(run.status, run.stderr).to.equal(0);
    expect(run.calls).to.have.length(2);
  });

  it('gives up after --retry-for with a message that says what to do', () => {
    const run = deploy([FORBIDDEN], ['--retry-for', '1']);
    expect(run.status).to.equal(1);
    expect(run.calls.length).to.be.within(2, 6);
    expect(run.ms).to.be.below(15_000);
    expect(run.stderr).to.contain('Still refused (401/403)');
    expect(run.stderr).to.contain('Storage Blob Data Owner on the host storage account');
    expect(run.stderr).to.contain('pulumi up again');
    expect(run.stderr).to.contain('Status Code: 403');
  });

  it('kills an az call that outlives --attempt-timeout instead of hanging', () => {
    const run = deploy([{ exitCode: 0, delayMs: 30_000 }], ['--attempt-timeout', '1']);
    expect(run.status).to.equal(1);
    expect(run.ms).to.be.below(15_000);
    expect(run.calls).to.have.length(1);
    expect(run.stderr).to.contain('az did not finish within 1 s and was stopped');
  });

  it('does not retry other failures, and says to sign in when az is signed out', () => {
    const broken = deploy([{ exitCode: 1, stderr: 'ERROR: Zip file is corrupt\n' }]);
    expect(broken.status).to.equal(1);
    expect(broken.calls).to.have.length(1);
    expect(broken.stderr).to.contain('az exited with 1:\nERROR: Zip file is corrupt');

    const signedOut = deploy([
      { exitCode: 1, stderr: "ERROR: Please run 'az login' to setup account.\n" },
    ]);
    expect(signedOut.status).to.equal(1);
    expect(signedOut.calls).to.have.length(1);
    expect(signedOut.stderr).to.contain('The Azure CLI is not signed in: run az login');
  });

  it('refuses a package that is not the one Pulumi hashed, before calling az', () => {
    const pkg = zip();
    const run = deploy([DEPLOYED], ['--sha256', 'f'.repeat(64)], pkg);
    expect(run.status).to.equal(1);
    expect(run.calls).to.deep.equal([]);
    expect(run.stderr).to.contain('changed since Pulumi hashed it');
    expect(deploy([DEPLOYED], [`--sha256=${pkg.sha256}`], pkg).status).to.equal(0);
  });

  it('never echoes a SAS signature from az output', () => {
    const run = deploy([
      {
        exitCode: 1,
        stderr: 'ERROR: failed https://a.blob.core.windows.net/c/p.zip?sv=1&sig=SECRET123\n',
      },
    ]);
    expect(run.status).to.equal(1);
    expect(run.stderr).not.to.contain('SECRET123');
    expect(run.stderr).to.contain('sig=<redacted>');
  });
});

describe('deploy-function-package helpers', () => {
  it('classifies az failures: 401/403 and 404 are retried, signed-out and others are not', () => {
    expect(classifyFailure('Status Code: 401 Unauthorized')).to.equal('auth');
    expect(classifyFailure('AuthorizationPermissionMismatch')).to.equal('auth');
    expect(classifyFailure('(ResourceNotFound) The Resource was not found')).to.equal('not-found');
    expect(classifyFailure("Please run 'az login' to setup account.")).to.equal('login');
    expect(classifyFailure('Deployment failed: build error')).to.equal('other');
  });

  it("bounds az's own status wait inside the attempt timeout", () => {
    const args = configZipArgs({
      subscription: 's',
      resourceGroup: 'g',
      name: 'n',
      src: 'p.zip',
      retryForSeconds: 60,
      attemptTimeoutSeconds: 300,
      firstBackoffSeconds: 1,
    });
    expect(args.slice(args.indexOf('--timeout'), args.indexOf('--timeout') + 2)).to.deep.equal([
      '--timeout',
      '270',
    ]);
  });

  it('quotes each argument for cmd.exe on Windows and refuses shell metacharacters', () => {
    expect(windowsCommandLine(['--src', 'C:\\my packages\\f.zip'])).to.equal(
      '"az.cmd" "--src" "C:\\my packages\\f.zip"',
    );
    expect(() => windowsCommandLine(['a" & calc'])).to.throw(/shell metacharacter/);
  });
});
