/**
 * The example backend's HTTP API (plain `node:http`):
 * - `OPTIONS|POST /directdrop/events`: directdrop's outcome events, through the receiver;
 * - `POST /posts {title}`: a post of the signed-in user (what uploads get attached to);
 * - `GET /my-uploads`: the signed-in user's uploads, from this backend's own store.
 * Errors have the API's shape, `{"error":{"code","message"}}`.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { type ReceiverOptions, createReceiver } from '@directdrop/receiver';
import { receiverMiddleware } from '@directdrop/receiver/express';
import type { BackendStore } from './store.js';
import { IdentityProviderUnavailable, type User } from './users.js';

export const EVENTS_PATH = '/directdrop/events';
const MAX_JSON_BYTES = 4096;

export interface BackendOptions {
  store: BackendStore;
  /** The receiver's options: the webhook secret, and the stack `sources` to accept. */
  receiver: ReceiverOptions;
  /** The signed-in user of a request's Authorization header, if any. */
  users: (authorization: string | undefined) => Promise<User | undefined>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > MAX_JSON_BYTES)
      throw new HttpError(413, 'body-too-large', `At most ${MAX_JSON_BYTES} bytes.`);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new HttpError(400, 'invalid-body', 'Expected a JSON object.');
}

export function createBackend(options: BackendOptions): RequestListener {
  const { store, users } = options;
  const events = receiverMiddleware(createReceiver(options.receiver), (received) => {
    // Synchronous SQLite: every event of the delivery is stored before the 204 goes out.
    for (const event of received) store.record(event);
  });

  async function signedIn(req: IncomingMessage): Promise<User> {
    const user = await users(req.headers.authorization);
    if (!user) throw new HttpError(401, 'unauthorized', 'Send Authorization: Bearer <token>.');
    return user;
  }

  async function route(req: IncomingMessage, res: ServerResponse) {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === EVENTS_PATH) return events(req, res);
    if (path === '/posts' && req.method === 'POST') {
      const user = await signedIn(req);
      const { title } = await readJson(req);
      if (typeof title !== 'string' || title.length === 0 || title.length > 200) {
        throw new HttpError(400, 'invalid-title', 'title: a string of 1 to 200 characters.');
      }
      return send(res, 201, store.createPost(user, title));
    }
    if (path === '/my-uploads' && req.method === 'GET') {
      return send(res, 200, { uploads: store.uploadsOf(await signedIn(req)) });
    }
    throw new HttpError(404, 'not-found', 'No such route.');
  }

  return (req, res) => {
    route(req, res).catch((error: unknown) => {
      if (error instanceof HttpError)
        return send(res, error.status, { error: { code: error.code, message: error.message } });
      if (error instanceof IdentityProviderUnavailable) {
        return send(res, 503, {
          error: { code: 'identity-provider-unavailable', message: error.message },
        });
      }
      console.error(error);
      send(res, 500, { error: { code: 'internal', message: 'Something went wrong.' } });
    });
  };
}
