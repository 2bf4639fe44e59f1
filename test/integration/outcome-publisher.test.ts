/**
 * The publisher against a stand-in for Event Grid's publish API over real HTTP: it checks
 * each request as the service takes it (learn.microsoft.com/rest/api/eventgrid/dataplane/publish-cloud-events):
 * POST <endpoint>?api-version=2018-01-01, `aeg-sas-key`, the CloudEvents batch media type,
 * a JSON array of CloudEvents 1.0.
 */
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import {
  OutcomePublishError,
  createOutcomePublisher,
} from '../../functions/adapters/outcome-publisher';
import { type UploadOutcomeEvent, deletedEvent } from '../../functions/core/outcome-events';
import { OUTCOME_TOPIC_KEY_SETTING } from '../../functions/core/settings';
import { rejection } from '../helpers/rejection';

const KEY = 'c2VjcmV0LXRvcGljLWtleS1mb3ItdGVzdHM=';
/** With a topic key, no identity is ever asked for. */
const noIdentity = (): never => {
  throw new Error('the identity was asked for');
};

interface Received {
  method?: string;
  url?: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

describe('outcome-publisher (against a stand-in for the publish API)', () => {
  let server: Server;
  let endpoint: string;
  let received: Received[];
  let answer: number;

  before(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = undefined;
        }
        received.push({ method: request.method, url: request.url, headers: request.headers, body });
        const valid =
          request.method === 'POST' &&
          request.url === '/api/events?api-version=2018-01-01' &&
          request.headers['content-type'] === 'application/cloudevents-batch+json; charset=utf-8' &&
          Array.isArray(body);
        const status = request.headers['aeg-sas-key'] !== KEY ? 401 : !valid ? 400 : answer;
        response.writeHead(status).end();
      });
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/events`;
  });
  after(() => new Promise<void>((done) => server.close(() => done())));
  beforeEach(() => {
    received = [];
    answer = 200;
  });

  const event = (uploadId: string): UploadOutcomeEvent =>
    deletedEvent(
      {
        uploadId,
        metadata: { postId: '42' },
        caller: { kind: 'anonymous' },
        issuedAt: '2026-12-01T17:59:00.000Z',
      },
      '2026-12-01T18:00:00.123Z',
      { source: 'urn:directdrop:test', processedContainer: 'processed' },
    );

  it('posts the events as one CloudEvents batch with the topic key, exactly as built', async () => {
    const events = [event(crypto.randomUUID()), event(crypto.randomUUID())];
    await createOutcomePublisher(
      endpoint,
      { [OUTCOME_TOPIC_KEY_SETTING]: KEY },
      noIdentity,
    ).publish(events);
    expect(received).to.have.length(1);
    expect(received[0].headers['aeg-sas-key']).to.equal(KEY);
    expect(received[0].body).to.deep.equal(events);
  });

  it('throws when the topic refuses, naming the status and never the key, after a few tries', async () => {
    answer = 500;
    const error = await rejection(
      createOutcomePublisher(endpoint, { [OUTCOME_TOPIC_KEY_SETTING]: KEY }, noIdentity).publish([
        event(crypto.randomUUID()),
      ]),
      OutcomePublishError,
    );
    expect(error.statusCode).to.equal(500);
    expect(received).to.have.length(3);
    const wrongKey = await rejection(
      createOutcomePublisher(
        endpoint,
        { [OUTCOME_TOPIC_KEY_SETTING]: 'wrong' },
        noIdentity,
      ).publish([event(crypto.randomUUID())]),
      OutcomePublishError,
    );
    expect(wrongKey.statusCode).to.equal(401);
    for (const e of [error, wrongKey]) {
      expect(e.message).not.to.contain(KEY);
      expect(JSON.stringify(e)).not.to.contain(KEY);
      expect(String(e.stack)).not.to.contain(KEY);
    }
  });

  it('throws when the topic cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((done) => closed.close(() => done()));
    const error = await rejection(
      createOutcomePublisher(
        `http://127.0.0.1:${port}/api/events`,
        {
          [OUTCOME_TOPIC_KEY_SETTING]: KEY,
        },
        noIdentity,
      ).publish([event(crypto.randomUUID())]),
      OutcomePublishError,
    );
    expect(error.statusCode).to.equal(undefined);
  });

  it('publishes nothing without an endpoint', async () => {
    await createOutcomePublisher('', {}, noIdentity).publish([event(crypto.randomUUID())]);
    expect(received).to.deep.equal([]);
  });
});
