/**
 * The upload routes over real HTTP, through local mode's Functions host, against Azurite:
 * metadata and the caller kept in the record, statusUrl from the configured public URL
 * whatever Host a client sends, anonymous mode's status capability across both loopbacks,
 * listing, bodies refused at their limit with bounded memory, CORS-readable headers, and
 * every answer checked against the OpenAPI document.
 */
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { createRuntime } from '../../functions/adapters/runtime';
import { functionKeyName, functionKeyOwner } from '../../functions/core/auth';
import { OWNER_KEY_SETTING, SETTING_KEYS } from '../../functions/core/settings';
import { createUploadHandler } from '../../functions/handlers/create-upload';
import { getUploadStatusHandler } from '../../functions/handlers/get-upload-status';
import { listUploadsHandler } from '../../functions/handlers/list-uploads';
import type { FunctionRegistration } from '../../functions/registrations';
import { type AzuriteSandbox, freePort, startAzuriteSandbox } from '../../local/azurite-sandbox';
import { type RunningFunctionsHost, startFunctionsHost } from '../../local/functions-host';
import { parseHostConfig } from '../../local/host-config';
import { consoleLogger } from '../../local/log';
import { apiContract } from '../helpers/openapi';

const OWNER_KEY = 'test-owner-key-0123456789abcdef0123456789';
const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** One request with node:http, so any Host header can be sent as a client would. */
function call(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
          });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const photo = (size = 1234, metadata?: Record<string, string>) =>
  JSON.stringify({ fileName: 'cat.jpg', contentType: 'image/jpeg', size, metadata });

