/**
 * The CloudEvents webhook abuse-protection handshake Event Grid runs before it delivers to a
 * webhook subscribed in the CloudEvents schema: an OPTIONS request naming the sender in
 * `WebHook-Request-Origin` (`eventgrid.azure.net`), answered 200 with `WebHook-Allowed-Origin`
 * and `WebHook-Allowed-Rate`. It proves the endpoint wants the traffic; it authenticates
 * nobody, so it needs no secret.
 * https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/http-webhook.md#4-abuse-protection
 * https://learn.microsoft.com/azure/event-grid/end-point-validation-cloud-events-schema
 */
import { ReceiverError } from './errors.js';
import type { DeliveryRequest } from './parse.js';

/** What Event Grid sends in `WebHook-Request-Origin`. */
export const EVENT_GRID_ORIGIN = 'eventgrid.azure.net';

export const ALLOWED_METHODS = 'OPTIONS, POST';

export interface HandshakeOptions {
  /** Senders to consent to; `'*'` for any. Default: Event Grid only. */
  allowedOrigins?: readonly string[] | '*';
  /**
   * Requests per minute to grant (`WebHook-Allowed-Rate`); default `'*'`, no limit. Event
   * Grid paces itself; a number is for senders that honour it.
   */
  allowedRate?: number | '*';
}

/**
 * Checks the options once, at startup; then answers each handshake request, or throws a
 * ReceiverError when it cannot consent.
 */
export function handshakeResponder(
  options: HandshakeOptions = {},
): (request: DeliveryRequest) => Response {
  const origins = options.allowedOrigins ?? [EVENT_GRID_ORIGIN];
  const rate = options.allowedRate ?? '*';
  if (rate !== '*' && !(Number.isInteger(rate) && rate > 0)) {
    throw new TypeError("allowedRate: a positive integer or '*'");
  }
  const allowed =
    origins === '*'
      ? () => true
      : (origin: string) => origins.some((o) => o.toLowerCase() === origin.toLowerCase());

  return (request) => {
    const origin = request.headers.get('webhook-request-origin')?.trim();
    if (!origin) {
      throw new ReceiverError(
        'invalid-handshake',
        'An OPTIONS request needs WebHook-Request-Origin (the CloudEvents webhook handshake).',
      );
    }
    if (!allowed(origin)) {
      // Without WebHook-Allowed-Origin the sender reads no consent, whatever the status.
      throw new ReceiverError(
        'invalid-handshake',
        'This receiver does not accept deliveries from that origin.',
      );
    }
    return new Response(null, {
      status: 200,
      headers: {
        allow: ALLOWED_METHODS,
        'webhook-allowed-origin': origin,
        'webhook-allowed-rate': String(rate),
      },
    });
  };
}
