import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { expect } from 'chai';
import { windowsCommandLine } from '../../scripts/az';
import {
  BUDGET_PROVIDER,
  RESOURCE_PROVIDERS,
  SCANNING_PROVIDER,
  compareVersions,
  requiredProviders,
  stackSettings,
} from '../../scripts/preflight';
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

const AZ_VERSION: AzResponse = {
  stdout: JSON.stringify({ 'azure-cli': '2.81.0', 'azure-cli-core': '2.81.0', extensions: {} }),
};
const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000).toISOString();
/** createdOn of the role assignments at the subscription's scope: the oldest is a year old. */
const OLD_SUBSCRIPTION: AzResponse = {
  stdout: JSON.stringify([hoursAgo(2), hoursAgo(24 * 365), null]),
};
const NO_DEFENDER_PLAN: AzResponse = {
  stdout: JSON.stringify({ name: 'StorageAccounts', pricingTier: 'Free' }),
};
const DEFENDER_SCANNING_PLAN: AzResponse = {
  stdout: JSON.stringify({
    name: 'StorageAccounts',
    pricingTier: 'Standard',
    subPlan: 'DefenderForStorageV2',
    extensions: [
      { name: 'OnUploadMalwareScanning', isEnabled: 'True' },
      { name: 'SensitiveDataDiscovery', isEnabled: 'True' },
    ],
  }),
};

function healthyAz(overrides: Record<string, AzResponse> = {}): Record<string, AzResponse> {
  return {
    version: AZ_VERSION,
    'account show': SIGNED_IN,
    ...Object.fromEntries(
      [...RESOURCE_PROVIDERS, BUDGET_PROVIDER, SCANNING_PROVIDER].map((namespace) => [
        `provider show --namespace ${namespace} `,
        registered(),
      ]),
    ),
    'role assignment list': OLD_SUBSCRIPTION,
    'security pricing show': NO_DEFENDER_PLAN,
    'functionapp list-flexconsumption-locations': FLEX_REGIONS,
    'functionapp list-flexconsumption-runtimes': NODE_RUNTIMES,
    ...overrides,
  };
}

function preflight(responses: Record<string, AzResponse>, args: string[] = [], path?: string) {
  const az = standInAz(responses);
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'scripts/preflight.ts'), ...args],
    {
      cwd: ROOT,
      env: path === undefined ? az.env : { ...az.env, PATH: path },
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  return { ...result, calls: az.calls() };
}

