import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpResponse, type InvocationContext } from '@azure/functions';
import type { QueueClient } from '@azure/storage-queue';
import { expect } from 'chai';
import type { FunctionRegistration } from '../../functions/registrations';
import { type RunningFunctionsHost, startFunctionsHost } from '../../local/functions-host';
import { type HostConfig, HostConfigError, parseHostConfig } from '../../local/host-config';
import { rejection } from '../helpers/rejection';
import { type Logger, consoleLogger } from '../../local/log';
import { freePort } from '../../local/azurite-sandbox';
import {
  type LocalAzurite,
  base64,
  decodeBase64Json,
  eventually,
  peekAll,
  startLocalAzurite,
} from './local-fixtures';

const CONNECTION = 'TestStorage';

interface Captured {
  lines: string[];
  log: Logger;
}

/** The console logger local mode uses, writing into `lines` instead of the terminal. */
function capture(): Captured {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, log: consoleLogger(sink, sink) };
}

/** host.json as committed in spirit, with queue settings as the test's env overrides set them. */
function hostConfig(queueOverrides: Record<string, string> = {}): HostConfig {
  const env = Object.fromEntries(
    Object.entries(queueOverrides).map(([k, v]) => [
      `AzureFunctionsJobHost__extensions__queues__${k}`,
      v,
    ]),
  );
  return parseHostConfig(
    {
      version: '2.0',
      functionTimeout: '00:00:30',
      extensions: { queues: { batchSize: 16, maxPollingInterval: '00:00:00.2' } },
    },
    env,
    2,
  );
}

