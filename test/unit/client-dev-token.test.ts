/**
 * Local mode's development tokens for programs on this machine: `POST /dev-identity/token`
 * of the built-in identity provider (local/local-auth.ts) on a real HTTP server, the
 * published CLI's `directdrop dev-token --api` asking it, and the repository's operator
 * `dev-token` reading the data folder npm start uses (DIRECTDROP_LOCAL_DATA included).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { type IncomingMessage, type Server, createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { importJWK, jwtVerify } from 'jose';
import { freePort } from '../../local/azurite-sandbox';
import {
  DEV_AUDIENCE,
  DEV_TOKEN_PATH,
  devIssuer,
  devTokenRefusal,
  loadDevIdentity,
} from '../../local/dev-identity';
import { type LocalAuth, setUpLocalAuth } from '../../local/local-auth';
import type { LocalModeOptions } from '../../local/options';

const REPO_ROOT = resolve(__dirname, '../..');
const CLIENT_BIN = resolve(REPO_ROOT, 'client/src/bin.ts');

function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

/** A raw request, so the test controls Host, Origin and X-Forwarded-For. */
function post(
  port: number,
  headers: Record<string, string>,
  body = '',
  method = 'POST',
): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((done, fail) => {
    const req = request(
      { host: '127.0.0.1', port, path: DEV_TOKEN_PATH, method, headers },
      (response) => {
        let text = '';
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () =>
          done({ status: response.statusCode ?? 0, json: JSON.parse(text) }),
        );
      },
    );
    req.once('error', fail);
    req.end(body);
  });
}

