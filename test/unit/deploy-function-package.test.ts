import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { CredentialUnavailableError, type TokenCredential } from '@azure/identity';
import { expect } from 'chai';
import {
  DEPLOY_DEFAULTS,
  DeployError,
  type DeployOptions,
  type DeployResult,
  deployFunctionPackage,
  deploymentIdFrom,
  hostUrl,
  isTransient,
  parseDeployArgs,
  redact,
  siteHosts,
} from '../../scripts/deploy-function-package';
import {
  DEPLOYMENT_ID,
  LIMITS,
  type OneDeployScript,
  type RecordedRequest,
  standInOneDeploy,
} from '../helpers/stand-in-one-deploy';

const SCRIPT = join(__dirname, '../../scripts/deploy-function-package.ts');
const SUBSCRIPTION = '00000000-0000-0000-0000-000000000001';
const TOKEN = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.stand-in-token.signature';
const STATIC_CREDENTIAL: TokenCredential = {
  getToken: async () => ({ token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }),
};
/** What storage says while the app's identity is not yet allowed to write the package. */
const STORAGE_403 =
  'Failed to upload the package to the deployment container: Status: 403 (This request is not authorized to perform this operation using this permission.) ErrorCode: AuthorizationPermissionMismatch';

/** A PATH with this Node and nothing else: no az anywhere. */
const PATH_WITHOUT_AZ = [
  mkdtempSync(join(tmpdir(), 'directdrop-no-az-')),
  dirname(process.execPath),
].join(delimiter);

function zip(contents = 'package bytes') {
  const path = join(mkdtempSync(join(tmpdir(), 'directdrop-deploy-')), 'functions package.zip');
  writeFileSync(path, contents);
  return { path, sha256: createHash('sha256').update(contents).digest('hex') };
}

interface Run {
  result?: DeployResult;
  error?: Error;
  lines: string[];
  requests: RecordedRequest[];
  ms: number;
  pkg: { path: string; sha256: string };
}

async function deploy(
  script: OneDeployScript,
  overrides: Partial<DeployOptions> = {},
  credential = STATIC_CREDENTIAL,
): Promise<Run> {
  const standIn = await standInOneDeploy(script);
  const pkg = zip();
  const lines: string[] = [];
  const started = Date.now();
  try {
    const result = await deployFunctionPackage(
      {
        subscription: SUBSCRIPTION,
        resourceGroup: 'directdrop-prod',
        name: 'directdrop-app',
        src: pkg.path,
        sha256: pkg.sha256,
        retryForSeconds: 30,
        deployTimeoutSeconds: 30,
        startupTimeoutSeconds: 30,
        firstBackoffSeconds: 0.05,
        pollIntervalSeconds: 0.05,
        armEndpoint: standIn.armEndpoint,
        ...overrides,
      },
      { credential, log: (line) => lines.push(line) },
    );
    return { result, lines, requests: standIn.requests, ms: Date.now() - started, pkg };
  } catch (error) {
    return {
      error: error as Error,
      lines,
      requests: standIn.requests,
      ms: Date.now() - started,
      pkg,
    };
  } finally {
    await standIn.close();
  }
}

const posts = (run: Run) => run.requests.filter((r) => r.endpoint === 'scm' && r.method === 'POST');

function expectDeployed(run: Run): DeployResult {
  expect(run.error, run.lines.join('\n')).to.equal(undefined);
  return run.result as DeployResult;
}

function expectFailure(run: Run): string {
  expect(run.error, 'the deploy should have failed').to.be.instanceOf(DeployError);
  const message = (run.error as Error).message;
  expect(message).to.contain('pulumi up again');
  return message;
}

