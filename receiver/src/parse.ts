/**
 * Reads a webhook delivery's body as Event Grid sends it in the CloudEvents schema: one event
 * in structured mode (`application/cloudevents+json`) or a batch
 * (`application/cloudevents-batch+json`), UTF-8, within a size limit, and returns its events
 * checked as directdrop outcome events.
 *
 * Not the `cloudevents` SDK: its HTTP binding (v10) invents an `id` and a `time` for events
 * that lack them (so a malformed event could never be deduplicated), turns an unparseable
 * `time` into the current time, skips validation in structured mode and matches the content
 * type as an exact string; a receiver that deduplicates by `id` needs those refused.
 * https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md
 */
import { ReceiverError } from './errors.js';
import type { UploadOutcomeEvent } from './events.js';
import { type EventOptions, toOutcomeEvent } from './validate.js';

export type DeliveryMode = 'structured' | 'batch';

/**
 * What the receiver reads of a request: a Fetch API Request has it, and so do look-alikes
 * such as Azure Functions v4's HttpRequest.
 */
export interface DeliveryRequest {
  readonly method: string;
  readonly headers: { get(name: string): string | null };
  readonly body: {
    getReader(): { read(): Promise<{ done: boolean; value?: unknown }>; cancel(): Promise<void> };
  } | null;
}

const MEDIA_TYPES: Record<string, DeliveryMode> = {
  'application/cloudevents+json': 'structured',
  'application/cloudevents-batch+json': 'batch',
};

/** Event Grid's largest event and preferred batch are 1 MB; directdrop's events are a few KB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** The delivery mode a Content-Type names; anything else (binary mode too) is a 415. */
export function deliveryMode(contentType: string | null): DeliveryMode {
  const [mediaType = '', ...parameters] = (contentType ?? '').split(';').map((part) => part.trim());
  const mode = MEDIA_TYPES[mediaType.toLowerCase()];
  const charset = parameters
    .map((parameter) => /^charset\s*=\s*"?([^"]*)"?$/i.exec(parameter)?.[1])
    .find((value) => value !== undefined);
  if (!mode || (charset !== undefined && charset.toLowerCase() !== 'utf-8')) {
    throw new ReceiverError(
      'unsupported-content-type',
      'Expected application/cloudevents+json or application/cloudevents-batch+json in UTF-8.',
    );
  }
  return mode;
}

/** The body as text, reading no further than `maxBytes` whatever Content-Length says. */
export async function readBody(request: DeliveryRequest, maxBytes: number): Promise<string> {
  const tooLarge = () =>
    new ReceiverError('body-too-large', `The body is larger than ${maxBytes} bytes.`);
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let length = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!(value instanceof Uint8Array))
        throw new TypeError('the request body is not a byte stream');
      length += value.byteLength;
      if (length > maxBytes) {
        await reader.cancel();
        throw tooLarge();
      }
      chunks.push(value);
    }
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ReceiverError('malformed-body', 'The body is not UTF-8.');
  }
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ReceiverError('malformed-body', 'The body is not JSON.');
  }
}

/**
 * The events of one delivery, each checked. One bad event refuses the whole delivery: a
 * webhook answers for all of it, and a 400 sends it to the dead-letter container whole.
 * An event repeated within the batch (same `source` and `id`) is returned once.
 */
export function parseDelivery(
  mode: DeliveryMode,
  text: string,
  options: EventOptions = {},
): UploadOutcomeEvent[] {
  const body = parseJson(text);
  if (mode === 'structured') return [toOutcomeEvent(body, options)];
  if (!Array.isArray(body))
    throw new ReceiverError('malformed-body', 'A batch is a JSON array of events.');
  const seen = new Set<string>();
  const events: UploadOutcomeEvent[] = [];
  body.forEach((candidate, index) => {
    const event = toOutcomeEvent(candidate, options, `event[${index}].`);
    const key = JSON.stringify([event.source, event.id]);
    if (!seen.has(key)) events.push(event);
    seen.add(key);
  });
  return events;
}
