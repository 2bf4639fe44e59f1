/**
 * Fuzzes the HTTP API as clients reach it: the real registrations (functions/registrations.ts)
 * served by local mode's Functions host over loopback, against a real Azurite. Whatever the
 * method, path, headers or body, the API answers below 500, errors are JSON in the documented
 * shape, and nothing secret (account key, connection string, stack trace, SAS) comes back.
 *
 * Runs are reproducible: the seed is fixed and fast-check prints it with any failure. Set
 * FC_SEED=<n> to replay or explore another seed, FC_RUNS=<factor> to run more cases.
 */
import { type IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { once } from 'node:events';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import fc from 'fast-check';
import { getRuntime } from '../../functions/adapters/runtime';
import { STORAGE_CONNECTION } from '../../functions/core/definitions';
import {
  DEFAULT_SETTINGS,
  MIB,
  SETTING_KEYS,
  parseSettings,
  toAppSettings,
} from '../../functions/core/settings';
import { uploadLimits } from '../../functions/core/limits';
import { OPENAPI_DOCUMENT } from '../../functions/core/openapi';
import { type Contract, apiContract } from '../helpers/openapi';
import { registrations } from '../../functions/registrations';
import { DEV_ACCOUNT_KEY } from '../../local/azurite';
import { UNTHROTTLED_QUOTA_ENV, freePort } from '../../local/azurite-sandbox';
import { type RunningFunctionsHost, startFunctionsHost } from '../../local/functions-host';
import { functionKeyOwner } from '../../functions/core/auth';
import { readHostConfig } from '../../local/host-config';
import type { Logger } from '../../local/log';
import { provisionStorage } from '../../local/provision';
import { ISSUED_UPLOAD_FIELDS } from '../helpers/functions';
import { type LocalAzurite, startLocalAzurite } from './local-fixtures';

const REPO_ROOT = resolve(__dirname, '../..');
const SEED = Number(process.env.FC_SEED ?? 20_261_126);
const RUNS_FACTOR = Number(process.env.FC_RUNS ?? 1);
const fuzzOptions = (numRuns: number) => ({
  seed: SEED,
  numRuns: Math.max(1, Math.round(numRuns * RUNS_FACTOR)),
});

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'] as const;
const UPLOAD_ID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ERROR_CODE = /^[a-z]+(?:-[a-z]+)*$/;
/** Stands for the one upload this file creates (and leaves pending); replaced when sent. */
const PENDING = '{pending}';

/** Request headers as sent: a list repeats the header. */
type RawHeaders = Record<string, string | readonly string[]>;

interface Probe {
  method: string;
  /** The raw request target, sent as is. */
  path: string;
  headers?: RawHeaders;
  body?: Uint8Array;
  /** A valid request the API must accept with 201. */
  mustCreate?: boolean;
  /** Framing is broken on purpose: Node's HTTP parser may refuse it before any routing. */
  malformed?: boolean;
  /** Carries its own Host header, which the host may refuse with 400. */
  ownHost?: boolean;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

/** One request on its own connection, exactly as given (node:http, not fetch, for raw control). */
function send(port: number, probe: Probe): Promise<Answer> {
  return new Promise((done, fail) => {
    // Raw name/value pairs, so that a header can repeat (even Host) exactly as given.
    const given = Object.entries(probe.headers ?? {}).flatMap(([name, value]) =>
      (typeof value === 'string' ? [value] : value).map((v) => [name, v]),
    );
    const has = (name: string) => given.some(([n]) => n.toLowerCase() === name);
    const headers = given.flat();
    if (!has('host')) headers.push('host', `127.0.0.1:${port}`);
    if (probe.body && !has('content-length') && !has('transfer-encoding'))
      headers.push('content-length', String(probe.body.length));
    const request = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: probe.method,
        path: probe.path,
        headers,
        setHost: false,
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', fail);
        response.on('end', () =>
          done({
            status: response.statusCode ?? 0,
            headers: response.headers,
            rawHeaders: response.rawHeaders,
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    request.setTimeout(10_000, () => request.destroy(new Error('no answer within 10 s')));
    request.on('error', fail);
    request.end(probe.body);
  });
}

type Owner =
  | 'createUpload'
  | 'listUploads'
  | 'getUploadStatus'
  | 'deleteUpload'
  | 'getLimits'
  | 'getOpenApiDocument'
  | 'host'
  | 'wrongMethod';

/** Each function's operation in the OpenAPI document. */
const OPERATIONS: Record<Exclude<Owner, 'host' | 'wrongMethod'>, [string, string]> = {
  createUpload: ['POST', '/uploads'],
  listUploads: ['GET', '/uploads'],
  getUploadStatus: ['GET', '/uploads/{uploadId}'],
  deleteUpload: ['DELETE', '/uploads/{uploadId}'],
  getLimits: ['GET', '/limits'],
  getOpenApiDocument: ['GET', '/openapi.json'],
};

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * Which function answers a request under Azure's routing for registrations.ts: `api/uploads`
 * (POST), `api/uploads/{uploadId}`, `api/limits` and `api/openapi.json` (GET), literals case-insensitive, one segment per
 * parameter; another method on one of those is the host's 405, anything else its 404.
 * Written from the spec, not from http-routes.ts.
 */
function ownerOf(method: string, target: string): Owner {
  let url: URL;
  try {
    url = target.startsWith('/') ? new URL(`http://h${target}`) : new URL(target, 'http://h');
  } catch {
    return 'host';
  }
  const path = url.pathname;
  if (path.toLowerCase() !== '/api' && !path.toLowerCase().startsWith('/api/')) return 'host';
  const segments = path.slice(4).split('/').filter(Boolean).map(decodeSegment);
  if (segments.some((s) => s === undefined)) return 'host';
  if (segments.length === 1 && segments[0]?.toLowerCase() === 'limits') {
    return method === 'GET' ? 'getLimits' : 'wrongMethod';
  }
  if (segments.length === 1 && segments[0]?.toLowerCase() === 'openapi.json') {
    return method === 'GET' ? 'getOpenApiDocument' : 'wrongMethod';
  }
  if (segments[0]?.toLowerCase() !== 'uploads') return 'host';
  if (segments.length === 1)
    return method === 'POST' ? 'createUpload' : method === 'GET' ? 'listUploads' : 'wrongMethod';
  if (segments.length === 2)
    return method === 'GET'
      ? 'getUploadStatus'
      : method === 'DELETE'
        ? 'deleteUpload'
        : 'wrongMethod';
  return 'host';
}

/** The route parameter getUploadStatus sees for this target. */
function uploadIdParam(target: string): string {
  const segments = new URL(`http://h${target}`).pathname.split('/').filter(Boolean);
  return decodeURIComponent(segments[2]);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** What must never reach a client; `sig=` is allowed only in a 201's uploadUrl. */
const FORBIDDEN: Array<[string, RegExp]> = [
  ['the Azurite account key', new RegExp(escapeRegExp(DEV_ACCOUNT_KEY))],
  ['an account key', /AccountKey=/i],
  ['a connection string', /DefaultEndpointsProtocol=|BlobEndpoint=|SharedAccessSignature=/i],
  ['a SAS signature', /sig=/i],
  ['a stack frame', /\n\s+at /],
  ['a source location', /\.[cm]?[jt]sx?:\d+/],
  ['a file path', new RegExp(`${escapeRegExp(REPO_ROOT)}|node_modules|file://`)],
  ['an exception', /\b[A-Z][A-Za-z]*(?:Error|Exception):/],
];

function expectNothingSecret(probe: Probe, answer: Answer, what: string): void {
  let body = answer.body.toString('utf8');
  if (answer.status === 201) {
    // The one place a signature belongs: checked on its own, then left out.
    const parsed = JSON.parse(body) as Record<string, unknown>;
    expect(String(parsed.uploadUrl), `${what}: uploadUrl`).not.to.match(/AccountKey|skoid/i);
    body = JSON.stringify({ ...parsed, uploadUrl: undefined });
  }
  const sent = [
    probe.method,
    probe.path,
    JSON.stringify(probe.headers ?? {}),
    Buffer.from(probe.body ?? []).toString('utf8'),
  ].join('\n');
  const received = `${answer.rawHeaders.join('\n')}\n\n${body}`;
  for (const [name, pattern] of FORBIDDEN) {
    // The API may quote a little of the request back (an unknown field's name); that is no leak.
    if (pattern.test(sent)) continue;
    expect(received, `${what}: ${name} in the response`).not.to.match(pattern);
  }
}

/** The empty, connection-closing 4xx Node's HTTP parser sends for framing it cannot read. */
function isParserRefusal(answer: Answer): boolean {
  return (
    answer.headers['content-type'] === undefined &&
    answer.body.length === 0 &&
    answer.headers.connection === 'close' &&
    [400, 413, 414, 431].includes(answer.status)
  );
}

function parseJson(answer: Answer, what: string): Record<string, unknown> {
  expect(answer.headers['content-type'], `${what}: content-type`).to.match(
    /^application\/json(?:;|$)/,
  );
  const text = answer.body.toString('utf8');
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`${what}: the body is not JSON: ${text.slice(0, 200)}`);
  }
}

/** `{ error: { code, message } }`, functions/handlers/http-responses.ts. */
function expectFunctionError(body: Record<string, unknown>, what: string): string {
  expect(body, what).to.have.keys('error');
  const error = body.error as Record<string, unknown>;
  expect(error, what).to.have.keys('code', 'message');
  expect(error.code, what).to.be.a('string').and.match(ERROR_CODE);
  expect(error.message, what).to.be.a('string').and.not.equal('');
  return error.code as string;
}

/**
 * The local host's own answers (no function matched, another method, a malformed Host) have
 * the API's shape too, `{ error: { code, message } }` (issue 22). Azure's host sends an empty
 * 404 there.
 */
function expectHostError(body: Record<string, unknown>, what: string): string {
  return expectFunctionError(body, what);
}

const PUBLIC_BASE_URL = 'http://localhost:7071/api';

describe('HTTP API fuzzing (real registrations, local Functions host, real Azurite)', function () {
  this.timeout(60_000);
  let storage: LocalAzurite;
  let host: RunningFunctionsHost;
  let port: number;
  let pendingId: string;
  const errors: string[] = [];
  const warnings: string[] = [];
  const savedEnv: Record<string, string | undefined> = {};
  let contract: Contract;

  before(async () => {
    contract = await apiContract();
    storage = await startLocalAzurite();
    const connection = storage.azurite.connectionString;
    const settings = parseSettings({
      ...UNTHROTTLED_QUOTA_ENV,
      [SETTING_KEYS.publicBaseUrl]: PUBLIC_BASE_URL,
    });
    await provisionStorage(connection, settings, []);
    const env = {
      ...toAppSettings(settings),
      AzureWebJobsStorage: connection,
      [STORAGE_CONNECTION]: connection,
    };
    // The handlers read their settings from process.env, as in Azure and in local mode.
    for (const key of Object.keys(env)) savedEnv[key] = process.env[key];
    Object.assign(process.env, env);
    if (!getRuntime().landing.url.startsWith(storage.azurite.blobEndpoint)) {
      throw new Error('getRuntime() was built earlier in this process for another storage account');
    }
    const log: Logger = {
      info: () => undefined,
      warn: (...args) => warnings.push(args.map(String).join(' ')),
      error: (...args) => errors.push(args.map(String).join(' ')),
    };
    port = await freePort();
    host = await startFunctionsHost({
      registrations,
      env,
      config: await readHostConfig(join(REPO_ROOT, 'host.json'), env, 2),
      port,
      hosts: ['127.0.0.1'],
      log,
    });

    // One real upload, so that some status requests find a pending upload.
    const created = await fetch(`http://127.0.0.1:${port}/api/uploads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ fileName: 'a.jpg', contentType: 'image/jpeg', size: 3 }),
    });
    expect(created.status).to.equal(201);
    const issued = (await created.json()) as { uploadId: string; uploadUrl: string };
    const put = await fetch(issued.uploadUrl, {
      method: 'PUT',
      headers: { 'x-ms-blob-type': 'BlockBlob', 'content-type': 'image/jpeg' },
      body: 'abc',
    });
    expect(put.status).to.equal(201);
    pendingId = issued.uploadId;
  });

  after(async () => {
    await host?.stop(1_000);
    for (const [key, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await storage?.stop();
  });

  afterEach(() => {
    // A handler or the host failing shows up here even when the client saw a tidy answer.
    expect(errors, 'errors logged by the host').to.deep.equal([]);
  });

  /** Sends a probe and checks every property that holds for any request. */
  async function check(probe: Probe): Promise<Answer> {
    // The pending upload stays for the whole run: a DELETE names one that was never issued.
    const target = probe.method === 'DELETE' ? crypto.randomUUID() : pendingId;
    const sent = { ...probe, path: probe.path.replaceAll(PENDING, target) };
    const answer = await send(port, sent);
    const what = `${sent.method} ${sent.path.slice(0, 120)} → ${answer.status}`;
    expect(answer.status, what).to.be.at.least(200).and.below(500);
    expectNothingSecret(sent, answer, what);

    if (isParserRefusal(answer)) {
      // Framing Node cannot parse never reaches routing; Kestrel answers it the same way.
      expect(sent.malformed, `${what}: refused by the HTTP parser`).to.equal(true);
      return answer;
    }
    if (sent.method === 'HEAD') {
      // No HTTP function accepts HEAD, so the host's 404 or 405 (or a refused Host), without a body.
      expect(answer.status, what).to.be.oneOf(sent.ownHost ? [400, 404, 405] : [404, 405]);
      expect(answer.body.length, what).to.equal(0);
      return answer;
    }
    const body = parseJson(answer, what);
    if (
      answer.status === 400 &&
      sent.ownHost &&
      (body.error as { code?: string } | undefined)?.code === 'bad-request'
    ) {
      expectHostError(body, what);
      return answer;
    }
    const owner = ownerOf(sent.method, sent.path);
    if (owner === 'host') {
      expect(answer.status, what).to.equal(404);
      expect(expectHostError(body, what), what).to.equal('not-found');
      return answer;
    }
    if (owner === 'wrongMethod') {
      expect(answer.status, what).to.equal(405);
      expect(answer.headers.allow, what).to.be.a('string').and.not.equal('');
      expect(expectHostError(body, what), what).to.equal('method-not-allowed');
      return answer;
    }
    // Whatever a function answered, the OpenAPI document describes it.
    const [operationMethod, operationPath] = OPERATIONS[owner];
    expect(
      contract.problems(operationMethod, operationPath, {
        status: answer.status,
        headers: answer.headers,
        body,
      }),
      `${what}: against the OpenAPI document`,
    ).to.deep.equal([]);
    if (owner === 'getOpenApiDocument') {
      expect(answer.status, what).to.equal(200);
      expect(body, what).to.deep.equal(JSON.parse(JSON.stringify(OPENAPI_DOCUMENT)));
      return answer;
    }
    if (owner === 'getLimits') {
      expect(answer.status, what).to.equal(200);
      expect(body, what).to.deep.equal(uploadLimits(DEFAULT_SETTINGS));
      return answer;
    }
    expect(answer.headers['cache-control'], `${what}: cache-control`).to.equal('no-store');
    if (owner === 'createUpload') {
      expect(answer.status, what).to.be.oneOf(sent.mustCreate ? [201] : [201, 400, 413, 415]);
      if (answer.status === 201) expectIssuedUpload(body, what);
      else expectFunctionError(body, what);
      return answer;
    }
    const uploadId = uploadIdParam(sent.path).toLowerCase();
    if (!UPLOAD_ID_V4.test(uploadId)) {
      expect(answer.status, what).to.equal(400);
      expect(expectFunctionError(body, what), what).to.equal('invalid-upload-id');
    } else if (uploadId !== pendingId || owner === 'deleteUpload') {
      expect(answer.status, what).to.equal(404);
      expect(expectFunctionError(body, what), what).to.equal('upload-not-found');
    } else {
      expect(answer.status, what).to.equal(200);
      expect(body, what).to.deep.include({
        uploadId: pendingId,
        status: 'pending',
        stage: 'processing',
        metadata: {},
      });
    }
    return answer;
  }

  /** The documented 201 of POST /api/uploads (README "The API"). */
  function expectIssuedUpload(body: Record<string, unknown>, what: string): void {
    expect(body, what).to.have.keys(...ISSUED_UPLOAD_FIELDS);
    const uploadId = body.uploadId as string;
    expect(uploadId, what).to.match(UPLOAD_ID_V4);
    const uploadUrl = new URL(body.uploadUrl as string);
    // One blob under the server-chosen id, in the landing container; no path tricks survive.
    expect(uploadUrl.origin + uploadUrl.pathname, what).to.satisfy((u: string) =>
      u.startsWith(`${storage.azurite.blobEndpoint}/uploads/${functionKeyOwner()}/${uploadId}/`),
    );
    const blobPath = decodeURIComponent(uploadUrl.pathname).split('/').slice(3);
    expect(
      blobPath.filter((s) => s === '' || s === '.' || s === '..'),
      what,
    ).to.deep.equal([]);
    expect(uploadUrl.searchParams.get('sp'), what).to.equal('c');
    expect(uploadUrl.searchParams.get('sr'), what).to.equal('b');
    expect(uploadUrl.searchParams.get('sig'), what).to.be.a('string').and.not.equal('');
    expect(body.method, what).to.equal('PUT');
    const headers = body.headers as Record<string, unknown>;
    expect(headers, what).to.have.keys('x-ms-blob-type', 'Content-Type');
    expect(headers['x-ms-blob-type'], what).to.equal('BlockBlob');
    expect(DEFAULT_SETTINGS.allowedContentTypes, what).to.include(headers['Content-Type']);
    const ttl = Date.parse(body.expiresOn as string) - Date.now();
    expect(ttl, what).to.be.within(0, DEFAULT_SETTINGS.uploadUrlTtlSeconds * 1000);
    expect(body.maxBytes, what).to.equal(DEFAULT_SETTINGS.maxUploadBytes);
    // From the configured public URL, whatever Host the probe sent.
    expect(body.statusUrl, what).to.equal(`${PUBLIC_BASE_URL}/uploads/${uploadId}`);
  }

  // ---- generators -------------------------------------------------------------------------

  const utf8 = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));
  const VALID = { fileName: 'cat.jpg', contentType: 'image/jpeg', size: 1234 };
  /** JSON text of VALID plus one more own key, which may be `__proto__`. */
  const withKey = (key: string, value: unknown) =>
    `${JSON.stringify(VALID).slice(0, -1)},${JSON.stringify(key)}:${JSON.stringify(value)}}`;

  const NASTY_STRINGS = [
    '',
    ' ',
    '.',
    '..',
    '../../etc/passwd',
    '..\\..\\boot.ini',
    '%2e%2e%2f',
    'a/b/../c.jpg',
    '/abs.jpg',
    'C:\\x.jpg',
    'nul.jpg',
    `${'x'.repeat(196)}.jpg`,
    `${'x'.repeat(197)}.jpg`,
    'x'.repeat(3000),
    '\u0000.jpg',
    'a\r\nb.jpg',
    '\u202egpj.exe',
    '\u2028.jpg',
    '\ufeff.jpg',
    '\ud800.jpg',
    '😀'.repeat(60),
    'e\u0301.jpg',
    '<script>alert(1)</script>.jpg',
    "'; DROP TABLE uploads;--",
    '${jndi:ldap://x/a}',
    '__proto__',
    'constructor',
    'image/jpeg',
  ];
  const oddValue: fc.Arbitrary<unknown> = fc.oneof(
    fc.constantFrom(...NASTY_STRINGS),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom(
      ...[0, -1, 1.5, 1e300, 2 ** 53, Number.MAX_SAFE_INTEGER, 25 * MIB, 25 * MIB + 1],
      ...[null, true, false, [], {}, ['image/jpeg'], { toString: 'x' }],
      ...['IMAGE/JPEG', 'image/jpeg; charset=binary', 'image/svg+xml', 'text/html', 'image/'],
      ...['/', 'image/jpeg\u0000', `${'a'.repeat(300)}/b`, 'image/jpeg, image/png', '1234'],
    ),
    fc.integer(),
    fc.double(),
    fc.jsonValue({ maxDepth: 2 }),
  );
  const RAW_BODIES = [
    '',
    ' ',
    'null',
    'true',
    '[]',
    '{}',
    '"cat.jpg"',
    '{"fileName":"a.jpg"',
    '{"fileName":"a.jpg","contentType":"image/jpeg","size":1e309}',
    '{"fileName":"a.jpg","contentType":"image/jpeg","size":-0}',
    '{"fileName":"a.jpg","contentType":"image/jpeg","size":1,"size":"1"}',
    '{"fileName":"a.jpg","contentType":"image/jpeg","size":1,"fileName":{}}',
    `\ufeff${JSON.stringify(VALID)}`,
    '{"__proto__":{"polluted":true},"fileName":"a.jpg","contentType":"image/jpeg","size":1}',
    '{"constructor":{"prototype":{"polluted":true}},"fileName":"a.jpg","contentType":"image/jpeg","size":1}',
    `${'['.repeat(2000)}${']'.repeat(2000)}`,
    `${'{"a":'.repeat(800)}1${'}'.repeat(800)}`,
  ];

  interface BodyCase {
    body: Uint8Array;
    mustCreate: boolean;
  }
  const validRequest = fc.record({
    fileName: fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 ._()-]{0,60}$/),
      fc.constantFrom('Café.jpg', '照片.png', 'фото.webp', '😀.gif', '../../x.jpg', 'a\\b.heic'),
    ),
    contentType: fc
      .constantFrom(...DEFAULT_SETTINGS.allowedContentTypes)
      .chain((t) => fc.constantFrom(t, t.toUpperCase(), `${t}; charset=binary`)),
    size: fc.integer({ min: 1, max: DEFAULT_SETTINGS.maxUploadBytes }),
  });
  const requestBodies: fc.Arbitrary<BodyCase> = fc.oneof(
    validRequest.map((v) => ({ body: utf8(JSON.stringify(v)), mustCreate: true })),
    fc
      .record({ key: fc.constantFrom('fileName', 'contentType', 'size'), value: oddValue })
      .map(({ key, value }) => ({
        body: utf8(JSON.stringify({ ...VALID, [key]: value })),
        mustCreate: false,
      })),
    fc.subarray(['fileName', 'contentType', 'size'], { minLength: 1 }).map((dropped) => ({
      body: utf8(
        JSON.stringify(
          Object.fromEntries(Object.entries(VALID).filter(([k]) => !dropped.includes(k))),
        ),
      ),
      mustCreate: false,
    })),
    fc
      .record({
        key: fc.oneof(
          fc.constantFrom('__proto__', 'constructor', 'prototype', 'blobName', 'uploadId', 'sp'),
          fc.string({ unit: 'binary', maxLength: 20 }),
        ),
        value: fc.jsonValue({ maxDepth: 2 }),
      })
      .map(({ key, value }) => ({ body: utf8(withKey(key, value)), mustCreate: false })),
    fc.constantFrom(...RAW_BODIES).map((raw) => ({ body: utf8(raw), mustCreate: false })),
    fc.uint8Array({ maxLength: 600 }).map((body) => ({ body, mustCreate: false })),
    fc.jsonValue().map((value) => ({ body: utf8(JSON.stringify(value)), mustCreate: false })),
    // Beyond the 4 KiB the API reads, as JSON and as noise.
    fc.integer({ min: 4097, max: 200_000 }).map((n) => ({
      body: utf8(JSON.stringify({ ...VALID, pad: 'x'.repeat(n) })),
      mustCreate: false,
    })),
  );
  const JSON_CONTENT_TYPES = [
    undefined,
    'application/json',
    'application/json; charset=utf-8',
    'Application/JSON',
  ];
  const contentTypes = fc.oneof(
    fc.constantFrom(...JSON_CONTENT_TYPES),
    fc.constantFrom(
      ...['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x'],
      ...['application/jsonp', 'application/json-patch+json', '*/*', '', ';', ' application/json'],
      ...['application/json, text/plain', 'image/jpeg', 'application/json; charset=utf-16'],
    ),
    fc.stringMatching(/^[\x20-\x7e]{0,40}$/),
  );

  it('POST /api/uploads: any body and content type gets a 201 or a JSON 4xx, valid requests a 201', async () => {
    await fc.assert(
      fc.asyncProperty(
        requestBodies,
        contentTypes,
        fc.constantFrom('/api/uploads', '/API/Uploads', '/api/uploads/', '/api/uploads?x=%&x=1'),
        async ({ body, mustCreate }, contentType, path) => {
          await check({
            method: 'POST',
            path,
            headers: contentType === undefined ? {} : { 'content-type': contentType },
            body,
            mustCreate: mustCreate && JSON_CONTENT_TYPES.includes(contentType),
          });
        },
      ),
      fuzzOptions(150),
    );
    // The host runs in this process: a `__proto__` key must not have reached Object.prototype.
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
  });

  const uploadIds = fc.oneof(
    fc.uuid({ version: 4 }),
    fc.uuid({ version: 4 }).map((id) => id.toUpperCase()),
    fc.uuid(),
    fc.constantFrom(PENDING, PENDING.toUpperCase()),
    fc.constantFrom(
      ...['..', '.', '../processed', '..%2F..%2Fprocessed', '%2e%2e', '%2e%2e%2f', 'a%2Fb'],
      ...['%252F', '%', '%zz', '%00', '%C0%AF', '%E2%80%AE', 'uploads', '%20'],
      ...['00000000-0000-4000-8000-000000000000', '00000000-0000-0000-0000-000000000000', ';'],
      ...[`${PENDING}%2Fa.jpg`, `${PENDING}/a.jpg`, `${PENDING}/../${PENDING}`, `${PENDING}?x`],
    ),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }).map(encodeURIComponent),
    fc.integer({ min: 100, max: 8000 }).map((n) => 'a'.repeat(n)),
    fc.uuid({ version: 4 }).map((id) => `${id}%2Fmanifest.json`),
  );

  it('GET /api/uploads/{uploadId}: any id gets 200 pending, a JSON 400 or a JSON 404', async () => {
    await fc.assert(
      fc.asyncProperty(uploadIds, fc.constantFrom('GET', 'GET', 'HEAD'), async (id, method) => {
        await check({ method, path: `/api/uploads/${id}` });
      }),
      fuzzOptions(100),
    );
  });

  const PATH_TOKENS = ['api', 'uploads', 'UPLOADS', '..', '.', '%2e%2e', '%2F', '%', 'x', '%00'];
  const routes = fc.oneof(
    fc.constantFrom(
      ...['/api/uploads', '/api/uploads/', `/api/uploads/${PENDING}`, '/api/uploads/x/y', '/api'],
      ...['/api/', '/', '/index.html', '/admin/host/status', '/api/admin/functions', '*'],
      ...['/runtime/webhooks/eventgrid', '/api/../api/uploads', '/api/./uploads', '//api/uploads'],
      ...['/api//uploads', '/%61pi/uploads', '/api/upload%73', '//localhost/api/uploads'],
      ...['/api/limits', '/api/LIMITS', '/api/limits/', '/api/limits/x', '/api/openapi.json'],
    ),
    fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)),
    fc.webPath().map((p) => `/api${p.startsWith('/') ? p : `/${p}`}`),
    fc
      .array(fc.constantFrom(...PATH_TOKENS), { minLength: 1, maxLength: 5 })
      .map((s) => `/${s.join('/')}`),
  );

  it('any method on any path: below 500, JSON errors, functions only where registered', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...METHODS),
        routes,
        fc.option(requestBodies, { nil: undefined }),
        async (method, path, body) => {
          // GET and HEAD bodies are dropped by @azure/functions with a console warning; see below.
          const sendsBody = body !== undefined && method !== 'GET' && method !== 'HEAD';
          await check({
            method,
            path,
            headers: { 'content-type': 'application/json' },
            body: sendsBody ? body.body : undefined,
          });
        },
      ),
      fuzzOptions(100),
    );
  });

  const latin1Printable = fc.string({
    unit: fc.constantFrom(
      ...Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)),
      ...['\u00e9', '\u00ff', '\u00a0', '\t'],
    ),
    maxLength: 60,
  });
  interface HeaderCase {
    headers: RawHeaders;
    malformed?: boolean;
    ownHost?: boolean;
    /** The body must go unsent (a framing header lies about it). */
    noBody?: boolean;
  }
  const oddHeaders: fc.Arbitrary<HeaderCase> = fc.oneof(
    fc
      .constantFrom(
        ...['', 'localhost', 'LOCALHOST:7071', '127.0.0.1:1', '[::1]:7071', 'example.test:8080'],
        ...['a b', '[::', 'evil.example/x?', 'x@y', 'host:99999', 'host:abc', '\u00e4.test', '%'],
        ...['..', 'a'.repeat(300), 'localhost:7071, evil.example'],
      )
      .map((value) => ({ headers: { host: value }, ownHost: true })),
    fc
      .constantFrom('abc', '-1', '1e3', '0x10', '', '5, 6', '1.5', '+5', '99999999999999999999')
      .map((value) => ({ headers: { 'content-length': value }, malformed: true, noBody: true })),
    fc.constant({ headers: { 'content-length': ['2', '2'] }, malformed: true, noBody: true }),
    fc
      .constantFrom('gzip, chunked', 'identity', 'chunked, chunked', 'x')
      .map((value) => ({ headers: { 'transfer-encoding': value }, malformed: true, noBody: true })),
    fc.constant({ headers: { 'transfer-encoding': 'chunked' } }),
    fc.constant({ headers: { 'content-type': ['application/json', 'text/plain'] } }),
    fc.constant({ headers: { host: ['localhost', 'evil.example'] }, ownHost: true }),
    fc
      .constantFrom('100-continue', 'foo', '200-ok', '')
      .map((value) => ({ headers: { expect: value } })),
    fc.integer({ min: 1_000, max: 12_000 }).map((n) => ({ headers: { 'x-long': 'a'.repeat(n) } })),
    fc.constantFrom<HeaderCase>(
      { headers: { 'x-http-method-override': 'DELETE' } },
      { headers: { 'x-original-url': '/admin/host/status', 'x-rewrite-url': '/' } },
      { headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'gopher' } },
      { headers: { 'x-functions-key': 'not-a-key', authorization: 'Bearer x.y.z' } },
      { headers: { 'content-encoding': 'gzip' } },
      { headers: { cookie: `a=${'b'.repeat(4000)}` } },
      { headers: { connection: 'close' } },
      { headers: { connection: 'upgrade', upgrade: 'websocket' } },
    ),
    fc
      .record({
        name: fc
          .stringMatching(/^[a-z][a-z0-9-]{0,20}$/)
          .filter(
            (n) =>
              !['host', 'content-length', 'transfer-encoding', 'expect', 'connection'].includes(
                n,
              ) && !n.startsWith('upgrade'),
          ),
        value: latin1Printable,
      })
      .map(({ name, value }) => ({ headers: { [name]: value } })),
  );

  it('odd, duplicate and lying headers: below 500 and JSON, or refused by the HTTP parser', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(oddHeaders, { minLength: 1, maxLength: 3 }),
        fc.constantFrom('create', 'status'),
        async (cases, target) => {
          const headers: RawHeaders = Object.assign({}, ...cases.map((c) => c.headers));
          const noBody = cases.some((c) => c.noBody);
          const create = target === 'create';
          await check({
            method: create ? 'POST' : 'GET',
            path: create ? '/api/uploads' : '/api/uploads/00000000-0000-4000-8000-000000000000',
            headers: create ? { 'content-type': 'application/json', ...headers } : headers,
            body: create && !noBody ? utf8(JSON.stringify(VALID)) : undefined,
            malformed: cases.some((c) => c.malformed),
            ownHost: cases.some((c) => c.ownHost),
          });
        },
      ),
      fuzzOptions(80),
    );
  });

  it('a GET with a body is answered as without one', async () => {
    // @azure/functions drops it (with a console warning), as the Azure worker does.
    const answer = await check({
      method: 'GET',
      path: `/api/uploads/${PENDING}`,
      headers: { 'content-type': 'application/json' },
      body: utf8('{"uploadId":"x"}'),
    });
    expect(answer.status).to.equal(200);
  });

  describe('regressions found by the fuzzing', () => {
    it('a target of // answers the JSON 404 instead of a 500', async () => {
      for (const method of ['GET', 'OPTIONS']) {
        const answer = await check({ method, path: '//' });
        expect(answer.status, method).to.equal(404);
      }
    });

    it('a target starting with // stays a path instead of naming the host', async () => {
      // `//localhost/api/uploads` was read as host "localhost", path "/api/uploads".
      const answer = await check({
        method: 'POST',
        path: '//localhost/api/uploads',
        headers: { 'content-type': 'application/json' },
        body: utf8(JSON.stringify(VALID)),
      });
      expect(answer.status).to.equal(404);
      expect(JSON.parse(answer.body.toString()).error).to.have.property('code', 'not-found');
    });

    it('a malformed or empty Host header answers a 4xx instead of a 500', async () => {
      for (const bad of ['a b', '[::', 'host:99999', 'evil.example/x?']) {
        const answer = await check({
          method: 'GET',
          path: '/api/uploads/00000000-0000-4000-8000-000000000000',
          headers: { host: bad },
          ownHost: true,
        });
        expect(answer.status, bad).to.equal(400);
        expect(JSON.parse(answer.body.toString()).error, bad).to.have.property(
          'code',
          'bad-request',
        );
      }
      // An empty Host (allowed by HTTP/1.1) was a 500 too; it means this server.
      const empty = await check({
        method: 'GET',
        path: '/api/uploads/00000000-0000-4000-8000-000000000000',
        headers: { host: '' },
        ownHost: true,
      });
      expect(empty.status).to.equal(404);
      // A well-formed Host names the request's authority, but never statusUrl's: a forged one
      // would send the client's credentials to whoever it names.
      const answer = await check({
        method: 'POST',
        path: '/api/uploads',
        headers: { host: 'example.test:8080', 'content-type': 'application/json' },
        body: utf8(JSON.stringify(VALID)),
        ownHost: true,
      });
      expect(answer.status).to.equal(201);
      expect(JSON.parse(answer.body.toString()).statusUrl).to.match(
        /^http:\/\/localhost:7071\/api\/uploads\//,
      );
    });

    it('an Expect header other than 100-continue reaches the function, as with Kestrel', async () => {
      // Node's default was an empty 417.
      const answer = await check({
        method: 'POST',
        path: '/api/uploads',
        headers: { 'content-type': 'application/json', expect: 'foo' },
        body: utf8(JSON.stringify(VALID)),
        mustCreate: true,
      });
      expect(answer.status).to.equal(201);
    });

    it('a client that leaves mid-body is a warning, not a host error with a stack', async () => {
      const before = warnings.length;
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'connect');
      socket.write(
        `POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"fileName":',
      );
      await sleep(50);
      socket.destroy();
      const warned = () => warnings.slice(before).some((w) => w.includes('did not arrive'));
      const deadline = Date.now() + 5_000;
      while (!warned() && Date.now() < deadline) await sleep(20);
      expect(warned(), 'a warning about the missing body').to.equal(true);
      // afterEach asserts that no error was logged.
    });
  });
});
