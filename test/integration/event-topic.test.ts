import { spawn } from 'node:child_process';
import { WEBHOOK_SECRET_HEADER } from '../../functions/core/definitions';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { AzureKeyCredential, EventGridPublisherClient } from '@azure/eventgrid';
import { expect } from 'chai';
import { freePort } from '../../local/azurite-sandbox';
import { type RunningEventTopic, startEventTopic } from '../../local/event-topic';
import type { Logger } from '../../local/log';
import { type DeliveryPolicy, webhookSubscription } from '../../local/webhook-delivery';
import { type LocalAzurite, eventually, startLocalAzurite } from './local-fixtures';

const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const KEY = 'test-topic-key-0123456789abcdefghijklmnopqrstu=';
const SECRET = 'test-webhook-secret';
/** Event Grid's schedule shrunk further for tests: three attempts, 30 ms and 60 ms apart. */
const FAST: DeliveryPolicy = { retryScheduleMs: [30, 60], timeoutMs: 300 };

interface Received {
  method: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

/** A real HTTP receiver on loopback; `answer` decides each response. */
interface Receiver {
  url: string;
  requests: Received[];
  posts(): Received[];
  answer: (request: Received, response: ServerResponse) => void;
  close(): Promise<void>;
}

function consenting(request: Received, response: ServerResponse): boolean {
  if (request.method !== 'OPTIONS') return false;
  response.writeHead(200, { 'WebHook-Allowed-Origin': 'eventgrid.azure.net', Allow: 'POST' });
  response.end();
  return true;
}

async function startReceiver(
  answer: Receiver['answer'] = (request, response) => {
    if (!consenting(request, response)) response.writeHead(200).end();
  },
): Promise<Receiver> {
  const receiver = {
    requests: [] as Received[],
    answer,
    posts: () => receiver.requests.filter((r) => r.method === 'POST'),
  } as Receiver;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const received = {
        method: request.method ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      receiver.requests.push(received);
      receiver.answer(received, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/directdrop`;
  receiver.close = () => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  return receiver;
}

const outcomeEvent = (id: string) => ({
  type: 'directdrop.upload.processed',
  source: 'urn:directdrop:local',
  id,
  subject: `uploads/${id}`,
  time: new Date('2026-12-01T10:00:00.000Z'),
  data: { uploadId: id, status: 'processed', metadata: { postId: '42' } },
});

describe('local Event Grid topic and webhook delivery (real Azurite, real HTTP)', function () {
  this.timeout(60_000);
  let storage: LocalAzurite;
  let topic: RunningEventTopic | undefined;
  let port: number;
  const receivers: Receiver[] = [];
  let run = 0;
  let deadLetterContainer: string;

  const start = async (webhooks: string[], policy: DeliveryPolicy = FAST) => {
    topic = await startEventTopic({
      port,
      key: KEY,
      blobService: storage.blobService,
      queueService: storage.queueService,
      deadLetterContainer,
      webhooks,
      webhookSecret: SECRET,
      policy,
      log: silent,
    });
    return topic;
  };
  const receiver = async (answer?: Receiver['answer']) => {
    const started = await startReceiver(answer);
    receivers.push(started);
    return started;
  };
  const client = (key = KEY) =>
    new EventGridPublisherClient(
      (topic as RunningEventTopic).endpoint,
      'CloudEvent',
      new AzureKeyCredential(key),
      // The SDK refuses plain http unless told; the worker's publisher must say so for local mode.
      { allowInsecureConnection: true },
    );
  async function deadLetters(): Promise<Array<{ name: string; records: unknown[] }>> {
    const container = storage.blobService.getContainerClient(deadLetterContainer);
    const found = [];
    for await (const blob of container.listBlobsFlat()) {
      const bytes = await container.getBlobClient(blob.name).downloadToBuffer();
      found.push({ name: blob.name, records: JSON.parse(bytes.toString('utf8')) as unknown[] });
    }
    return found;
  }

  before(async () => {
    storage = await startLocalAzurite();
  });
  after(() => storage.stop());
  beforeEach(async () => {
    run++;
    port = await freePort();
    deadLetterContainer = `event-deadletters-${run}`;
  });
  afterEach(async () => {
    await topic?.stop();
    topic = undefined;
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });

  it("accepts @azure/eventgrid's publish and delivers each event in Event Grid's webhook wire format, after the handshake", async () => {
    const hook = await receiver();
    await start([hook.url]);
    await client().send([outcomeEvent('a1'), outcomeEvent('a2')]);
    expect(await eventually(() => hook.posts().length === 2, 5_000)).to.equal(true);

    expect(hook.requests[0].method, 'the handshake comes first').to.equal('OPTIONS');
    expect(hook.requests[0].headers['webhook-request-origin']).to.equal('eventgrid.azure.net');
    expect(hook.requests.filter((r) => r.method === 'OPTIONS')).to.have.length(1);
    const subscription = webhookSubscription(hook.url);
    const bodies = hook.posts().map((post) => {
      expect(post.headers).to.include({
        'content-type': 'application/cloudevents+json; charset=utf-8',
        'aeg-subscription-name': subscription.name,
        'aeg-delivery-count': '0',
        'aeg-event-type': 'Notification',
        'aeg-metadata-version': '1.0',
        'aeg-data-version': '',
        [WEBHOOK_SECRET_HEADER.toLowerCase()]: SECRET,
      });
      return JSON.parse(post.body) as Record<string, unknown>;
    });
    // One event per POST, structured mode: the CloudEvent itself, as the client published it.
    expect(bodies.map((b) => b.id).sort()).to.deep.equal(['a1', 'a2']);
    expect(bodies.find((b) => b.id === 'a1')).to.deep.include({
      specversion: '1.0',
      type: 'directdrop.upload.processed',
      source: 'urn:directdrop:local',
      subject: 'uploads/a1',
      time: '2026-12-01T10:00:00.000Z',
      datacontenttype: 'application/json',
      data: { uploadId: 'a1', status: 'processed', metadata: { postId: '42' } },
    });
  });

  it('refuses a wrong key with 401 and a malformed batch with 400, in Event Grid’s error shape', async () => {
    await start([]);
    const refused = await client('not-the-key')
      .send([outcomeEvent('x')])
      .then(
        () => undefined,
        (error: { statusCode?: number; code?: string }) => error,
      );
    expect(refused?.statusCode).to.equal(401);
    expect(refused?.code).to.equal('Unauthorized');

    const post = (
      body: string,
      contentType = 'application/cloudevents-batch+json; charset=utf-8',
    ) =>
      fetch(`${(topic as RunningEventTopic).endpoint}?api-version=2018-01-01`, {
        method: 'POST',
        headers: { 'aeg-sas-key': KEY, 'content-type': contentType },
        body,
      });
    for (const [body, contentType] of [
      ['not json', undefined],
      ['{"specversion":"1.0"}', undefined],
      ['[{"specversion":"1.0","id":"1","source":"s"}]', undefined],
      ['[{"specversion":"0.3","id":"1","source":"s","type":"t"}]', undefined],
      ['[{"specversion":"1.0","id":"1","source":"s","type":"t"}]', 'application/json'],
    ] as const) {
      const response = await post(body, contentType);
      expect(response.status, body).to.equal(400);
      const error = (
        (await response.json()) as { error: { code: string; message: string; details: unknown[] } }
      ).error;
      expect(error.code).to.equal('BadRequest');
      expect(error.message).to.be.a('string').and.not.equal('');
      expect(error.details).to.have.length(1);
    }
    const tooLarge = await post(
      JSON.stringify([{ ...outcomeEvent('big'), data: 'x'.repeat(1024 * 1024) }]),
    );
    expect(tooLarge.status).to.equal(413);
    const ok = await post('[{"specversion":"1.0","id":"1","source":"s","type":"t"}]');
    expect(ok.status).to.equal(200);
    expect(await ok.text()).to.equal('');
  });

  it('retries a webhook that answers 500 twice, and the third attempt delivers', async () => {
    let failures = 0;
    const hook = await receiver((request, response) => {
      if (consenting(request, response)) return;
      response.writeHead(failures++ < 2 ? 500 : 200).end();
    });
    await start([hook.url]);
    await client().send([outcomeEvent('r1')]);
    expect(await eventually(() => hook.posts().length === 3, 5_000)).to.equal(true);
    await sleep(300);
    const posts = hook.posts();
    expect(posts).to.have.length(3);
    expect(posts.map((p) => p.headers['aeg-delivery-count'])).to.deep.equal(['0', '1', '2']);
    expect(posts.map((p) => (JSON.parse(p.body) as { id: string }).id)).to.deep.equal([
      'r1',
      'r1',
      'r1',
    ]);
    // The schedule's delays, in order (30 ms, then 60 ms).
    expect(posts[1].at - posts[0].at).to.be.at.least(25);
    expect(posts[2].at - posts[1].at).to.be.at.least(55);
    expect(await deadLetters()).to.deep.equal([]);
  });

  it('dead-letters an event whose webhook never answers, after the bounded schedule, as Event Grid records it', async () => {
    const hook = await receiver((request, response) => {
      if (!consenting(request, response)) return; // never answers a POST
    });
    await start([hook.url]);
    await client().send([outcomeEvent('d1')]);
    expect(await eventually(async () => (await deadLetters()).length === 1, 10_000)).to.equal(true);
    expect(hook.posts()).to.have.length(3);
    const [{ name, records }] = await deadLetters();
    const subscription = webhookSubscription(hook.url);
    expect(name).to.match(
      new RegExp(`^${subscription.name}/\\d{4}/\\d{1,2}/\\d{1,2}/\\d{1,2}/[0-9a-f-]{36}\\.json$`),
    );
    expect(records).to.have.length(1);
    const record = records[0] as Record<string, unknown>;
    expect(record).to.deep.include({
      specversion: '1.0',
      id: 'd1',
      type: 'directdrop.upload.processed',
      deadletterreason: 'MaxDeliveryAttemptsExceeded',
      deliveryattempts: 3,
      lastdeliveryoutcome: 'TimedOut',
    });
    expect(record).to.not.have.property('lasthttpstatuscode');
    expect(record.publishtime).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$/);
    expect(Date.parse(record.lastdeliveryattempttime as string)).to.be.at.least(
      Date.parse(record.publishtime as string),
    );
    await sleep(500);
    expect(hook.posts(), 'nothing after the dead letter').to.have.length(3);
  });

  for (const status of [400, 401, 403, 413]) {
    it(`does not retry a webhook's ${status}: one attempt, then the dead letter`, async () => {
      const hook = await receiver((request, response) => {
        if (!consenting(request, response)) response.writeHead(status).end();
      });
      await start([hook.url]);
      await client().send([outcomeEvent(`s${status}`)]);
      expect(await eventually(async () => (await deadLetters()).length === 1, 5_000)).to.equal(
        true,
      );
      await sleep(300);
      expect(hook.posts()).to.have.length(1);
      const record = (await deadLetters())[0].records[0] as Record<string, unknown>;
      expect(record).to.deep.include({ deliveryattempts: 1, lasthttpstatuscode: status });
      expect(record.deadletterreason).to.equal('UndeliverableDueToClientError');
    });
  }

