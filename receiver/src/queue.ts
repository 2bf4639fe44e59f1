/**
 * `parseQueueMessage`: an outcome event Event Grid delivered into a Storage Queue or a Service
 * Bus queue (subscriptions in the CloudEvents schema), however your consumer hands it over:
 * - Storage Queue via `@azure/storage-queue`: `messageText`, the event's JSON in Base64;
 * - Service Bus via `@azure/service-bus`: `body`, the JSON as bytes or already parsed;
 * - an Azure Functions queue or Service Bus trigger: the item, already decoded and parsed.
 * Each message holds one event; a one-element array is accepted too.
 * https://learn.microsoft.com/azure/event-grid/handler-storage-queues
 * https://learn.microsoft.com/azure/event-grid/handler-service-bus
 */
import { ReceiverError } from './errors.js';
import type { UploadOutcomeEvent } from './events.js';
import { parseJson } from './parse.js';
import { type EventOptions, toOutcomeEvent } from './validate.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeText(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return parseJson(trimmed);
  // Checked strictly first: decoders skip or pad what is not Base64.
  if (trimmed.length % 4 !== 0 || !BASE64.test(trimmed)) {
    throw new ReceiverError(
      'malformed-body',
      'The message is neither JSON nor Base64-encoded JSON.',
    );
  }
  return decodeText(decodeBytes(Uint8Array.from(atob(trimmed), (c) => c.charCodeAt(0))));
}

function decodeBytes(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ReceiverError('malformed-body', 'The message is not UTF-8.');
  }
}

/**
 * The directdrop outcome event in one queue message, checked as a webhook delivery is; throws
 * a ReceiverError (with `code`) for anything else. Let a refused message go to your poison or
 * dead-letter queue rather than retrying it: it will not become valid.
 */
export function parseQueueMessage(
  message: unknown,
  options: EventOptions = {},
): UploadOutcomeEvent {
  let value: unknown = message;
  if (typeof message === 'string') value = decodeText(message);
  else if (message instanceof ArrayBuffer) value = decodeText(decodeBytes(new Uint8Array(message)));
  else if (message instanceof Uint8Array) value = decodeText(decodeBytes(message));
  if (Array.isArray(value)) {
    if (value.length !== 1) {
      throw new ReceiverError(
        'malformed-body',
        `Expected one event in the message, found ${value.length}.`,
      );
    }
    value = value[0];
  }
  return toOutcomeEvent(value, options);
}
