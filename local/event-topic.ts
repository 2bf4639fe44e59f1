/**
 * Local mode's Event Grid custom topic, which Azurite lacks: an HTTP server on loopback
 * that takes publishes as Event Grid's publish API does (CloudEvents 1.0 input schema,
 * `aeg-sas-key`), keeps each event durable in one Azurite queue per webhook subscription
 * before answering 200, and delivers from there (webhook-subscriber.ts). `GET /events`
 * streams every accepted event and each delivery's outcome as Server-Sent Events, for
 * `npx directdrop events`.
 */
import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { join } from 'node:path';
import type { BlobServiceClient } from '@azure/storage-blob';
import type { QueueServiceClient } from '@azure/storage-queue';
import { PortInUseError } from './azurite';
import {
  MAX_PUBLISH_BYTES,
  PUBLISH_PATH,
  type PublishRefusal,
  eventGridErrorBody,
  judgePublish,
} from './event-topic-publish';
import { type Logger, describeError } from './log';
import {
  type DeliveryPolicy,
  LOCAL_DELIVERY_POLICY,
  type WebhookSubscription,
  webhookSubscription,
} from './webhook-delivery';
import {
  type DeliveryNotice,
  type WebhookSubscriber,
  startWebhookSubscriber,
} from './webhook-subscriber';

export const DEFAULT_EVENTS_PORT = 10003;
/** The endpoint publishers use for a topic on `port`. */
export function localTopicEndpoint(port: number): string {
  return `http://127.0.0.1:${port}${PUBLISH_PATH}`;
}
/** Server-Sent Events of everything the topic accepts and delivers; loopback only. */
export const EVENTS_STREAM_PATH = '/events';
/** Where waiting events too large for a queue message are kept (local mode only). */
export const EVENT_SPILL_CONTAINER = 'local-event-topic';
const TOPIC_KEY_FILE = 'event-topic-key';
const WEBHOOK_SECRET_FILE = 'webhook-secret';
const HEARTBEAT_MS = 15_000;

export interface EventTopicOptions {
  port: number;
  /** The topic key publishers send as `aeg-sas-key`. */
  key: string;
  blobService: BlobServiceClient;
  queueService: QueueServiceClient;
  /** Dead-letter container, as each Azure subscription names one. */
  deadLetterContainer: string;
  webhooks: readonly string[];
  /** Sent with every delivery as X-Directdrop-Webhook-Secret. */
  webhookSecret: string;
  policy?: DeliveryPolicy;
  log: Logger;
}

export interface RunningEventTopic {
  /** What publishers use: `http://127.0.0.1:<port>/api/events`. */
  endpoint: string;
  streamUrl: string;
  subscriptions: WebhookSubscription[];
  stop(): Promise<void>;
}

/** The topic's key for this data folder, created once (32 random bytes, Base64, like Azure's). */
export const TOPIC_KEY_FILE_NAME = TOPIC_KEY_FILE;

export function ensureTopicKey(dataDir: string): Promise<string> {
  return ensureSecretFile(join(dataDir, TOPIC_KEY_FILE), () => randomBytes(32).toString('base64'));
}

/** The webhook secret for this data folder, created once. */
export function ensureWebhookSecret(dataDir: string): Promise<string> {
  return ensureSecretFile(join(dataDir, WEBHOOK_SECRET_FILE), () =>
    randomBytes(32).toString('base64url'),
  );
}