describe('deploy-function-package against a stand-in One Deploy server (no az on PATH)', function () {
  this.timeout(30_000);
  let savedPath: string | undefined;

  before(() => {
    savedPath = process.env.PATH;
    process.env.PATH = PATH_WITHOUT_AZ;
    expect(spawnSync('az', ['version']).error?.message).to.match(/ENOENT/);
  });
  after(() => {
    process.env.PATH = savedPath;
  });

  it('deploys as the Azure CLI does for Flex: the site from ARM, the zip to its SCM host, the deployment it started, then the app', async () => {
    const run = await deploy({});
    const result = expectDeployed(run);
    expect(result).to.include({ publishAttempts: 1, deploymentId: DEPLOYMENT_ID });

    const [site, publish, ...rest] = run.requests;
    expect(site).to.include({
      endpoint: 'arm',
      method: 'GET',
      url: `/subscriptions/${SUBSCRIPTION}/resourceGroups/directdrop-prod/providers/Microsoft.Web/sites/directdrop-app?api-version=2024-04-01`,
    });
    expect(site.headers.authorization).to.equal(`Bearer ${TOKEN}`);
    expect(publish).to.include({
      endpoint: 'scm',
      method: 'POST',
      url: '/api/publish?RemoteBuild=false&Deployer=directdrop',
      bodySha256: run.pkg.sha256,
    });
    expect(publish.headers).to.include({
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/zip',
      'cache-control': 'no-cache',
    });
    expect(rest.map((r) => `${r.endpoint} ${r.method} ${r.url}`)).to.deep.equal([
      `scm GET /api/deployments/${DEPLOYMENT_ID}`,
      `scm GET /api/deployments/${DEPLOYMENT_ID}`,
      'app GET /api/limits',
    ]);
    // The app is public: the deploy token goes to Azure's management endpoints only.
    expect(rest.at(-1)?.headers.authorization).to.equal(undefined);
    expect(run.lines.join('\n')).not.to.contain(TOKEN);
    expect(run.lines.at(-1)).to.match(
      /^Deployed directdrop-app after 1 attempt\(s\) in \d+ s; .* answers GET \/api\/limits$/,
    );
  });

  it('retries 403 three times while roles propagate, with backoff, then deploys', async () => {
    const run = await deploy({
      publish: [
        { status: 403 },
        { status: 403 },
        { status: 403 },
        { status: 202, body: DEPLOYMENT_ID },
      ],
    });
    expect(expectDeployed(run).publishAttempts).to.equal(4);
    expect(posts(run)).to.have.length(4);
    expect(new Set(posts(run).map((r) => r.bodySha256))).to.deep.equal(new Set([run.pkg.sha256]));
    expect(
      run.lines.filter((line) =>
        /Refused \(403\), probably a role still propagating; retrying in/.test(line),
      ),
    ).to.have.length(3);
    // Backoff 0.05 + 0.1 + 0.2 s before the fourth try.
    expect(run.ms).to.be.greaterThan(350);
  });

  it('waits out a deployment in progress (409) and a 400 wrapping storage’s 403', async () => {
    const run = await deploy({
      publish: [
        {
          status: 409,
          body: 'There is a deployment currently in progress. Please try again when it completes.',
        },
        { status: 400, body: STORAGE_403 },
        { status: 202, body: `"${DEPLOYMENT_ID}"` },
      ],
    });
    expect(expectDeployed(run)).to.include({ publishAttempts: 3, deploymentId: DEPLOYMENT_ID });
    expect(
      run.lines.some((line) =>
        line.startsWith('Another deployment is in progress (409); retrying in'),
      ),
    ).to.equal(true);
    expect(
      run.lines.some((line) => line.startsWith('Refused (400), probably a role still propagating')),
    ).to.equal(true);
  });

  it('retries an app ARM does not show yet, a connection reset and a 503', async () => {
    const run = await deploy({
      site: [{ status: 404, body: { error: { code: 'ResourceNotFound' } } }, 'default'],
      publish: [{ status: 0, reset: true }, { status: 503 }, { status: 202, body: DEPLOYMENT_ID }],
    });
    expect(expectDeployed(run).publishAttempts).to.equal(3);
    expect(run.requests.filter((r) => r.endpoint === 'arm')).to.have.length(2);
    expect(run.lines.some((line) => /One Deploy answered no answer: /.test(line))).to.equal(true);
  });

  it('waits for a host that starts slowly', async () => {
    const run = await deploy({
      app: [
        { status: 503, body: 'Service Unavailable' },
        { status: 503, body: 'Service Unavailable' },
        { status: 404 },
        { status: 200, body: LIMITS },
      ],
    });
    expectDeployed(run);
    expect(run.requests.filter((r) => r.endpoint === 'app')).to.have.length(4);
    expect(
      run.lines.some((line) =>
        /^Waiting for http:\/\/.*\/api\/limits to answer \(503 Service Unavailable\)$/.test(line),
      ),
    ).to.equal(true);
  });

  it('fails within its bound when the host never starts, saying where to look', async () => {
    const run = await deploy(
      { app: [{ status: 503, body: 'Function host is not running.' }] },
      { startupTimeoutSeconds: 1 },
    );
    const message = expectFailure(run);
    expect(message).to.match(
      /^The code is deployed, but http:\/\/127\.0\.0\.1:\d+\/api\/limits did not answer with the upload rules within 1 s \(last: 503 Function host is not running\.\)/,
    );
    expect(message).to.contain('Application Insights');
    expect(run.ms).to.be.below(5_000);
  });

  it('gives up after --retry-for with what to check, when roles never apply', async () => {
    const run = await deploy(
      { publish: [{ status: 403, body: 'Forbidden' }] },
      { retryForSeconds: 1 },
    );
    const message = expectFailure(run);
    expect(message).to.contain(
      'Deploying to directdrop-app was still refused after 1 s of retries (last answer: 403 Forbidden)',
    );
    expect(message).to.contain('Storage Blob Data Owner on the host storage account');
    expect(message).to.contain('directdrop:deployRetryMinutes');
    expect(posts(run).length).to.be.within(2, 6);
    expect(run.ms).to.be.below(5_000);
  });

  it('fails a failed deployment with the end of its log, without publishing again', async () => {
    const run = await deploy({
      deployment: [
        {
          status: 200,
          body: { id: DEPLOYMENT_ID, status: 3, status_text: 'Failed', complete: true },
        },
      ],
      log: [
        {
          status: 200,
          body: [
            { message: 'Starting deployment pipeline.' },
            {
              message:
                'Function triggers synchronization failed due to Response status code does not indicate success: 500 (Internal Server Error).',
            },
          ],
        },
      ],
    });
    const message = expectFailure(run);
    expect(message).to.contain(
      `The deployment ${DEPLOYMENT_ID} to directdrop-app failed: Failed | Starting deployment pipeline. | Function triggers synchronization failed`,
    );
    expect(message).to.contain('Fix what its log says');
    expect(posts(run)).to.have.length(1);
    expect(run.requests.some((r) => r.url === `/api/deployments/${DEPLOYMENT_ID}/log`)).to.equal(
      true,
    );
  });

  it('publishes again when the deployment failed on storage’s 403 (a role still propagating)', async () => {
    const run = await deploy({
      deployment: [
        {
          status: 200,
          body: { id: DEPLOYMENT_ID, status: 3, status_text: STORAGE_403, complete: true },
        },
        { status: 200, body: { id: DEPLOYMENT_ID, status: 4, complete: true } },
      ],
    });
    expect(expectDeployed(run).publishAttempts).to.equal(2);
  });

  it('stops following a deployment that never completes', async () => {
    const run = await deploy(
      {
        deployment: [
          {
            status: 202,
            body: { id: DEPLOYMENT_ID, status: 2, status_text: 'Deploying', complete: false },
          },
        ],
      },
      { deployTimeoutSeconds: 1 },
    );
    const message = expectFailure(run);
    expect(message).to.contain(
      `The deployment ${DEPLOYMENT_ID} to directdrop-app did not complete within 1 s (last: status 2 (Deploying)); follow it at http://`,
    );
    expect(run.ms).to.be.below(5_000);
  });

  it('refuses a package that is not the one Pulumi hashed, before any request or token', async () => {
    let asked = 0;
    const run = await deploy(
      {},
      { sha256: 'f'.repeat(64) },
      {
        getToken: async () => {
          asked++;
          return null;
        },
      },
    );
    expect(run.error?.message).to.match(
      /changed since Pulumi hashed it \(sha256 [0-9a-f]{64}, expected f{64}\); run pulumi up again$/,
    );
    expect(run.requests).to.deep.equal([]);
    expect(asked).to.equal(0);
  });

  it('says how to sign in when no credential is available, and sends nothing', async () => {
    const run = await deploy(
      {},
      {},
      {
        getToken: async () => {
          throw new CredentialUnavailableError(
            'DefaultAzureCredential: no credential in the chain provided a token',
          );
        },
      },
    );
    const message = expectFailure(run);
    expect(message).to.contain(
      'Could not get an Azure token to deploy with (DefaultAzureCredential: no credential',
    );
    expect(message).to.contain('az login');
    expect(message).to.contain('AZURE_CLIENT_ID');
    expect(run.requests).to.deep.equal([]);
  });

  it('refuses at once what is not transient, and never echoes a SAS signature or token', async () => {
    const run = await deploy({
      publish: [
        {
          status: 400,
          body: `Invalid zip: https://host.blob.core.windows.net/app-package/released-package.zip?sv=2024&sig=SECRET123 Authorization: Bearer ${TOKEN}`,
        },
      ],
    });
    const message = expectFailure(run);
    expect(message).to.contain('One Deploy refused the package: 400 Invalid zip');
    expect(message).to.contain('sig=<redacted>');
    expect(message).not.to.contain('SECRET123');
    expect(message).not.to.contain(TOKEN);
    expect(posts(run)).to.have.length(1);
  });
});

