/**
 * An outcome-event subscriber for the benchmarks, as an app's backend would run one: the
 * `@directdrop/receiver` middleware on a node:http server (handshake, secret check, parsing),
 * recording for each event when it arrived by our clock, keyed by event type and upload id.
 * Local mode delivers to it when started with `webhookArgs()`.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createReceiver } from '@directdrop/receiver';
import { receiverMiddleware } from '@directdrop/receiver/express';

export interface WebhookReceiver {
  /** `--webhook <url> --webhook-secret <secret>` for local mode. */
  webhookArgs: string[];
  /** `<type>` → upload id → performance.now() of the first delivery. */
  received: Map<string, Map<string, number>>;
  stop(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const secret = randomBytes(24).toString('base64url');
  const received = new Map<string, Map<string, number>>();
  const server = createServer(
    receiverMiddleware(createReceiver({ secret }), (events) => {
      const at = performance.now();
      for (const event of events) {
        let byId = received.get(event.type);
        if (!byId) received.set(event.type, (byId = new Map()));
        if (!byId.has(event.data.uploadId)) byId.set(event.data.uploadId, at);
      }
    }),
  );
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
  return {
    webhookArgs: ['--webhook', url, '--webhook-secret', secret],
    received,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
