/**
 * A tiny outcome-event subscriber for the benchmarks: a node:http server that answers
 * Event Grid's CloudEvents handshake (OPTIONS → WebHook-Allowed-Origin) and records, for
 * each delivered event, when it arrived by our clock, keyed by upload id and event type.
 * Local mode delivers to it when started with `--webhook <url>`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookReceiver {
  url: string;
  /** `<type>` → upload id → performance.now() of the first delivery. */
  received: Map<string, Map<string, number>>;
  /** Deliveries that were not a parsable CloudEvent with data.uploadId. */
  malformed: number;
  stop(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received = new Map<string, Map<string, number>>();
  const receiver: WebhookReceiver = {
    url: '',
    received,
    malformed: 0,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = createServer((req, res) => {
    if (req.method === 'OPTIONS') {
      res
        .writeHead(200, { 'WebHook-Allowed-Origin': req.headers['webhook-request-origin'] ?? '*' })
        .end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const at = performance.now();
      try {
        const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          type?: string;
          data?: { uploadId?: string };
        };
        const id = event.data?.uploadId;
        if (!event.type || !id) throw new Error('no type or uploadId');
        let byId = received.get(event.type);
        if (!byId) received.set(event.type, (byId = new Map()));
        if (!byId.has(id)) byId.set(id, at);
      } catch {
        receiver.malformed += 1;
      }
      res.writeHead(200).end();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
  return receiver;
}