describe('deploy-function-package command line', function () {
  this.timeout(30_000);

  it('takes the arguments infra/function-app.ts passes, with the documented defaults', () => {
    expect(
      parseDeployArgs([
        '--subscription',
        SUBSCRIPTION,
        '--resource-group',
        'rg',
        '--name',
        'app',
        '--src',
        '.local/function-package/directdrop-functions.zip',
        '--retry-for',
        '600',
        `--sha256=${'a'.repeat(64)}`,
      ]),
    ).to.deep.equal({
      subscription: SUBSCRIPTION,
      resourceGroup: 'rg',
      name: 'app',
      src: '.local/function-package/directdrop-functions.zip',
      sha256: 'a'.repeat(64),
      retryForSeconds: 600,
      deployTimeoutSeconds: DEPLOY_DEFAULTS.deployTimeoutSeconds,
      startupTimeoutSeconds: DEPLOY_DEFAULTS.startupTimeoutSeconds,
      firstBackoffSeconds: DEPLOY_DEFAULTS.firstBackoffSeconds,
      pollIntervalSeconds: DEPLOY_DEFAULTS.pollIntervalSeconds,
      armEndpoint: 'https://management.azure.com',
    });
    expect(() => parseDeployArgs(['--name', 'app'])).to.throw(
      DeployError,
      '--subscription is required',
    );
    expect(() =>
      parseDeployArgs([
        '--subscription',
        's',
        '--resource-group',
        'g',
        '--name',
        'n',
        '--src',
        'p',
        '--retry-for',
        '0',
      ]),
    ).to.throw('--retry-for must be a positive number of seconds, not "0"');
  });

  it('runs with no az on PATH and refuses a changed package before touching Azure', async () => {
    const standIn = await standInOneDeploy();
    try {
      const pkg = zip();
      const run = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          SCRIPT,
          ...['--subscription', SUBSCRIPTION, '--resource-group', 'rg', '--name', 'app'],
          ...['--src', pkg.path, '--arm-endpoint', standIn.armEndpoint],
          `--sha256=${'0'.repeat(64)}`,
        ],
        { env: { ...process.env, PATH: PATH_WITHOUT_AZ }, encoding: 'utf8', timeout: 30_000 },
      );
      expect(run.status, run.stderr).to.equal(1);
      expect(run.stderr).to.contain(`${pkg.path} changed since Pulumi hashed it`);
      expect(standIn.requests).to.deep.equal([]);
    } finally {
      await standIn.close();
    }
  });

  it('refuses an ARM endpoint that is neither https nor loopback', async () => {
    const run = await deploy({}, { armEndpoint: 'http://management.example.com' });
    expect(run.error?.message).to.equal(
      '--arm-endpoint must be https (or http on loopback), not http://management.example.com',
    );
  });
});

