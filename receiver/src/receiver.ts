/**
 * `createReceiver`: one webhook endpoint for directdrop's outcome events on any runtime with
 * the Fetch API's Request and Response (Node 22+, Next.js route handlers, Hono, Azure
 * Functions v4, Deno, Bun). It answers the handshake, checks the caller, reads the body and
 * returns typed events, or the refusal to send back.
 */
import { ReceiverError } from './errors.js';
import type { UploadOutcomeEvent } from './events.js';
import { ALLOWED_METHODS, type HandshakeOptions, handshakeResponder } from './handshake.js';
import {
  DEFAULT_MAX_BODY_BYTES,
  type DeliveryRequest,
  deliveryMode,
  parseDelivery,
  readBody,
} from './parse.js';
import { DEFAULT_SECRET_HEADER, secretChecker } from './secret.js';
import type { EventOptions } from './validate.js';

export interface ReceiverOptions extends HandshakeOptions, EventOptions {
  /**
   * The secret the subscription sends in `secretHeader`, or several while rotating it. At
   * least 16 characters. Required unless `authorize` checks the caller instead.
   */
  secret?: string | readonly string[];
  /** Default `X-Directdrop-Webhook-Secret`, the delivery attribute directdrop's stacks set. */
  secretHeader?: string;
  /**
   * A check of your own, run on deliveries after the secret check, e.g. of the Microsoft Entra
   * ID bearer token Event Grid sends to an Entra-protected webhook (docs/events.md). Resolve
   * false to refuse with 401.
   */
  authorize?: (request: DeliveryRequest) => boolean | Promise<boolean>;
  /** Default 1 MiB; larger bodies are refused with 413 before they are read whole. */
  maxBodyBytes?: number;
}

export type ReceiveResult =
  /** An OPTIONS handshake; send `response` back. */
  | { kind: 'handshake'; response: Response }
  /**
   * A delivery of one or more events. Record them, then send `response` (204). If recording
   * fails, answer 5xx instead (or throw) and Event Grid delivers them again later.
   */
  | { kind: 'events'; events: UploadOutcomeEvent[]; response: Response }
  /** Refused (401, 400, 405, 413 or 415); `error` says why, `response` says so to the sender. */
  | { kind: 'refused'; error: ReceiverError; response: Response };

export interface Receiver {
  /** A Fetch API Request, or a look-alike with `method`, `headers` and a byte-stream `body`. */
  receive(request: DeliveryRequest): Promise<ReceiveResult>;
}

export function createReceiver(options: ReceiverOptions): Receiver {
  if (options.secret === undefined && options.authorize === undefined) {
    throw new TypeError('createReceiver: give a secret, an authorize function, or both');
  }
  const secretMatches = options.secret === undefined ? undefined : secretChecker(options.secret);
  const secretHeader = options.secretHeader ?? DEFAULT_SECRET_HEADER;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!(Number.isSafeInteger(maxBodyBytes) && maxBodyBytes > 0)) {
    throw new TypeError('maxBodyBytes: a positive integer');
  }
  const handshake = handshakeResponder(options);
  const sources = options.sources && [...options.sources];

  return {
    async receive(request) {
      try {
        if (request.method === 'OPTIONS')
          return { kind: 'handshake', response: handshake(request) };
        if (request.method !== 'POST') {
          throw new ReceiverError(
            'method-not-allowed',
            'Deliveries are POSTs; the handshake is OPTIONS.',
          );
        }
        // Who is calling comes first: nothing of an unauthenticated body is read.
        const authorized =
          (secretMatches ? secretMatches(request.headers.get(secretHeader)) : true) &&
          (options.authorize ? await options.authorize(request) : true);
        if (!authorized)
          throw new ReceiverError('unauthorized', 'This delivery is not authenticated.');
        const mode = deliveryMode(request.headers.get('content-type'));
        const events = parseDelivery(mode, await readBody(request, maxBodyBytes), { sources });
        return { kind: 'events', events, response: new Response(null, { status: 204 }) };
      } catch (error) {
        if (!(error instanceof ReceiverError)) throw error;
        const allow = error.code === 'method-not-allowed' || error.code === 'invalid-handshake';
        return {
          kind: 'refused',
          error,
          response: error.toResponse(allow ? { allow: ALLOWED_METHODS } : {}),
        };
      }
    },
  };
}