  it('holds events while the webhook refuses the handshake, and delivers them once it consents', async () => {
    let consent = false;
    const hook = await receiver((request, response) => {
      if (request.method === 'OPTIONS' && !consent) return void response.writeHead(200).end();
      if (!consenting(request, response)) response.writeHead(204).end();
    });
    await start([hook.url]);
    await client().send([outcomeEvent('h1')]);
    await sleep(800);
    expect(hook.requests.length, 'handshakes were tried').to.be.at.least(1);
    expect(hook.posts(), 'no delivery without consent').to.have.length(0);
    consent = true;
    expect(await eventually(() => hook.posts().length === 1, 15_000)).to.equal(true);
    expect(hook.posts()[0].headers['aeg-delivery-count']).to.equal('0');
  });

  it('loses nothing when stopped mid-delivery: the event is delivered after the restart', async () => {
    let hold = true;
    const hook = await receiver((request, response) => {
      if (consenting(request, response)) return;
      if (!hold) response.writeHead(200).end();
      // While held, the POST is left unanswered: local mode stops during it.
    });
    const slow: DeliveryPolicy = { retryScheduleMs: [30, 60], timeoutMs: 20_000 };
    await start([hook.url], slow);
    await client().send([outcomeEvent('m1')]);
    expect(await eventually(() => hook.posts().length === 1, 5_000)).to.equal(true);
    await topic?.stop();
    topic = undefined;
    hold = false;
    await start([hook.url], slow);
    expect(await eventually(() => hook.posts().length === 2, 10_000)).to.equal(true);
    await sleep(500);
    const ids = hook.posts().map((p) => (JSON.parse(p.body) as { id: string }).id);
    expect(ids).to.deep.equal(['m1', 'm1']);
    expect(await deadLetters()).to.deep.equal([]);
  });