describe('uploads API over local HTTP (Azurite, the local Functions host)', function () {
  this.timeout(60_000);
  let storage: AzuriteSandbox;
  const hosts: RunningFunctionsHost[] = [];
  before(async () => {
    storage = await startAzuriteSandbox();
  });
  after(async () => {
    await Promise.all(hosts.map((h) => h.stop(1000)));
    await storage.stop();
  });

  async function serve(env: Record<string, string> = {}) {
    const runtime = createRuntime({ ...storage.env, ...env });
    const registrations: FunctionRegistration[] = [
      {
        kind: 'http',
        name: 'createUpload',
        methods: ['POST'],
        route: 'uploads',
        authLevel: 'anonymous',
        handler: createUploadHandler(() => runtime),
      },
      {
        kind: 'http',
        name: 'listUploads',
        methods: ['GET'],
        route: 'uploads',
        authLevel: 'anonymous',
        handler: listUploadsHandler(() => runtime),
      },
      {
        kind: 'http',
        name: 'getUploadStatus',
        methods: ['GET'],
        route: 'uploads/{uploadId}',
        authLevel: 'anonymous',
        handler: getUploadStatusHandler(() => runtime),
      },
    ];
    const port = await freePort();
    const host = await startFunctionsHost({
      registrations,
      env: {},
      config: parseHostConfig({ version: '2.0' }, {}, 2),
      port,
      log: consoleLogger(quiet, quiet),
    });
    hosts.push(host);
    return { runtime, port, v4: `http://127.0.0.1:${port}/api`, v6: `http://[::1]:${port}/api` };
  }

  async function conforms(method: string, path: string, answer: Answer) {
    const problems = (await apiContract()).problems(method, path, answer);
    expect(problems, `${method} ${path} ${answer.status} as documented`).to.deep.equal([]);
  }

  describe('a function-key stack', () => {
    let api: Awaited<ReturnType<typeof serve>>;
    before(async () => {
      api = await serve();
    });

    it('stores metadata and the caller in the record at issuance, and answers them in the status', async () => {
      const key = 'a-function-key-the-host-has-checked';
      const issued = await call(`${api.v4}/uploads`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-functions-key': key },
        body: photo(1234, { postId: '42', album: 'Été' }),
      });
      expect(issued.status).to.equal(201);
      await conforms('POST', '/uploads', issued);
      const uploadId = issued.body.uploadId as string;
      const found = await api.runtime.uploads.get(functionKeyOwner(), uploadId);
      expect(found?.record).to.deep.include({
        status: 'issued',
        metadata: { postId: '42', album: 'Été' },
        fileName: 'cat.jpg',
        contentType: 'image/jpeg',
        size: 1234,
      });
      // The key's fingerprint, never the key: the host does not tell a Node worker its name.
      expect(found?.record.caller).to.deep.equal({
        kind: 'functionKey',
        keyName: functionKeyName(key),
      });
      expect(JSON.stringify(found?.record)).to.not.contain(key);

      // Metadata the client puts on its own PUT never replaces the application's.
      const put = await fetch(issued.body.uploadUrl as string, {
        method: 'PUT',
        headers: {
          ...(issued.body.headers as Record<string, string>),
          'x-ms-meta-postId': '666',
        },
        body: new Uint8Array(1234),
      });
      expect(put.status).to.equal(201);
      // statusUrl names the public base URL (localhost:7071 here): this host is asked directly.
      const direct = await call(`${api.v4}/uploads/${uploadId}`);
      expect(direct.status).to.equal(200);
      expect(direct.body).to.deep.include({
        uploadId,
        status: 'pending',
        stage: 'processing',
        metadata: { postId: '42', album: 'Été' },
        issuedAt: found?.record.issuedAt,
      });
      await conforms('GET', '/uploads/{uploadId}', direct);
    });

    it('builds statusUrl from the public base URL: a forged Host never appears in it', async () => {
      const issued = await call(`${api.v4}/uploads`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', host: 'evil.example' },
        body: photo(),
      });
      expect(issued.status).to.equal(201);
      expect(issued.body.statusUrl).to.equal(
        `http://localhost:7071/api/uploads/${issued.body.uploadId as string}`,
      );
      expect(JSON.stringify(issued.body)).to.not.contain('evil.example');
    });

    it('an issued upload with nothing uploaded yet is pending, awaiting its upload', async () => {
      const issued = await call(`${api.v4}/uploads`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: photo(),
      });
      const status = await call(`${api.v4}/uploads/${issued.body.uploadId as string}`);
      expect(status.body).to.deep.include({ status: 'pending', stage: 'awaiting-upload' });
      await conforms('GET', '/uploads/{uploadId}', status);
    });

    it('an upload whose URL expired with nothing received reads failed / not-uploaded, in the status and the list', async () => {
      const owner = functionKeyOwner();
      const uploadId = randomUUID();
      const issuedMs = Date.now() - 20 * 60_000;
      const blobName = `${owner}/${uploadId}/1234/late.jpg`;
      const issued = await api.runtime.uploads.issue(
        {
          uploadId,
          owner,
          status: 'issued',
          issuedAt: new Date(issuedMs).toISOString(),
          urlExpiresAt: new Date(issuedMs + 10 * 60_000).toISOString(),
          container: 'uploads',
          blobName,
          fileName: 'late.jpg',
          contentType: 'image/jpeg',
          size: 1234,
          metadata: { postId: '7' },
          caller: { kind: 'functionKey', keyName: 'none' },
        },
        { uploadId, size: 1234, urlExpiresAtMs: issuedMs + 10 * 60_000 },
      );
      expect(issued.ok).to.equal(true);
      const status = await call(`${api.v4}/uploads/${uploadId}`);
      expect(status.body).to.deep.include({
        status: 'failed',
        reason: 'not-uploaded',
        metadata: { postId: '7' },
      });
      await conforms('GET', '/uploads/{uploadId}', status);
      const listed = await call(`${api.v4}/uploads?limit=100`);
      const entry = (listed.body.uploads as Array<Record<string, unknown>>).find(
        (u) => u.uploadId === uploadId,
      );
      expect(entry).to.deep.include({ status: 'failed', reason: 'not-uploaded' });
      await conforms('GET', '/uploads', listed);
    });

    it('a mirrored outcome is answered from the record, with fresh read URLs for its outputs', async () => {
      const issued = await call(`${api.v4}/uploads`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: photo(2000, { postId: '9' }),
      });
      const uploadId = issued.body.uploadId as string;
      await api.runtime.uploads.recordOutcome(functionKeyOwner(), uploadId, {
        status: 'processed',
        completedAt: new Date().toISOString(),
        uploadedAt: new Date().toISOString(),
        original: { format: 'jpeg', width: 640, height: 480, size: 2000 },
        outputs: [
          {
            name: 'thumb',
            blobName: 'abcdef/thumb.webp',
            width: 320,
            height: 240,
            contentType: 'image/webp',
            size: 999,
          },
        ],
      });
      const status = await call(`${api.v4}/uploads/${uploadId}`);
      expect(status.body).to.deep.include({
        status: 'processed',
        metadata: { postId: '9' },
        original: { format: 'jpeg', width: 640, height: 480, size: 2000 },
      });
      const [thumb] = status.body.outputs as Array<{ url: string }>;
      expect(new URL(thumb.url).pathname).to.equal('/devstoreaccount1/processed/abcdef/thumb.webp');
      expect(new URL(thumb.url).searchParams.get('sp')).to.equal('r');
      await conforms('GET', '/uploads/{uploadId}', status);
      const listed = await call(`${api.v4}/uploads?limit=100`);
      const entry = (listed.body.uploads as Array<Record<string, unknown>>).find(
        (u) => u.uploadId === uploadId,
      );
      expect(entry).to.deep.include({ status: 'processed', metadata: { postId: '9' } });
      expect(entry).to.not.have.property('outputs');
    });

    it('lists the caller’s uploads newest first in pages; bad queries are 400 invalid-query', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const issued = await call(`${api.v4}/uploads`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: photo(100 + i, { n: String(i) }),
        });
        ids.push(issued.body.uploadId as string);
        await sleep(2);
      }
      const first = await call(`${api.v4}/uploads?limit=3`);
      expect(first.status).to.equal(200);
      await conforms('GET', '/uploads', first);
      const page = first.body.uploads as Array<Record<string, unknown>>;
      expect(page.map((u) => u.uploadId)).to.deep.equal([ids[4], ids[3], ids[2]]);
      expect(page[0]).to.deep.include({
        status: 'pending',
        fileName: 'cat.jpg',
        contentType: 'image/jpeg',
        size: 104,
        metadata: { n: '4' },
      });
      const second = await call(
        `${api.v4}/uploads?limit=2&cursor=${encodeURIComponent(first.body.nextCursor as string)}`,
      );
      expect(
        (second.body.uploads as Array<{ uploadId: string }>).map((u) => u.uploadId),
      ).to.deep.equal([ids[1], ids[0]]);
      for (const query of [
        'limit=0',
        'limit=101',
        'limit=abc',
        'limit=1.5',
        'limit=',
        'cursor=nope',
      ]) {
        const bad = await call(`${api.v4}/uploads?${query}`);
        expect(bad.status, query).to.equal(400);
        expect(bad.body).to.have.nested.property('error.code', 'invalid-query');
        await conforms('GET', '/uploads', bad);
      }
    });

    it('lets pages on other origins read the rate-limit and retry headers', async () => {
      const issued = await call(`${api.v4}/uploads`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: photo(),
      });
      const exposed = String(issued.headers['access-control-expose-headers']).split(', ');
      expect(exposed).to.include.members([
        'RateLimit-Limit',
        'RateLimit-Remaining',
        'RateLimit-Reset',
        'Retry-After',
      ]);
      expect(issued.headers['ratelimit-remaining']).to.be.a('string');
      const listed = await call(`${api.v4}/uploads`);
      expect(String(listed.headers['access-control-expose-headers'])).to.contain('Retry-After');
    });

    it('refuses a 50 MB chunked body with 413, holding a bounded amount of memory', async () => {
      // Collected often, so the peak counts what is held, not garbage waiting for a collection.
      v8.setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      gc();
      const before = process.memoryUsage().rss;
      let peak = before;
      const sampler = setInterval(() => {
        gc();
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 20);
      try {
        let sentBytes = 0;
        const answer = await new Promise<Answer>((resolve, reject) => {
          const req = httpRequest(
            `${api.v4}/uploads`,
            { method: 'POST', headers: { 'content-type': 'application/json' } },
            (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              // Answered early, while the body is still coming; done once all of it was sent.
              res.on('end', () => {
                const answer = {
                  status: res.statusCode ?? 0,
                  headers: res.headers,
                  body: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>,
                };
                if (req.writableFinished) resolve(answer);
                else req.once('finish', () => resolve(answer));
              });
            },
          );
          req.on('error', reject);
          // No Content-Length: the body comes chunked, 50 MB of it, as fast as it is taken.
          const chunk = Buffer.alloc(64 * 1024, 0x20);
          const pump = () => {
            while (sentBytes < 50 * 1024 * 1024) {
              sentBytes += chunk.length;
              if (!req.write(chunk)) return req.once('drain', pump);
            }
            req.end();
          };
          pump();
        });
        expect(answer.status).to.equal(413);
        expect(sentBytes).to.equal(50 * 1024 * 1024);
        expect(answer.body).to.have.nested.property('error.code', 'body-too-large');
        await conforms('POST', '/uploads', answer);
      } finally {
        clearInterval(sampler);
      }
      expect((peak - before) / 2 ** 20, 'MB of memory taken while it arrived').to.be.below(30);
      // The connection's leftovers were discarded: the host still answers.
      expect((await call(`${api.v4}/uploads?limit=1`)).status).to.equal(200);
    });
  });

  describe('an anonymous stack', () => {
    let api: Awaited<ReturnType<typeof serve>>;
    before(async () => {
      api = await serve({ [SETTING_KEYS.authMode]: 'anonymous', [OWNER_KEY_SETTING]: OWNER_KEY });
    });

    const statusPath = (statusUrl: string, base: string) => {
      const url = new URL(statusUrl);
      return `${base}${url.pathname.replace(/^\/api/, '')}${url.search}`;
    };

    it('POST over IPv4, then the status over IPv6: the capability in statusUrl is what counts', async () => {
      const issued = await call(`${api.v4}/uploads`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: photo(),
      });
      expect(issued.status).to.equal(201);
      await conforms('POST', '/uploads', issued);
      const statusUrl = new URL(issued.body.statusUrl as string);
      const token = statusUrl.searchParams.get('statusToken') ?? '';
      expect(token).to.match(/^[A-Za-z0-9_-]{43}$/);
      const found = await api.runtime.uploads.get(
        new URL(issued.body.uploadUrl as string).pathname.split('/')[3],
        issued.body.uploadId as string,
      );
      expect(found?.record.caller).to.deep.equal({ kind: 'anonymous' });
      expect(JSON.stringify(found?.record), 'only its hash is kept').to.not.contain(token);

      const viaV6 = await call(statusPath(issued.body.statusUrl as string, api.v6));
      expect(viaV6.status).to.equal(200);
      expect(viaV6.body).to.include({ uploadId: issued.body.uploadId, status: 'pending' });
      await conforms('GET', '/uploads/{uploadId}', viaV6);

      // Without the capability, or with another upload's, the upload does not exist.
      const bare = await call(`${api.v4}/uploads/${issued.body.uploadId as string}`);
      expect(bare.status).to.equal(404);
      const other = await call(`${api.v4}/uploads`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: photo(),
      });
      const otherToken = new URL(other.body.statusUrl as string).searchParams.get('statusToken');
      const crossed = await call(
        `${api.v6}/uploads/${issued.body.uploadId as string}?statusToken=${otherToken}`,
      );
      expect(crossed.status).to.equal(404);
      expect(crossed.body).to.deep.equal(bare.body);
      const forged = `${token.slice(0, 30)}${token[30] === 'A' ? 'B' : 'A'}${token.slice(31)}`;
      const wrong = await call(
        `${api.v6}/uploads/${issued.body.uploadId as string}?statusToken=${forged}`,
      );
      expect(wrong.status).to.equal(404);
    });

    it('answers listing with 403 listing-unavailable', async () => {
      const listed = await call(`${api.v4}/uploads`);
      expect(listed.status).to.equal(403);
      expect(listed.body).to.have.nested.property('error.code', 'listing-unavailable');
      await conforms('GET', '/uploads', listed);
    });
  });

  it('a runtime without a public base URL does not start', () => {
    const env = { ...storage.env, [SETTING_KEYS.publicBaseUrl]: '' };
    expect(() => createRuntime(env)).to.throw(SETTING_KEYS.publicBaseUrl);
  });
});
