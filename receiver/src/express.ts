/**
 * `@directdrop/receiver/express`: the receiver behind Express (4 or 5) or a plain `node:http`
 * server, whose requests are Node's IncomingMessage rather than a Fetch API Request. Mount it
 * before any body parser (or behind `express.raw()`): the receiver reads the body itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { UploadOutcomeEvent } from './events.js';
import type { Receiver } from './receiver.js';

/** Node's request as a Fetch API Request, its body streamed (or `req.body` from express.raw()). */
export function toFetchRequest(req: IncomingMessage & { body?: unknown }): Request {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2)
    headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  const method = req.method ?? 'GET';
  let body: RequestInit['body'];
  if (Buffer.isBuffer(req.body) || typeof req.body === 'string') {
    body = req.body as string | Buffer<ArrayBuffer>;
  } else if (req.readableEnded) {
    throw new TypeError(
      'The request body was already read: mount the receiver before body parsers, or use express.raw()',
    );
  } else if (method !== 'GET' && method !== 'HEAD') {
    body = Readable.toWeb(req) as ReadableStream<Uint8Array>;
  }
  // The host is not the receiver's business; a fixed one keeps a forged Host header out of it.
  return new Request(new URL(req.url ?? '/', 'http://localhost'), {
    method,
    headers,
    body,
    duplex: 'half',
  } as RequestInit);
}

/** Writes a Fetch API Response to Node's response. */
export async function sendResponse(res: ServerResponse, response: Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  res.statusCode = response.status;
  response.headers.forEach((value, name) => res.setHeader(name, value));
  res.end(body);
}

export type EventsHandler = (
  events: UploadOutcomeEvent[],
  req: IncomingMessage,
) => void | Promise<void>;

/**
 * Middleware (Express) or request listener (`http.createServer`): answers the handshake and
 * refusals itself, calls `onEvents` with each delivery's events and answers 204 once it has
 * resolved. If it throws, the error goes to Express's `next` (a 500 by default), or without
 * Express the answer is a 500; either way Event Grid delivers the events again.
 */
export function receiverMiddleware(receiver: Receiver, onEvents: EventsHandler) {
  return (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void => {
    const run = async () => {
      const result = await receiver.receive(toFetchRequest(req));
      if (result.kind === 'events') await onEvents(result.events, req);
      await sendResponse(res, result.response);
    };
    run().catch((error: unknown) => {
      if (next) return next(error);
      console.error('directdrop receiver: the events handler failed; answering 500', error);
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: { code: 'handler-failed', message: 'The events were not recorded.' },
          }),
        );
      }
    });
  };
}