  for (const json of [false, true]) {
    it(`prints events as they arrive with npx directdrop events${json ? ' --json' : ''}, waiting for local mode first`, async () => {
      const cli = spawn(
        process.execPath,
        [
          join(__dirname, '../../bin/directdrop.mjs'),
          'events',
          '--events-port',
          String(port),
          '--count',
          '1',
          ...(json ? ['--json'] : []),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      cli.stdout.on('data', (chunk) => (stdout += chunk));
      cli.stderr.on('data', (chunk) => (stderr += chunk));
      const exited = new Promise<number | null>((resolve) => cli.once('exit', resolve));
      try {
        expect(await eventually(() => stderr.includes('Waiting for'), 15_000), stderr).to.equal(
          true,
        );
        await start([]);
        expect(await eventually(() => stderr.includes('Watching'), 10_000), stderr).to.equal(true);
        await client().send([outcomeEvent('c1')]);
        expect(await exited).to.equal(0);
      } finally {
        cli.kill();
      }
      if (json) {
        expect(JSON.parse(stdout)).to.deep.include({
          id: 'c1',
          type: 'directdrop.upload.processed',
        });
      } else {
        expect(stdout.trim()).to.equal(
          '2026-12-01T10:00:00.000Z  directdrop.upload.processed  uploads/c1  processed  metadata {"postId":"42"}',
        );
      }
    });
  }

  it('streams accepted events to loopback watchers at GET /events, and refuses another Host', async () => {
    const running = await start([]);
    const controller = new AbortController();
    const stream = await fetch(running.streamUrl, { signal: controller.signal });
    expect(stream.status).to.equal(200);
    expect(stream.headers.get('content-type')).to.match(/^text\/event-stream/);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    await client().send([outcomeEvent('w1')]);
    let text = '';
    while (!text.includes('"w1"')) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    const frame = text.split('\n\n').find((f) => f.includes('"w1"')) as string;
    expect(frame).to.match(/^event: cloudevent\ndata: \{/);
    expect(JSON.parse(frame.split('data: ')[1])).to.deep.include({
      id: 'w1',
      subject: 'uploads/w1',
    });

    const rebound = await new Promise<number>((resolve, reject) => {
      import('node:http').then(({ request }) =>
        request(
          { host: '127.0.0.1', port, path: '/events', headers: { host: 'evil.example:80' } },
          (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          },
        )
          .on('error', reject)
          .end(),
      );
    });
    expect(rebound).to.equal(403);
  });
});