describe('deploy-function-package helpers', () => {
  it('retries roles propagating, a missing app, conflicts, throttling and server errors, and nothing else', () => {
    for (const status of [401, 403, 404, 408, 409, 429, 500, 502, 503])
      expect(isTransient(status, ''), String(status)).to.equal(true);
    expect(isTransient(400, STORAGE_403)).to.equal(true);
    expect(isTransient(400, 'Invalid zip file')).to.equal(false);
    expect(isTransient(413, '')).to.equal(false);
    expect(isTransient(415, '')).to.equal(false);
  });

  it('reads the deployment id One Deploy answers 202 with, JSON string or bare', () => {
    expect(deploymentIdFrom(`"${DEPLOYMENT_ID}"`)).to.equal(DEPLOYMENT_ID);
    expect(deploymentIdFrom(`${DEPLOYMENT_ID}\n`)).to.equal(DEPLOYMENT_ID);
    expect(deploymentIdFrom('')).to.equal(undefined);
    expect(deploymentIdFrom('<html>accepted</html>')).to.equal(undefined);
  });

  it('finds the SCM host as the Repository entry of hostNameSslStates, https for Azure names', () => {
    const hosts = siteHosts({
      properties: {
        defaultHostName: 'directdrop-abc.swedencentral-01.azurewebsites.net',
        hostNameSslStates: [
          { name: 'directdrop-abc.swedencentral-01.azurewebsites.net', hostType: 'Standard' },
          { name: 'directdrop-abc.scm.swedencentral-01.azurewebsites.net', hostType: 'Repository' },
        ],
      },
    });
    expect(hosts?.scm.href).to.equal(
      'https://directdrop-abc.scm.swedencentral-01.azurewebsites.net/',
    );
    expect(hosts?.app.href).to.equal('https://directdrop-abc.swedencentral-01.azurewebsites.net/');
    expect(siteHosts({ properties: { defaultHostName: 'x', hostNameSslStates: [] } })).to.equal(
      undefined,
    );
    expect(hostUrl('127.0.0.1:8080').href).to.equal('http://127.0.0.1:8080/');
    expect(hostUrl('localhost.example.com').protocol).to.equal('https:');
  });

  it('redacts SAS signatures and bearer tokens and keeps the rest on one line', () => {
    expect(
      redact('GET https://a/b?sv=1&sig=abc%2Fdef&se=2\nAuthorization: Bearer eyJ.a-b_c.d'),
    ).to.equal('GET https://a/b?sv=1&sig=<redacted>&se=2 Authorization: Bearer <redacted>');
  });
});