describe('functions-host (real Azurite, real HTTP)', function () {
  this.timeout(30_000);
  let storage: LocalAzurite;
  let host: RunningFunctionsHost | undefined;
  let base: string;

  before(async () => {
    storage = await startLocalAzurite();
  });
  after(() => storage.stop());
  afterEach(async () => {
    await host?.stop(1_000);
    host = undefined;
  });

  async function start(
    registrations: FunctionRegistration[],
    config = hostConfig(),
    extra: {
      staticRoot?: string;
      log?: Logger;
      queueLeaseMs?: number;
      env?: Record<string, string>;
      corsOriginAllowed?: (origin: string) => boolean;
    } = {},
  ) {
    const port = await freePort();
    host = await startFunctionsHost({
      registrations,
      env: { [CONNECTION]: storage.azurite.connectionString, ...extra.env },
      config,
      port,
      hosts: ['127.0.0.1'],
      staticRoot: extra.staticRoot,
      log: extra.log ?? capture().log,
      queueLeaseMs: extra.queueLeaseMs,
      corsOriginAllowed: extra.corsOriginAllowed,
    });
    base = `http://127.0.0.1:${port}`;
    return host;
  }

  describe('HTTP triggers', () => {
    const echo: FunctionRegistration = {
      kind: 'http',
      name: 'echo',
      methods: ['GET', 'POST'],
      route: 'items/{id}',
      authLevel: 'function',
      handler: async (request, context) => ({
        status: 200,
        jsonBody: {
          method: request.method,
          url: request.url,
          params: request.params,
          tags: request.query.getAll('tag'),
          header: request.headers.get('x-test'),
          body: request.method === 'POST' ? await request.json() : null,
          functionName: context.functionName,
          invocationId: context.invocationId,
        },
      }),
    };
    const registrations: FunctionRegistration[] = [
      echo,
      {
        kind: 'http',
        name: 'boom',
        methods: ['GET'],
        route: 'boom',
        authLevel: 'anonymous',
        handler: async () => {
          throw new Error('kaboom https://x/y?sig=SECRETSIG');
        },
      },
      {
        kind: 'http',
        name: 'native',
        methods: ['DELETE'],
        route: 'items/{id}',
        authLevel: 'anonymous',
        handler: async () =>
          new HttpResponse({
            status: 202,
            body: 'queued',
            headers: { 'x-kind': 'native' },
            cookies: [{ name: 'seen', value: '1', httpOnly: true, path: '/' }],
          }),
      },
    ];

    it('routes under /api with params, query, headers and a JSON body', async () => {
      await start(registrations);
      const response = await fetch(`${base}/api/ITEMS/abc%20d?tag=a&tag=b`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-test': 'yes' },
        body: JSON.stringify({ hello: 'world' }),
      });
      expect(response.status).to.equal(200);
      expect(response.headers.get('content-type')).to.equal('application/json');
      const body = (await response.json()) as Record<string, unknown>;
      expect(body).to.deep.include({
        method: 'POST',
        url: `${base}/api/ITEMS/abc%20d?tag=a&tag=b`,
        params: { id: 'abc d' },
        tags: ['a', 'b'],
        header: 'yes',
        body: { hello: 'world' },
        functionName: 'echo',
      });
      expect(body.invocationId).to.match(/^[0-9a-f-]{36}$/);
    });

    it('passes HttpResponse objects through: status, body, headers and cookies', async () => {
      await start(registrations);
      const response = await fetch(`${base}/api/items/1`, { method: 'DELETE' });
      expect(response.status).to.equal(202);
      expect(await response.text()).to.equal('queued');
      expect(response.headers.get('x-kind')).to.equal('native');
      expect(response.headers.get('set-cookie')).to.equal('seen=1; Path=/; HttpOnly');
    });

    /** The API's error shape, exactly: `{"error":{"code","message"}}` and nothing else. */
    async function apiError(response: Response): Promise<{ code: string; message: string }> {
      expect(response.headers.get('content-type')).to.equal('application/json; charset=utf-8');
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body).to.have.keys('error');
      expect(body.error).to.have.keys('code', 'message');
      expect(body.error.message).to.be.a('string').and.not.equal('');
      return body.error;
    }

    it("answers unknown routes with 404 and other methods with 405 and Allow, in the API's error shape", async () => {
      await start(registrations);
      for (const [path, method] of [
        ['/api/nothing', 'GET'],
        ['/api/items', 'GET'],
        ['/elsewhere', 'GET'],
      ]) {
        const response = await fetch(`${base}${path}`, { method });
        expect(response.status, `${method} ${path}`).to.equal(404);
        expect((await apiError(response)).code).to.equal('not-found');
      }
      const wrongMethod = await fetch(`${base}/api/items/1`, { method: 'PUT' });
      expect(wrongMethod.status).to.equal(405);
      expect(wrongMethod.headers.get('allow')).to.equal('GET, POST, DELETE');
      const error = await apiError(wrongMethod);
      expect(error.code).to.equal('method-not-allowed');
      expect(error.message).to.match(/GET, POST, DELETE/);
    });

    it("answers a malformed Host with 400 in the API's error shape", async () => {
      await start(registrations);
      const { request } = await import('node:http');
      const url = new URL(base);
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        request(
          { host: url.hostname, port: url.port, path: '/api/items/1', headers: { host: 'a b' } },
          (response) => {
            let body = '';
            response.on('data', (chunk) => (body += chunk));
            response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
          },
        )
          .on('error', reject)
          .end();
      });
      expect(answer.status).to.equal(400);
      expect(JSON.parse(answer.body)).to.deep.equal({
        error: {
          code: 'bad-request',
          message: 'The request has a malformed Host header or request target.',
        },
      });
    });

    it('turns a throwing handler into a JSON 500 and keeps secrets out of the log', async () => {
      const { lines, log } = capture();
      await start(registrations, hostConfig(), { log });
      const response = await fetch(`${base}/api/boom`);
      expect(response.status).to.equal(500);
      const error = await apiError(response);
      expect(error.code).to.equal('function-failed');
      expect(error.message).to.not.contain('kaboom');
      const logged = lines.join('\n');
      expect(logged).to.contain('kaboom');
      expect(logged).to.not.contain('SECRETSIG');
    });

    it('refuses request bodies over the limit with 413', async () => {
      const port = await freePort();
      host = await startFunctionsHost({
        registrations,
        env: {},
        config: hostConfig(),
        port,
        hosts: ['127.0.0.1'],
        log: capture().log,
        maxRequestBodyBytes: 10,
      });
      const response = await fetch(`http://127.0.0.1:${port}/api/items/1`, {
        method: 'POST',
        body: 'x'.repeat(100),
      });
      expect(response.status).to.equal(413);
      expect((await apiError(response)).code).to.equal('request-too-large');
    });

    it('serves static files outside the route prefix, and nothing outside their folder', async () => {
      const root = join(storage.dir, 'web');
      await mkdir(join(root, 'assets'), { recursive: true });
      await writeFile(join(root, 'index.html'), '<h1>directdrop</h1>');
      await writeFile(join(root, 'assets', 'app.js'), 'console.log(1)');
      await writeFile(join(storage.dir, 'secret.txt'), 'secret');
      await start(registrations, hostConfig(), { staticRoot: root });

      const index = await fetch(`${base}/`);
      expect(index.status).to.equal(200);
      expect(index.headers.get('content-type')).to.equal('text/html; charset=utf-8');
      expect(await index.text()).to.equal('<h1>directdrop</h1>');
      const script = await fetch(`${base}/assets/app.js`);
      expect(script.headers.get('content-type')).to.equal('text/javascript; charset=utf-8');
      const head = await fetch(`${base}/assets/app.js`, { method: 'HEAD' });
      expect(head.headers.get('content-length')).to.equal('14');
      for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/../../secret.txt']) {
        const response = await fetch(`${base}${path}`);
        expect(response.status, path).to.equal(404);
      }
    });

    it('answers CORS preflights for allowed origins without invoking a function, and names the origin on responses', async () => {
      const allowed = 'http://localhost:5173';
      await start(registrations, hostConfig(), {
        corsOriginAllowed: (origin) => origin === allowed,
      });
      const preflight = (origin: string, path = '/api/items/1') =>
        fetch(`${base}${path}`, {
          method: 'OPTIONS',
          headers: {
            origin,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'content-type,x-test',
          },
        });
      const ok = await preflight(allowed);
      expect(ok.status).to.equal(204);
      expect(ok.headers.get('access-control-allow-origin')).to.equal(allowed);
      expect(ok.headers.get('access-control-allow-methods')).to.equal('GET, POST, DELETE');
      expect(ok.headers.get('access-control-allow-headers')).to.equal('content-type,x-test');
      expect(ok.headers.get('vary')).to.equal('Origin');

      const refused = await preflight('https://evil.example');
      expect(refused.status).to.equal(403);
      expect(refused.headers.get('access-control-allow-origin')).to.equal(null);
      expect((await apiError(refused)).code).to.equal('cors-origin-not-allowed');
      const nowhere = await preflight(allowed, '/api/nothing-here');
      expect(nowhere.status).to.equal(404);
      expect((await apiError(nowhere)).code).to.equal('not-found');

      const actual = await fetch(`${base}/api/items/7`, { headers: { origin: allowed } });
      expect(actual.status).to.equal(200);
      expect(actual.headers.get('access-control-allow-origin')).to.equal(allowed);
      expect(actual.headers.get('access-control-expose-headers')).to.equal(
        'RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After',
      );
      const other = await fetch(`${base}/api/items/7`, { headers: { origin: 'https://x.test' } });
      expect(other.headers.get('access-control-allow-origin')).to.equal(null);
    });

    it('exposes RateLimit-* and Retry-After to cross-origin pages, merged with what the handler exposes', async () => {
      const allowed = 'http://localhost:5173';
      const limited: FunctionRegistration = {
        kind: 'http',
        name: 'limited',
        methods: ['POST'],
        route: 'limited',
        authLevel: 'anonymous',
        handler: async () => ({
          status: 201,
          jsonBody: {},
          headers: {
            'RateLimit-Limit': '20',
            'RateLimit-Remaining': '19',
            'RateLimit-Reset': '3',
            'X-Own': 'yes',
            'Access-Control-Expose-Headers': 'retry-after, X-Own',
          },
        }),
      };
      await start([limited], hostConfig(), { corsOriginAllowed: (origin) => origin === allowed });
      const response = await fetch(`${base}/api/limited`, {
        method: 'POST',
        headers: { origin: allowed },
      });
      expect(response.status).to.equal(201);
      expect(response.headers.get('ratelimit-remaining')).to.equal('19');
      expect(response.headers.get('access-control-expose-headers')).to.equal(
        'RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After, X-Own',
      );
      const sameOrigin = await fetch(`${base}/api/limited`, { method: 'POST' });
      expect(
        sameOrigin.headers.get('access-control-expose-headers'),
        'the handler’s own, untouched',
      ).to.equal('retry-after, X-Own');
    });

    it('refuses to start when a binding expression or connection does not resolve', async () => {
      const queueRegistration: FunctionRegistration = {
        kind: 'queue',
        name: 'q',
        queueName: '%MISSING_QUEUE_SETTING%',
        connection: CONNECTION,
        handler: async () => undefined,
      };
      let error: unknown;
      await start([queueRegistration]).catch((e) => (error = e));
      expect(String(error)).to.match(/MISSING_QUEUE_SETTING/);
      error = undefined;
      await start([{ ...queueRegistration, queueName: 'fine-queue', connection: 'NotSet' }]).catch(
        (e) => (error = e),
      );
      expect(String(error)).to.match(/app setting NotSet/);
    });
  });

  describe('queue triggers', () => {
    let run = 0;
    let queue: QueueClient;
    let poison: QueueClient;
    let queueName: string;

    beforeEach(async () => {
      run++;
      queueName = `work-${run}`;
      queue = storage.queueService.getQueueClient(queueName);
      poison = storage.queueService.getQueueClient(`${queueName}-poison`);
      await queue.create();
    });

    function queueTrigger(
      handler: (message: unknown, context: InvocationContext) => Promise<void>,
      name = 'worker',
    ): FunctionRegistration {
      return {
        kind: 'queue',
        name,
        queueName: '%WORK_QUEUE%',
        connection: CONNECTION,
        handler,
      };
    }

    it('never runs more than batchSize + newBatchThreshold at once, and reaches that cap', async () => {
      const seen: number[] = [];
      let running = 0;
      let peak = 0;
      await start(
        [
          queueTrigger(async (message) => {
            const { n } = message as { n: number };
            running++;
            peak = Math.max(peak, running);
            // Uneven durations, so a batch does not finish all at once and the cap gets reached.
            await sleep(100 + (n % 3) * 150);
            seen.push(n);
            running--;
          }),
        ],
        hostConfig({ batchSize: '2', newBatchThreshold: '1' }),
        { env: { WORK_QUEUE: queueName } },
      );
      for (let n = 0; n < 12; n++) await queue.sendMessage(base64(JSON.stringify({ n })));
      expect(await eventually(() => seen.length === 12, 15_000)).to.equal(true);
      expect(peak).to.equal(3);
      expect([...seen].sort((a, b) => a - b)).to.deep.equal([...Array(12).keys()]);
      expect(await eventually(async () => (await peekAll(queue)).length === 0, 2_000)).to.equal(
        true,
      );
    });

    it('decodes Base64 JSON for the handler and passes the trigger metadata', async () => {
      const received: Array<{ message: unknown; metadata: Record<string, unknown> }> = [];
      await start(
        [
          queueTrigger(async (message, context) => {
            received.push({ message, metadata: context.triggerMetadata ?? {} });
          }),
        ],
        hostConfig(),
        { env: { WORK_QUEUE: queueName } },
      );
      const sent = await queue.sendMessage(base64('{"kind":"json","n":1}'));
      await queue.sendMessage(base64('plain text'));
      expect(await eventually(() => received.length === 2, 5_000)).to.equal(true);
      const json = received.find((r) => typeof r.message === 'object');
      expect(json?.message).to.deep.equal({ kind: 'json', n: 1 });
      expect(json?.metadata).to.include({ id: sent.messageId, dequeueCount: 1 });
      expect(json?.metadata.insertionTime).to.be.a('string');
      expect(received.map((r) => r.message)).to.include('plain text');
    });

    it('retries after visibilityTimeout, then moves the message to -poison after maxDequeueCount', async () => {
      const attempts: Array<{ at: number; dequeueCount: unknown }> = [];
      const poisoned: unknown[] = [];
      await start(
        [
          queueTrigger(async (_message, context) => {
            attempts.push({ at: Date.now(), dequeueCount: context.triggerMetadata?.dequeueCount });
            throw new Error('always fails');
          }),
          {
            kind: 'queue',
            name: 'poisonWatcher',
            queueName: '%WORK_QUEUE%-poison',
            connection: CONNECTION,
            handler: async (message) => {
              poisoned.push(message);
            },
          },
        ],
        hostConfig({ maxDequeueCount: '3', visibilityTimeout: '00:00:01' }),
        { env: { WORK_QUEUE: queueName } },
      );
      const text = base64(JSON.stringify({ doomed: true }));
      await queue.sendMessage(text);
      expect(await eventually(() => poisoned.length === 1, 15_000)).to.equal(true);
      expect(attempts.map((a) => a.dequeueCount)).to.deep.equal([1, 2, 3]);
      for (let i = 1; i < attempts.length; i++) {
        // Visible again only after visibilityTimeout (Azurite counts whole seconds).
        expect(attempts[i].at - attempts[i - 1].at).to.be.at.least(900);
      }
      expect(poisoned[0]).to.deep.equal({ doomed: true });
      expect(await peekAll(queue)).to.have.length(0);
    });

    it('copies the poisoned message text unchanged to the poison queue', async () => {
      await start(
        [
          queueTrigger(async () => {
            throw new Error('always fails');
          }),
        ],
        hostConfig({ maxDequeueCount: '1' }),
        { env: { WORK_QUEUE: queueName } },
      );
      const text = base64(JSON.stringify({ keep: 'me' }));
      await queue.sendMessage(text);
      expect(
        await eventually(
          async () => (await poison.exists()) && (await peekAll(poison)).length === 1,
          5_000,
        ),
      ).to.equal(true);
      const [moved] = await peekAll(poison);
      expect(moved.messageText).to.equal(text);
      expect(decodeBase64Json(moved.messageText)).to.deep.equal({ keep: 'me' });
      expect(await peekAll(queue)).to.have.length(0);
    });

    it('poisons a message that is not Base64 without running the function', async () => {
      let runs = 0;
      await start(
        [
          queueTrigger(async () => {
            runs++;
          }),
        ],
        hostConfig(),
        { env: { WORK_QUEUE: queueName } },
      );
      await queue.sendMessage('{"not":"base64"}');
      expect(
        await eventually(
          async () => (await poison.exists()) && (await peekAll(poison)).length === 1,
          5_000,
        ),
      ).to.equal(true);
      expect((await peekAll(poison))[0].messageText).to.equal('{"not":"base64"}');
      expect(runs).to.equal(0);
    });

    it('keeps the lease of a long-running invocation so the message is not handed out twice', async () => {
      let runs = 0;
      let finished = false;
      await start(
        [
          queueTrigger(async () => {
            runs++;
            await sleep(3_500);
            finished = true;
          }),
        ],
        hostConfig(),
        { env: { WORK_QUEUE: queueName }, queueLeaseMs: 2_000 },
      );
      await queue.sendMessage(base64('{}'));
      expect(await eventually(() => runs === 1, 5_000)).to.equal(true);
      await sleep(2_800); // past the first 2 s lease: only its renewal keeps the message hidden
      expect(await peekAll(queue)).to.have.length(0);
      expect(runs).to.equal(1);
      expect(await eventually(() => finished, 3_000)).to.equal(true);
      expect(
        await eventually(
          async () => (await queue.getProperties()).approximateMessagesCount === 0,
          2_000,
        ),
        'deleted after success',
      ).to.equal(true);
      expect(runs).to.equal(1);
    });

    it('on stop, hands still-running messages back at once', async () => {
      let started = false;
      const running = await start(
        [
          queueTrigger(async () => {
            started = true;
            await sleep(10_000);
          }),
        ],
        hostConfig(),
        { env: { WORK_QUEUE: queueName } },
      );
      await queue.sendMessage(base64('{"n":1}'));
      expect(await eventually(() => started, 5_000)).to.equal(true);
      expect(await peekAll(queue)).to.have.length(0);
      await running.stop(200);
      host = undefined;
      const [back] = await peekAll(queue);
      expect(back?.dequeueCount).to.equal(1);
    });
  });

  describe('timer triggers', () => {
    it('invokes a timer on its schedule, never twice at once, and says when it passed one over', async () => {
      const calls: Array<{ isPastDue: boolean; at: number }> = [];
      let running = 0;
      let overlapped = false;
      const { lines, log } = capture();
      const hosted = await start(
        [
          {
            kind: 'timer',
            name: 'tick',
            schedule: '* * * * * *',
            handler: async (timer, context) => {
              overlapped ||= running > 0;
              running++;
              calls.push({ isPastDue: timer.isPastDue, at: Date.now() });
              context.info('ticked');
              // The first run outlasts the next occurrence, which is passed over.
              if (calls.length === 1) await sleep(1_500);
              running--;
            },
          },
        ],
        hostConfig(),
        { log },
      );
      expect(hosted.timerTriggers).to.deep.equal([{ name: 'tick', schedule: '* * * * * *' }]);
      expect(await eventually(() => calls.length >= 3, 6_000)).to.equal(true);
      expect(overlapped).to.equal(false);
      expect(calls[1].isPastDue).to.equal(true);
      expect(calls[2].isPastDue).to.equal(false);
      expect(lines.some((l) => l.includes("Executed 'tick' (Succeeded"))).to.equal(true);
      expect(lines.some((l) => l.includes('[tick] ticked'))).to.equal(true);
    });

    it('refuses a schedule that is not six NCRONTAB fields before it listens', async () => {
      const bad = (schedule: string) =>
        start([{ kind: 'timer', name: 'bad', schedule, handler: async () => undefined }]);
      for (const schedule of ['*/5 * * * *', '0 61 * * * *', 'every minute'])
        await rejection(bad(schedule), HostConfigError);
    });
  });
});