const provided = (calls: string[][]) =>
  calls.filter((call) => call[0] === 'provider').map((call) => call[3]);

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
    expect(run.stdout).to.contain('ok   Azure CLI 2.81.0');
    expect(run.stdout).to.match(
      /ok {3}The subscription is old enough for budgets \(its oldest role assignment is from \d{4}-\d\d-\d\d\)/,
    );
    expect(run.stdout).to.contain('ok   No subscription-level Defender for Storage plan');
    expect(run.stdout).not.to.contain('WARN');
    expect(run.stdout).to.match(/Ready for pulumi up\.\n$/);
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
      {
        version: AZ_VERSION,
        'account show': { exitCode: 1, stderr: "ERROR: Please run 'az login' to setup account." },
      },
      ['--location', 'westeurope'],
    );
    expect(run.status).to.equal(1);
    expect(run.stdout).to.contain('FAIL The Azure CLI is not signed in');
    expect(run.stdout).to.match(/^\s+az login$/m);
    expect(run.calls.map((call) => call[0])).to.deep.equal(['version', 'account']);
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
    expect(run.calls[1]).to.deep.equal([
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

describe('preflight: az version, scanning, budgets and Defender (stand-in az on PATH)', function () {
  this.timeout(60_000);

  it('fails when az is missing, saying the code deploy does not need it, and when it is too old', () => {
    const missing = preflight(
      healthyAz(),
      ['--location', 'westeurope'],
      [mkdtempSync(join(tmpdir(), 'directdrop-no-az-')), dirname(process.execPath)].join(delimiter),
    );
    expect(missing.status).to.equal(1);
    expect(missing.stdout).to.match(
      /FAIL The Azure CLI does not run \(az could not start: .*ENOENT.*\); these checks need it, the code deploy does not/,
    );
    expect(missing.stdout).to.contain('https://aka.ms/installazurecli');

    const old = preflight(
      healthyAz({ version: { stdout: JSON.stringify({ 'azure-cli': '2.55.0' }) } }),
      ['--location', 'westeurope'],
    );
    expect(old.status).to.equal(1);
    expect(old.stdout).to.contain(
      'FAIL Azure CLI 2.55.0 is too old; these checks need 2.60.0 or later',
    );
    expect(old.stdout).to.match(/^\s+az upgrade$/m);
  });

  it('checks Microsoft.Security for a stack that scans, and Microsoft.Consumption only with a budget', () => {
    const dev = preflight(
      healthyAz({ 'provider show --namespace Microsoft.Security ': registered('NotRegistered') }),
      ['--stack', 'dev'],
    );
    expect(dev.status).to.equal(1);
    expect(dev.stdout).to.contain('FAIL Microsoft.Security is not registered (NotRegistered)');
    expect(dev.stdout).to.contain(
      `az provider register --namespace Microsoft.Security --subscription ${SUBSCRIPTION}`,
    );
    expect(provided(dev.calls)).to.include.members(['Microsoft.Security', 'Microsoft.Consumption']);

    const noBudget = preflight(healthyAz(), [
      '--location',
      'westeurope',
      '--malware-scanning',
      'false',
      '--monthly-budget',
      '0',
    ]);
    expect(noBudget.status, noBudget.stdout).to.equal(0);
    expect(provided(noBudget.calls)).to.deep.equal([...RESOURCE_PROVIDERS]);
    expect(noBudget.calls.some((call) => call[0] === 'role')).to.equal(false);
  });

  it('warns, without failing, when the subscription is too new for budgets', () => {
    const run = preflight(
      healthyAz({ 'role assignment list': { stdout: JSON.stringify([hoursAgo(5), hoursAgo(3)]) } }),
      ['--location', 'westeurope'],
    );
    expect(run.status, run.stdout).to.equal(0);
    expect(run.stdout).to.contain(
      'WARN The subscription looks new (its oldest role assignment is 5 hours old): Azure refuses budgets for up to 48 hours',
    );
    expect(run.stdout).to.match(/^\s+pulumi config set monthlyBudget 0$/m);
    expect(run.stdout).to.contain('Ready for pulumi up. Read the 1 warning(s) first.');
    expect(run.calls).to.deep.include([
      'role',
      'assignment',
      'list',
      '--scope',
      `/subscriptions/${SUBSCRIPTION}`,
      '--query',
      '[].createdOn',
      '--subscription',
      SUBSCRIPTION,
      '--output',
      'json',
      '--only-show-errors',
    ]);

    const unknown = preflight(
      healthyAz({ 'role assignment list': { exitCode: 1, stderr: 'ERROR: AuthorizationFailed' } }),
      ['--location', 'westeurope'],
    );
    expect(unknown.status).to.equal(0);
    expect(unknown.stdout).to.contain(
      'WARN Could not tell how old the subscription is (ERROR: AuthorizationFailed)',
    );
  });

  it('warns about a subscription-level Defender plan that scans on upload, which brings its own system topic', () => {
    const run = preflight(healthyAz({ 'security pricing show': DEFENDER_SCANNING_PLAN }), [
      '--location',
      'westeurope',
    ]);
    expect(run.status, run.stdout).to.equal(0);
    expect(run.stdout).to.contain(
      'WARN The subscription has a Defender for Storage plan (DefenderForStorageV2) with on-upload malware scanning',
    );
    expect(run.stdout).to.contain('"Only one system topic is allowed per source"');
    expect(run.stdout).to.match(/^\s+az eventgrid system-topic delete /m);
    expect(run.calls).to.deep.include([
      'security',
      'pricing',
      'show',
      '--name',
      'StorageAccounts',
      '--subscription',
      SUBSCRIPTION,
      '--output',
      'json',
      '--only-show-errors',
    ]);

    const withoutScanning = preflight(
      healthyAz({
        'security pricing show': {
          stdout: JSON.stringify({
            pricingTier: 'Standard',
            extensions: [{ name: 'OnUploadMalwareScanning', isEnabled: 'False' }],
          }),
        },
      }),
      ['--location', 'westeurope'],
    );
    expect(withoutScanning.stdout).to.contain(
      'ok   The subscription-level Defender for Storage plan does not scan on upload',
    );

    const unregistered = preflight(
      healthyAz({
        'security pricing show': {
          exitCode: 1,
          stderr:
            "ERROR: (MissingSubscriptionRegistration) The subscription is not registered to use namespace 'Microsoft.Security'.",
        },
      }),
      ['--location', 'westeurope'],
    );
    expect(unregistered.stdout).to.contain(
      'ok   No subscription-level Defender for Storage plan (Microsoft.Security is not registered)',
    );
  });
});

describe('preflight helpers', () => {
  it('reads the keys it checks from a stack file over Pulumi.yaml defaults', () => {
    expect(stackSettings('prod')).to.deep.equal({
      location: 'westeurope',
      nodeVersion: '24',
      malwareScanning: true,
      monthlyBudget: 300,
    });
    expect(stackSettings(undefined)).to.deep.equal({
      location: 'eastus',
      nodeVersion: '24',
      malwareScanning: false,
      monthlyBudget: 50,
    });
    expect(() => stackSettings('nonexistent')).to.throw('There is no Pulumi.nonexistent.yaml');
  });

  it('needs Microsoft.Consumption only with a budget and Microsoft.Security only with scanning', () => {
    expect(requiredProviders({ malwareScanning: false, monthlyBudget: 0 })).to.deep.equal([
      ...RESOURCE_PROVIDERS,
    ]);
    expect(requiredProviders({ malwareScanning: true, monthlyBudget: 20 })).to.deep.equal([
      ...RESOURCE_PROVIDERS,
      'Microsoft.Consumption',
      'Microsoft.Security',
    ]);
  });

  it('compares az versions numerically', () => {
    expect(compareVersions('2.60.0', '2.60.0')).to.equal(0);
    expect(compareVersions('2.100.1', '2.60.0')).to.equal(1);
    expect(compareVersions('2.9.0', '2.60.0')).to.equal(-1);
    expect(compareVersions('3.0', '2.60.0')).to.equal(1);
  });

  it('quotes each az argument for cmd.exe on Windows and refuses shell metacharacters', () => {
    expect(windowsCommandLine(['--location', 'West Europe'])).to.equal(
      '"az.cmd" "--location" "West Europe"',
    );
    expect(() => windowsCommandLine(['a" & calc'])).to.throw(/shell metacharacter/);
  });
});