/** The key a storage half wrote, for a functions half started on its own; undefined if none. */
export async function readTopicKey(dataDir: string): Promise<string | undefined> {
  try {
    return (await readFile(join(dataDir, TOPIC_KEY_FILE), 'utf8')).trim() || undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function ensureSecretFile(path: string, create: () => string): Promise<string> {
  try {
    const existing = (await readFile(path, 'utf8')).trim();
    if (existing) return existing;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const value = create();
  // `wx`: a concurrent start that won the race keeps its value.
  try {
    await writeFile(path, `${value}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return (await readFile(path, 'utf8')).trim();
  }
  await chmod(path, 0o600);
  return value;
}

/** Reads at most `limit + 1` bytes: enough to tell a body over the limit, never more. */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        request.removeAllListeners('data');
        request.resume();
        resolve('too-large');
      } else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function sendError(response: ServerResponse, refusal: PublishRefusal, close = false): void {
  const text = JSON.stringify(eventGridErrorBody(refusal));
  response.writeHead(refusal.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...refusal.headers,
    ...(close ? { connection: 'close' } : {}),
  });
  response.end(text);
}

const LOOPBACK_PEERS = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** The stream is for this machine's developer: a loopback peer, and a loopback Host (no DNS rebinding). */
function isLoopbackRequest(request: IncomingMessage, port: number): boolean {
  const host = (request.headers.host ?? '').toLowerCase();
  return (
    LOOPBACK_PEERS.has(request.socket.remoteAddress ?? '') &&
    [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`].includes(host)
  );
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new PortInUseError('127.0.0.1', port, 'Event Grid topic')
          : error,
      ),
    );
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

export async function startEventTopic(options: EventTopicOptions): Promise<RunningEventTopic> {
  const { port, key, log } = options;
  const policy = options.policy ?? LOCAL_DELIVERY_POLICY;
  const watchers = new Set<ServerResponse>();
  const broadcast = (kind: 'cloudevent' | 'delivery', payload: unknown) => {
    const frame = `event: ${kind}\ndata: ${JSON.stringify(payload)}\n\n`;
    for (const watcher of watchers) watcher.write(frame);
  };
  const spill = options.blobService.getContainerClient(EVENT_SPILL_CONTAINER);
  const deadLetters = options.blobService.getContainerClient(options.deadLetterContainer);
  const subscribers: WebhookSubscriber[] = [];
  try {
    for (const url of [...new Set(options.webhooks)]) {
      const subscription = webhookSubscription(url);
      subscribers.push(
        await startWebhookSubscriber({
          subscription,
          queue: options.queueService.getQueueClient(subscription.queueName),
          spill,
          deadLetters,
          secret: options.webhookSecret,
          policy,
          log,
          onNotice: (notice: DeliveryNotice) => broadcast('delivery', notice),
        }),
      );
    }
  } catch (error) {
    await Promise.all(subscribers.map((s) => s.stop()));
    throw error;
  }

  function openStream(request: IncomingMessage, response: ServerResponse): void {
    if (!isLoopbackRequest(request, port)) {
      sendError(response, {
        status: 403,
        code: 'Forbidden',
        message: `${EVENTS_STREAM_PATH} answers this machine only (a loopback Host and peer).`,
      });
      return;
    }
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    response.write(`: directdrop local Event Grid topic; events as they are accepted\n\n`);
    watchers.add(response);
    request.on('close', () => watchers.delete(response));
  }

  async function publish(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request, MAX_PUBLISH_BYTES);
    if (body === 'too-large') {
      sendError(
        response,
        {
          status: 413,
          code: 'PayloadTooLarge',
          message: `A publish is limited to ${MAX_PUBLISH_BYTES} bytes.`,
        },
        true,
      );
      return;
    }
    const verdict = judgePublish(
      {
        method: request.method ?? 'GET',
        target: request.url ?? '/',
        headers: request.headers,
        body,
      },
      key,
    );
    if (!verdict.ok) {
      sendError(response, verdict.refusal);
      return;
    }
    const publishTime = new Date();
    try {
      await Promise.all(subscribers.map((s) => s.enqueue(verdict.events, publishTime)));
    } catch (error) {
      log.warn(
        `Events: could not keep a publish (${describeError(error).split('\n')[0]}); answered 503`,
      );
      sendError(response, {
        status: 503,
        code: 'ServiceUnavailable',
        message: 'The local topic could not store the events; retry.',
        headers: { 'retry-after': '1' },
      });
      return;
    }
    response.writeHead(200, { 'content-length': 0 });
    response.end();
    for (const event of verdict.events) broadcast('cloudevent', event);
  }

  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const handling =
      request.method === 'GET' && path === EVENTS_STREAM_PATH
        ? Promise.resolve(openStream(request, response))
        : publish(request, response);
    handling.catch((error) => {
      log.error(`Events: ${request.method} ${path}: ${describeError(error)}`);
      if (!response.headersSent)
        sendError(response, {
          status: 500,
          code: 'InternalServerError',
          message: 'The local topic failed; see its console.',
        });
      else response.destroy();
    });
  });
  const heartbeat = setInterval(() => {
    for (const watcher of watchers) watcher.write(': keep-alive\n\n');
  }, HEARTBEAT_MS);
  heartbeat.unref();
  try {
    await listen(server, port);
  } catch (error) {
    clearInterval(heartbeat);
    await Promise.all(subscribers.map((s) => s.stop()));
    throw error;
  }
  const base = `http://127.0.0.1:${port}`;
  return {
    endpoint: localTopicEndpoint(port),
    streamUrl: `${base}${EVENTS_STREAM_PATH}`,
    subscriptions: subscribers.map((s) => s.subscription),
    async stop() {
      clearInterval(heartbeat);
      for (const watcher of watchers) watcher.end();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await Promise.all([closed, ...subscribers.map((s) => s.stop())]);
    },
  };
}
