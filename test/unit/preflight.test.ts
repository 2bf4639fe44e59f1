import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'chai';
import { RESOURCE_PROVIDERS, stackSettings } from '../../scripts/preflight';
import { type AzResponse, standInAz } from '../helpers/stand-in-az';

const ROOT = join(__dirname, '../..');
const SUBSCRIPTION = '00000000-0000-0000-0000-000000000001';
const SIGNED_IN: AzResponse = {
  stdout: JSON.stringify({ id: SUBSCRIPTION, name: 'Photos', user: { name: 'ops@example.com' } }),
};
const registered = (state = 'Registered'): AzResponse => ({ stdout: JSON.stringify(state) });
const FLEX_REGIONS: AzResponse = {
  stdout: JSON.stringify([{ name: 'eastus' }, { name: 'westeurope' }, { name: 'swedencentral' }]),
};
const NODE_RUNTIMES: AzResponse = {
  stdout: JSON.stringify([
    { name: 'node', version: '24', isDefault: true },
    { name: 'node', version: '22', isDefault: false },
  ]),
};

function healthyAz(overrides: Record<string, AzResponse> = {}): Record<string, AzResponse> {
  return {
    'account show': SIGNED_IN,
    ...Object.fromEntries(
      RESOURCE_PROVIDERS.map((namespace) => [
        `provider show --namespace ${namespace} `,
        registered(),
      ]),
    ),
    'functionapp list-flexconsumption-locations': FLEX_REGIONS,
    'functionapp list-flexconsumption-runtimes': NODE_RUNTIMES,
    ...overrides,
  };
}

function preflight(responses: Record<string, AzResponse>, args: string[] = []) {
  const az = standInAz(responses);
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'scripts/preflight.ts'), ...args],
    { cwd: ROOT, env: az.env, encoding: 'utf8', timeout: 60_000 },
  );
  return { ...result, calls: az.calls() };
}

describe('preflight (stand-in az on PATH)', function () {
  this.timeout(60_000);

  it('passes when signed in, providers registered and the region runs the Node version', () => {
    const run = preflight(healthyAz(), ['--location', 'westeurope', '--node-version', '24']);
    expect(run.status, run.stdout + run.stderr).to.equal(0);
    expect(run.stdout).to.contain(
      `Signed in as ops@example.com to subscription "Photos" (${SUBSCRIPTION})`,
    );
    for (const namespace of RESOURCE_PROVIDERS)
      expect(run.stdout).to.contain(`ok   ${namespace} is registered`);
    expect(run.stdout).to.contain('ok   westeurope offers Flex Consumption');
    expect(run.stdout).to.contain('ok   Flex Consumption in westeurope runs Node 24');
    expect(run.stdout).to.contain('Ready for pulumi up.');
    expect(run.calls).to.deep.include([
      'functionapp',
      'list-flexconsumption-runtimes',
      '--location',
      'westeurope',
      '--runtime',
      'node',
      '--subscription',
      SUBSCRIPTION,
      '--output',
      'json',
      '--only-show-errors',
    ]);
    expect(run.calls).to.deep.include([
      'provider',
      'show',
      '--namespace',
      'Microsoft.Consumption',
      '--query',
      'registrationState',
      '--subscription',
      SUBSCRIPTION,
      '--output',
      'json',
      '--only-show-errors',
    ]);
  });

  it('says to run az login when az is signed out, and checks nothing else', () => {
    const run = preflight(
      { 'account show': { exitCode: 1, stderr: "ERROR: Please run 'az login' to setup account." } },
      ['--location', 'westeurope'],
    );
    expect(run.status).to.equal(1);
    expect(run.stdout).to.contain('FAIL The Azure CLI is not signed in');
    expect(run.stdout).to.match(/^\s+az login$/m);
    expect(run.calls).to.have.length(1);
  });

  it('prints the az provider register command for each unregistered provider', () => {
    const run = preflight(
      healthyAz({
        'provider show --namespace Microsoft.EventGrid ': registered('NotRegistered'),
        'provider show --namespace Microsoft.Consumption ': registered('Registering'),
      }),
      ['--location', 'westeurope'],
    );
    expect(run.status).to.equal(1);
    expect(run.stdout).to.contain('FAIL Microsoft.EventGrid is not registered (NotRegistered)');
    expect(run.stdout).to.contain(
      `az provider register --namespace Microsoft.EventGrid --subscription ${SUBSCRIPTION}`,
    );
    expect(run.stdout).to.contain(
      `az provider register --namespace Microsoft.Consumption --subscription ${SUBSCRIPTION}`,
    );
    expect(run.stdout).not.to.contain('--namespace Microsoft.Web --subscription');
    expect(run.stdout).to.contain('2 check(s) failed');
  });

  it('fails for a region without Flex Consumption, and for a Node version the region lacks', () => {
    const noFlex = preflight(healthyAz(), ['--location', 'westindia']);
    expect(noFlex.status).to.equal(1);
    expect(noFlex.stdout).to.contain('FAIL westindia does not offer Flex Consumption');
    expect(noFlex.calls.some((call) => call[1] === 'list-flexconsumption-runtimes')).to.equal(
      false,
    );

    const oldRuntimes = preflight(
      healthyAz({
        'functionapp list-flexconsumption-runtimes': {
          stdout: JSON.stringify([{ name: 'node', version: '22' }]),
        },
      }),
      ['--location', 'eastus', '--node-version', '24'],
    );
    expect(oldRuntimes.status).to.equal(1);
    expect(oldRuntimes.stdout).to.contain(
      'FAIL Flex Consumption in eastus does not offer Node 24 (offers 22)',
    );
  });

  it('refuses a retired nodeVersion and passes the chosen subscription to az', () => {
    const run = preflight(healthyAz(), [
      '--location',
      'westeurope',
      '--node-version',
      '20',
      '--subscription',
      SUBSCRIPTION,
    ]);
    expect(run.status).to.equal(1);
    expect(run.stdout).to.contain(
      'FAIL directdrop:nodeVersion 20 is not supported; use one of 24, 22',
    );
    expect(run.calls[0]).to.deep.equal([
      'account',
      'show',
      '--subscription',
      SUBSCRIPTION,
      '--output',
      'json',
      '--only-show-errors',
    ]);
  });
});

describe('preflight stackSettings', () => {
  it('reads location and nodeVersion from a stack file over Pulumi.yaml defaults', () => {
    expect(stackSettings('prod')).to.deep.equal({ location: 'westeurope', nodeVersion: '24' });
    expect(stackSettings(undefined)).to.deep.equal({ location: 'eastus', nodeVersion: '24' });
    expect(() => stackSettings('nonexistent')).to.throw('There is no Pulumi.nonexistent.yaml');
  });
});
