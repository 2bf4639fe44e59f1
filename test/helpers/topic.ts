/**
 * A stand-in for an Event Grid topic's publish API, over real HTTP: it takes what the
 * service takes (POST /api/events?api-version=2018-01-01, `aeg-sas-key`, a CloudEvents
 * batch) and keeps each accepted event; `refuse(n)` answers the next n publications 500.
 */
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { UploadOutcomeEvent } from '../../functions/core/outcome-events';
import { OUTCOME_TOPIC_KEY_SETTING, SETTING_KEYS } from '../../functions/core/settings';

export interface TopicStandIn {
  /** App settings that point the publisher here. */
  env: Record<string, string>;
  events: UploadOutcomeEvent[];
  /** Events of one upload, in the order they arrived. */
  eventsOf(uploadId: string): UploadOutcomeEvent[];
  refuse(publications: number): void;
  close(): Promise<void>;
}

export async function startTopicStandIn(source = 'urn:directdrop:test'): Promise<TopicStandIn> {
  const key = Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString('base64');
  const events: UploadOutcomeEvent[] = [];
  let refusals = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.headers['aeg-sas-key'] !== key) return response.writeHead(401).end();
      let batch: unknown;
      try {
        batch = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        batch = undefined;
      }
      const valid =
        request.method === 'POST' &&
        request.url === '/api/events?api-version=2018-01-01' &&
        request.headers['content-type'] === 'application/cloudevents-batch+json; charset=utf-8' &&
        Array.isArray(batch);
      if (!valid) return response.writeHead(400).end();
      if (refusals > 0) {
        refusals--;
        return response.writeHead(500).end();
      }
      events.push(...(batch as UploadOutcomeEvent[]));
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    env: {
      [SETTING_KEYS.outcomeTopicEndpoint]: `http://127.0.0.1:${port}/api/events`,
      [SETTING_KEYS.eventSource]: source,
      [OUTCOME_TOPIC_KEY_SETTING]: key,
    },
    events,
    eventsOf: (uploadId) => events.filter((e) => e.data.uploadId === uploadId),
    // Each publication is tried three times by the SDK before it fails.
    refuse: (publications) => (refusals = publications * 3),
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}