describe('development tokens from a running local mode', function () {
  this.timeout(60_000);
  let dataDir: string;
  let port: number;
  let auth: LocalAuth;
  let server: Server;
  let issuer: string;

  before(async function () {
    dataDir = await mkdtemp(join(tmpdir(), 'directdrop-dev-token-'));
    port = await freePort();
    const options = { dataDir, port, anonymous: false, func: false } as LocalModeOptions;
    auth = await setUpLocalAuth(options, {});
    issuer = devIssuer(`http://localhost:${port}`);
    server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (!auth.serve?.(req, path, res)) res.writeHead(404).end();
    });
    await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
  });
  after(async function () {
    await new Promise((done) => server?.close(done));
    await auth?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function verified(token: string) {
    const { publicJwk } = await loadDevIdentity(dataDir);
    const { payload } = await jwtVerify(token, await importJWK(publicJwk, 'ES256'), {
      issuer,
      audience: DEV_AUDIENCE,
    });
    return payload;
  }

  it('hands a program on this machine a token the API accepts, for the subject asked', async function () {
    const { status, json } = await post(
      port,
      { host: `localhost:${port}`, 'content-type': 'application/json' },
      JSON.stringify({ subject: 'alice', hours: 1, scope: 'uploads.write' }),
    );
    expect(status).to.equal(200);
    expect(json).to.include({ token_type: 'Bearer', expires_in: 3600, subject: 'alice' });
    const payload = await verified(json.access_token as string);
    expect(payload).to.include({ sub: 'alice', scope: 'uploads.write' });
    expect(payload.exp! - payload.iat!).to.equal(3600);
    // An empty body is the printed token's user, for the default lifetime.
    const plain = await post(port, { host: `127.0.0.1:${port}` });
    expect((await verified(plain.json.access_token as string)).sub).to.equal('dev-user');
  });

  it('refuses a request through a proxy, to another host name, or from another origin’s page', async function () {
    const cases: Array<[string, Record<string, string>]> = [
      ['a tunnel or proxy', { host: `localhost:${port}`, 'x-forwarded-for': '203.0.113.9' }],
      ['DNS rebinding', { host: `evil.example:${port}` }],
      ['another origin', { host: `localhost:${port}`, origin: 'http://localhost:5173' }],
    ];
    for (const [what, headers] of cases) {
      const { status, json } = await post(port, headers);
      expect(status, what).to.equal(403);
      expect(json.error).to.include({ code: 'dev-token-refused' });
      expect(JSON.stringify(json), what).to.not.contain('access_token');
    }
    // The page local mode serves is same-origin and may ask.
    const samePage = await post(port, {
      host: `localhost:${port}`,
      origin: `http://localhost:${port}`,
    });
    expect(samePage.status).to.equal(200);
  });

  it('refuses a caller elsewhere on the network', function () {
    const from = (remoteAddress: string) =>
      devTokenRefusal({
        socket: { remoteAddress },
        headers: { host: 'localhost:7071' },
      } as unknown as IncomingMessage);
    expect(from('192.0.2.10')).to.contain('this machine only');
    expect(from('::ffff:192.0.2.10')).to.contain('this machine only');
    for (const loopback of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      expect(from(loopback), loopback).to.equal(undefined);
    }
  });

  it('answers bad requests with the API’s error shape', async function () {
    const host = { host: `localhost:${port}` };
    const wrongMethod = await post(port, host, '', 'GET');
    expect(wrongMethod.status).to.equal(405);
    expect(wrongMethod.json.error).to.include({ code: 'method-not-allowed' });
    for (const body of ['not json', '[]', '{"hours": 1000}', '{"subject": ""}', '{"sub": "x"}']) {
      const { status, json } = await post(port, host, body);
      expect(status, body).to.equal(400);
      expect(json.error, body).to.include({ code: 'invalid-body' });
    }
  });

  it('has no token endpoint without the built-in provider (--anonymous)', async function () {
    const anonymous = await setUpLocalAuth(
      { dataDir, port, anonymous: true, func: false } as LocalModeOptions,
      {},
    );
    expect(anonymous.serve).to.equal(undefined);
  });

  it('the published CLI prints a token: directdrop dev-token --api', async function () {
    const api = `http://localhost:${port}/api`;
    const { code, stdout, stderr } = await run([
      '--import',
      'tsx',
      CLIENT_BIN,
      'dev-token',
      '--api',
      api,
      '--sub',
      'bob',
    ]);
    expect(code, stderr).to.equal(0);
    expect((await verified(stdout.trim())).sub).to.equal('bob');

    const help = await run(['--import', 'tsx', CLIENT_BIN, 'upload', '--help']);
    expect(help.stdout).to.contain('dev-token --api');
    const commands = await run(['--import', 'tsx', CLIENT_BIN, '--help']);
    expect(commands.stdout).to.match(/^ {2}dev-token \[options\]/m);
  });

  it('the published CLI says why when nothing hands out tokens there', async function () {
    const closed = await freePort();
    const unreachable = await run([
      '--import',
      'tsx',
      CLIENT_BIN,
      'dev-token',
      '--api',
      `http://127.0.0.1:${closed}/api`,
    ]);
    expect(unreachable.code).to.equal(3);
    expect(unreachable.stderr).to.contain('is npm start running there?');

    // A server without the endpoint: 404, as local mode with --anonymous answers.
    const bare = createServer((_, res) => res.writeHead(404).end());
    const barePort = await freePort();
    await new Promise<void>((done) => bare.listen(barePort, '127.0.0.1', done));
    try {
      const { code, stderr } = await run([
        '--import',
        'tsx',
        CLIENT_BIN,
        'dev-token',
        '--api',
        `http://127.0.0.1:${barePort}/api`,
      ]);
      expect(code).to.equal(1);
      expect(stderr).to.contain('hands out no development tokens').and.contain('--anonymous');
    } finally {
      await new Promise((done) => bare.close(done));
    }
  });

  it('the repository’s operator dev-token reads DIRECTDROP_LOCAL_DATA, as npm start does', async function () {
    const { code, stdout, stderr } = await run(
      ['bin/directdrop.mjs', 'dev-token', '--sub', 'carol'],
      {
        DIRECTDROP_LOCAL_DATA: dataDir,
      },
    );
    expect(code, stderr).to.equal(0);
    expect((await verified(stdout.trim())).sub).to.equal('carol');
    // And asks the running local mode with --api, like the published CLI.
    const asked = await run([
      'bin/directdrop.mjs',
      'dev-token',
      '--api',
      `http://localhost:${port}/api`,
    ]);
    expect(asked.code, asked.stderr).to.equal(0);
    expect((await verified(asked.stdout.trim())).sub).to.equal('dev-user');
  });
});
