/**
 * The pure half of local mode's Event Grid topic: judges a publish request exactly as an
 * Event Grid custom topic in the CloudEvents 1.0 input schema does, and shapes its error
 * answers. Source: learn.microsoft.com/azure/event-grid/post-to-custom-topic (endpoint,
 * `aeg-sas-key`, 200 / 400 / 401 / 404 / 413 and the error body) and
 * learn.microsoft.com/azure/event-grid/cloud-event-schema (content types, 1 MB limits).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The topic's only route; `@azure/eventgrid` appends `?api-version=2018-01-01`. */
export const PUBLISH_PATH = '/api/events';
export const PUBLISH_API_VERSION = '2018-01-01';
/** Event Grid's limit for one publish (the array), and for each event in it. */
export const MAX_PUBLISH_BYTES = 1024 * 1024;

export const CLOUD_EVENTS_BATCH_CONTENT_TYPE = 'application/cloudevents-batch+json';
export const CLOUD_EVENT_CONTENT_TYPE = 'application/cloudevents+json';

/** One CloudEvent as published: the four required attributes and whatever else it carries. */
export interface PublishedCloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject?: string;
  time?: string;
  datacontenttype?: string;
  data?: unknown;
  [attribute: string]: unknown;
}

export interface PublishRequest {
  method: string;
  /** Path and query as the client sent them, e.g. `/api/events?api-version=2018-01-01`. */
  target: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: Buffer;
}

export interface PublishRefusal {
  status: number;
  code: string;
  message: string;
  headers?: Record<string, string>;
}

export type PublishVerdict =
  { ok: true; events: PublishedCloudEvent[] } | { ok: false; refusal: PublishRefusal };

/** Event Grid's error body: `{"error":{"code","message","details":[{"code","message"}]}}`. */
export function eventGridErrorBody(refusal: PublishRefusal): {
  error: { code: string; message: string; details: Array<{ code: string; message: string }> };
} {
  return {
    error: {
      code: refusal.code,
      message: refusal.message,
      details: [{ code: refusal.code, message: refusal.message }],
    },
  };
}

function header(request: PublishRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Compares digests, so neither the length nor the content of the key leaks through timing. */
export function keyMatches(given: string | undefined, key: string): boolean {
  if (given === undefined) return false;
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(key));
}

const refuse = (status: number, code: string, message: string, headers?: Record<string, string>) =>
  ({ ok: false, refusal: { status, code, message, headers } }) as const;

/** CloudEvents attribute names: lower-case ASCII letters and digits only (spec 1.0, §2). */
const ATTRIBUTE_NAME = /^[a-z0-9]+$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i;

function checkEvent(value: unknown, index: number): string | undefined {
  const where = `event ${index}`;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return `${where} is not a JSON object`;
  const event = value as Record<string, unknown>;
  if (event.specversion !== '1.0') return `${where}: specversion must be "1.0"`;
  for (const required of ['id', 'source', 'type'] as const) {
    if (typeof event[required] !== 'string' || event[required] === '')
      return `${where}: required attribute '${required}' is missing or not a non-empty string`;
  }
  for (const name of Object.keys(event)) {
    if (name !== 'data' && name !== 'data_base64' && !ATTRIBUTE_NAME.test(name))
      return `${where}: attribute name '${name}' is not lower-case letters and digits`;
  }
  for (const optional of ['subject', 'datacontenttype', 'dataschema'] as const) {
    if (event[optional] !== undefined && typeof event[optional] !== 'string')
      return `${where}: '${optional}' must be a string`;
  }
  if (event.time !== undefined && (typeof event.time !== 'string' || !RFC3339.test(event.time)))
    return `${where}: 'time' must be an RFC 3339 timestamp`;
  if (event.data !== undefined && event.data_base64 !== undefined)
    return `${where}: 'data' and 'data_base64' are exclusive`;
  if (Buffer.byteLength(JSON.stringify(event)) > MAX_PUBLISH_BYTES)
    return `${where} is larger than ${MAX_PUBLISH_BYTES} bytes`;
  return undefined;
}

/**
 * The topic's verdict on one request. Checked in the order the service answers: route,
 * method, api-version, key, size, content type, then the events themselves.
 */
export function judgePublish(request: PublishRequest, key: string): PublishVerdict {
  const url = new URL(request.target, 'http://topic.invalid');
  if (url.pathname.toLowerCase() !== PUBLISH_PATH)
    return refuse(
      404,
      'NotFound',
      `No topic route answers ${url.pathname}; publish to ${PUBLISH_PATH}.`,
    );
  if (request.method.toUpperCase() !== 'POST')
    return refuse(405, 'MethodNotAllowed', `${request.method} is not allowed; publish with POST.`, {
      allow: 'POST',
    });
  const apiVersion = url.searchParams.get('api-version');
  if (apiVersion === null)
    return refuse(
      400,
      'BadRequest',
      `The api-version query parameter is missing; use ${PUBLISH_API_VERSION}.`,
    );
  if (apiVersion !== PUBLISH_API_VERSION)
    return refuse(
      400,
      'BadRequest',
      `api-version '${apiVersion}' is not supported here; use ${PUBLISH_API_VERSION}.`,
    );
  if (!keyMatches(header(request, 'aeg-sas-key'), key)) {
    // Locally only the topic key authenticates: no SAS tokens, no Entra tokens.
    const other = header(request, 'aeg-sas-token')
      ? ' (aeg-sas-token is not supported locally)'
      : header(request, 'authorization')
        ? ' (Microsoft Entra tokens are not supported locally)'
        : '';
    return refuse(
      401,
      'Unauthorized',
      `The request authorization key is not valid for this topic${other}.`,
    );
  }
  if (request.body.length > MAX_PUBLISH_BYTES)
    return refuse(413, 'PayloadTooLarge', `A publish is limited to ${MAX_PUBLISH_BYTES} bytes.`);
  const mediaType = (header(request, 'content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (mediaType !== CLOUD_EVENTS_BATCH_CONTENT_TYPE && mediaType !== CLOUD_EVENT_CONTENT_TYPE)
    return refuse(
      400,
      'BadRequest',
      `This topic takes the CloudEvents 1.0 schema: Content-Type ${CLOUD_EVENTS_BATCH_CONTENT_TYPE} (an array) or ${CLOUD_EVENT_CONTENT_TYPE} (one event), not '${mediaType || 'none'}'.`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(request.body.toString('utf8'));
  } catch {
    return refuse(400, 'BadRequest', 'The request body is not valid JSON.');
  }
  const batch = mediaType === CLOUD_EVENTS_BATCH_CONTENT_TYPE;
  if (batch && !Array.isArray(parsed))
    return refuse(
      400,
      'BadRequest',
      `A ${CLOUD_EVENTS_BATCH_CONTENT_TYPE} body must be a JSON array.`,
    );
  const events = batch ? (parsed as unknown[]) : [parsed];
  if (events.length === 0) return refuse(400, 'BadRequest', 'The batch holds no events.');
  for (const [index, event] of events.entries()) {
    const problem = checkEvent(event, index);
    if (problem) return refuse(400, 'BadRequest', problem);
  }
  return { ok: true, events: events as PublishedCloudEvent[] };
}
