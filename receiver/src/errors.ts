/**
 * Why a delivery or a message was refused, with the HTTP status the receiver answers and the
 * API's error shape (`{"error":{"code","message"}}`). Messages name the field at fault and
 * never repeat a secret or a header value.
 */
export type ReceiverErrorCode =
  /** The secret header is missing or wrong, or `authorize` said no. */
  | 'unauthorized'
  /** Not OPTIONS or POST. */
  | 'method-not-allowed'
  /** An OPTIONS request without `WebHook-Request-Origin`, or from an origin not allowed. */
  | 'invalid-handshake'
  /** Not `application/cloudevents+json` or `application/cloudevents-batch+json` in UTF-8. */
  | 'unsupported-content-type'
  | 'body-too-large'
  /** Not UTF-8, not JSON, or not the JSON shape the content type promises. */
  | 'malformed-body'
  /** A CloudEvents 1.0 rule broken (specversion, id, source, type, attribute names). */
  | 'invalid-cloudevent'
  /** A CloudEvent, but not a directdrop outcome event this package knows. */
  | 'unknown-event-type'
  /** A directdrop outcome event whose fields are not as documented. */
  | 'invalid-event'
  /** A `source` not among the receiver's `sources`. */
  | 'unexpected-source';

const STATUS: Record<ReceiverErrorCode, number> = {
  unauthorized: 401,
  'method-not-allowed': 405,
  'invalid-handshake': 400,
  'unsupported-content-type': 415,
  'body-too-large': 413,
  'malformed-body': 400,
  'invalid-cloudevent': 400,
  'unknown-event-type': 400,
  'invalid-event': 400,
  'unexpected-source': 400,
};

export class ReceiverError extends Error {
  override readonly name = 'ReceiverError';
  /** The HTTP status a webhook answers with; Event Grid retries none of 400, 401 and 413. */
  readonly status: number;

  constructor(
    readonly code: ReceiverErrorCode,
    message: string,
  ) {
    super(message);
    this.status = STATUS[code];
  }

  /** The refusal as an HTTP response, in the API's error shape. */
  toResponse(headers: Record<string, string> = {}): Response {
    return Response.json(
      { error: { code: this.code, message: this.message } },
      { status: this.status, headers },
    );
  }
}
