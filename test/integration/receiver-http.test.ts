/**
 * The receiver behind real HTTP servers (node:http, and Express 5 through the adapter), sent
 * real requests with fetch in Event Grid's CloudEvents webhook format: the handshake, the
 * secret, structured and batched deliveries, and every refusal, with the API's error shape.
 */
import { expect } from 'chai';
import express from 'express';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type UploadOutcomeEvent, createReceiver } from '../../receiver/src/index';
import { receiverMiddleware } from '../../receiver/src/express';
import {
  batchDelivery,
  deletedEvent,
  processedEvent,
  rejectedEvent,
  webhookDelivery,
} from '../helpers/outcome-events';

const SECRET = 'integration-secret-0123456789abcdef';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

describe('receiver over real HTTP', function () {
  const received: UploadOutcomeEvent[][] = [];
  let failNext = 0;
  const onEvents = async (events: UploadOutcomeEvent[]) => {
    if (failNext > 0) {
      failNext--;
      throw new Error('the database is down');
    }
    received.push(events);
  };
  const receiver = createReceiver({ secret: SECRET, maxBodyBytes: 16 * 1024 });
  let server: Server;
  let url: string;

  before(async function () {
    server = createServer(receiverMiddleware(receiver, onEvents));
    url = `${await listen(server)}/directdrop/events`;
  });
  after(() => close(server));
  beforeEach(function () {
    received.length = 0;
    failNext = 0;
  });

  async function errorOf(response: Response) {
    expect(response.headers.get('content-type')).to.match(/^application\/json/);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(Object.keys(body.error).sort()).to.deep.equal(['code', 'message']);
    return body.error;
  }

  describe('the handshake', function () {
    it("consents to Event Grid's OPTIONS with WebHook-Allowed-Origin, a rate and Allow", async function () {
      const response = await fetch(url, {
        method: 'OPTIONS',
        headers: { 'webhook-request-origin': 'eventgrid.azure.net', 'webhook-request-rate': '120' },
      });
      expect(response.status).to.equal(200);
      expect(response.headers.get('webhook-allowed-origin')).to.equal('eventgrid.azure.net');
      expect(response.headers.get('webhook-allowed-rate')).to.equal('*');
      expect(response.headers.get('allow')).to.equal('OPTIONS, POST');
    });

    it('gives no consent without WebHook-Request-Origin or to another origin', async function () {
      const attempts: Record<string, string>[] = [
        {},
        { 'webhook-request-origin': 'attacker.example' },
      ];
      for (const headers of attempts) {
        const response = await fetch(url, { method: 'OPTIONS', headers });
        expect(response.status).to.equal(400);
        expect(response.headers.get('webhook-allowed-origin')).to.equal(null);
        expect((await errorOf(response)).code).to.equal('invalid-handshake');
      }
    });
  });

  describe('the secret', function () {
    const wrong: Array<[string, string | undefined]> = [
      ['no secret header', undefined],
      ['a wrong secret of the same length', SECRET.replace(/.$/, 'X')],
      ['a wrong secret of another length', 'nope'],
      ['an empty secret', ''],
    ];
    for (const [what, secret] of wrong) {
      it(`refuses ${what} with 401, reading nothing and saying nothing of the secret`, async function () {
        const response = await fetch(url, webhookDelivery(processedEvent(), secret));
        expect(response.status).to.equal(401);
        const error = await errorOf(response);
        expect(error.code).to.equal('unauthorized');
        expect(JSON.stringify(error)).not.to.include(SECRET.slice(0, 8));
        expect(received).to.have.length(0);
      });
    }

    it('refuses a bad secret before looking at the body, even a malformed one', async function () {
      const response = await fetch(url, { ...webhookDelivery({}, 'nope'), body: 'not json' });
      expect(response.status).to.equal(401);
    });
  });

  describe('deliveries', function () {
    it('takes a structured delivery: 204, and the handler gets the typed event', async function () {
      const event = processedEvent();
      const response = await fetch(url, webhookDelivery(event, SECRET));
      expect(response.status).to.equal(204);
      expect(await response.text()).to.equal('');
      expect(received).to.deep.equal([[event]]);
    });

    it('takes a batched delivery, in order, an event repeated within it once', async function () {
      const events = [processedEvent(), rejectedEvent(), deletedEvent(), rejectedEvent()];
      const response = await fetch(url, batchDelivery(events, SECRET));
      expect(response.status).to.equal(204);
      expect(received).to.deep.equal([events.slice(0, 3)]);
    });

    it('hands over a redelivered event again: deduplicating across deliveries is the app’s, by id', async function () {
      const event = rejectedEvent();
      for (const count of ['0', '1']) {
        const response = await fetch(
          url,
          webhookDelivery(event, SECRET, { 'aeg-delivery-count': count }),
        );
        expect(response.status).to.equal(204);
      }
      expect(received.map(([e]) => e.id)).to.deep.equal([event.id, event.id]);
    });

    it('answers 500 when the handler fails, so Event Grid retries, and 204 to the retry', async function () {
      failNext = 1;
      const original = console.error;
      console.error = () => {};
      try {
        const first = await fetch(url, webhookDelivery(processedEvent(), SECRET));
        expect(first.status).to.equal(500);
        expect((await errorOf(first)).code).to.equal('handler-failed');
      } finally {
        console.error = original;
      }
      const retry = await fetch(url, webhookDelivery(processedEvent(), SECRET));
      expect(retry.status).to.equal(204);
      expect(received).to.have.length(1);
    });
  });

  describe('refusals', function () {
    it('refuses a malformed body with 400, and an invalid event naming its field', async function () {
      const malformed = await fetch(url, {
        ...webhookDelivery({}, SECRET),
        body: '{"specversion":"1.0",',
      });
      expect(malformed.status).to.equal(400);
      expect((await errorOf(malformed)).code).to.equal('malformed-body');

      const event = structuredClone(processedEvent()) as unknown as {
        data: Record<string, unknown>;
      };
      delete event.data.outputs;
      const invalid = await fetch(url, webhookDelivery(event, SECRET));
      expect(invalid.status).to.equal(400);
      expect(await errorOf(invalid)).to.deep.equal({
        code: 'invalid-event',
        message: 'data.outputs: missing',
      });

      const notUtf8 = await fetch(url, {
        ...webhookDelivery({}, SECRET),
        body: new Uint8Array([0x7b, 0xc3, 0x28, 0x7d]),
      });
      expect((await errorOf(notUtf8)).code).to.equal('malformed-body');
      expect(received).to.have.length(0);
    });

    it('refuses binary mode and other content types with 415', async function () {
      const event = processedEvent();
      const binary = await fetch(url, {
        method: 'POST',
        headers: {
          'x-directdrop-webhook-secret': SECRET,
          'content-type': 'application/json',
          'ce-specversion': '1.0',
          'ce-id': event.id,
          'ce-type': event.type,
          'ce-source': event.source,
        },
        body: JSON.stringify(event.data),
      });
      expect(binary.status).to.equal(415);
      expect((await errorOf(binary)).code).to.equal('unsupported-content-type');
    });

    it('refuses other methods with 405 and Allow', async function () {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const response = await fetch(url, {
          method,
          headers: { 'x-directdrop-webhook-secret': SECRET },
        });
        expect(response.status, method).to.equal(405);
        expect(response.headers.get('allow')).to.equal('OPTIONS, POST');
        expect((await errorOf(response)).code).to.equal('method-not-allowed');
      }
    });

    it('refuses a body over the limit with 413, declared or streamed without a length', async function () {
      const big = JSON.stringify({ ...processedEvent(), padding: 'x'.repeat(20_000) });
      const declared = await fetch(url, { ...webhookDelivery({}, SECRET), body: big });
      expect(declared.status).to.equal(413);

      const chunks = [big.slice(0, 10_000), big.slice(10_000)];
      const streamed = await fetch(url, {
        ...webhookDelivery({}, SECRET),
        body: new ReadableStream({
          pull(controller) {
            const chunk = chunks.shift();
            if (chunk === undefined) controller.close();
            else controller.enqueue(new TextEncoder().encode(chunk));
          },
        }),
        duplex: 'half',
      } as RequestInit);
      expect(streamed.status).to.equal(413);
      expect((await errorOf(streamed)).code).to.equal('body-too-large');
      expect(received).to.have.length(0);
    });
  });

  describe('behind Express 5', function () {
    let app: Server;
    let base: string;
    before(async function () {
      const web = express();
      const middleware = receiverMiddleware(receiver, onEvents);
      web.all('/events', middleware);
      web.post('/raw', express.raw({ type: '*/*' }), middleware);
      web.post('/parsed', express.json({ type: '*/*' }), middleware);
      // Express's own error handler would print the stack; this one answers as the API does.
      web.use(
        (
          error: Error,
          _req: express.Request,
          res: express.Response,
          _next: express.NextFunction,
        ) => {
          res.status(500).json({ error: { code: 'handler-failed', message: error.message } });
        },
      );
      app = createServer(web);
      base = await listen(app);
    });
    after(() => close(app));

    it('answers the handshake and takes deliveries mounted before any body parser', async function () {
      const handshake = await fetch(`${base}/events`, {
        method: 'OPTIONS',
        headers: { 'webhook-request-origin': 'eventgrid.azure.net' },
      });
      expect(handshake.headers.get('webhook-allowed-origin')).to.equal('eventgrid.azure.net');
      const event = deletedEvent();
      expect((await fetch(`${base}/events`, webhookDelivery(event, SECRET))).status).to.equal(204);
      expect((await fetch(`${base}/events`, webhookDelivery(event, 'wrong'))).status).to.equal(401);
      expect(received).to.deep.equal([[event]]);
    });

    it('takes the raw body express.raw() read, and says what is wrong after a JSON parser', async function () {
      const event = processedEvent();
      expect((await fetch(`${base}/raw`, webhookDelivery(event, SECRET))).status).to.equal(204);
      const parsed = await fetch(`${base}/parsed`, webhookDelivery(event, SECRET));
      expect(parsed.status).to.equal(500);
      expect((await errorOf(parsed)).message).to.include('mount the receiver before body parsers');
      expect(received).to.deep.equal([[event]]);
    });

    it('passes a handler failure to next(), as Express middleware does', async function () {
      failNext = 1;
      const response = await fetch(`${base}/events`, webhookDelivery(processedEvent(), SECRET));
      expect(response.status).to.equal(500);
      expect((await errorOf(response)).message).to.equal('the database is down');
    });
  });
});
