/**
 * The pure half of local mode's webhook delivery, as Event Grid delivers to a webhook
 * subscription in the CloudEvents 1.0 schema: the abuse-protection handshake, the request
 * it POSTs for each event, its retry schedule (compressed) and its dead-letter records.
 *
 * Sources (learn.microsoft.com/azure/event-grid/…):
 * - end-point-validation-cloud-events-schema: OPTIONS with `WebHook-Request-Origin`, the
 *   target consents with `WebHook-Allowed-Origin` (the origin or `*`).
 * - delivery-and-retry: one event per request; 30 s response timeout; retries after 10 s,
 *   30 s, 1 min, 5 min, 10 min, 30 min, 1 h, then longer; only 200–204 are success;
 *   no retry of a webhook's 400, 401, 403 or 413; the CloudEvents dead-letter sample; the
 *   `aeg-*` delivery headers.
 * - manage-event-delivery: dead-letter blobs named `<SUBSCRIPTION>/<y>/<m>/<d>/<h>/<guid>.json`
 *   (no zero padding, subscription upper-cased), each holding an array of events.
 */
import { createHash } from 'node:crypto';
import { WEBHOOK_SECRET_HEADER } from '../functions/core/definitions';
import type { PublishedCloudEvent } from './event-topic-publish';

/** What Event Grid puts in `WebHook-Request-Origin`. */
export const EVENT_GRID_ORIGIN = 'eventgrid.azure.net';
export const CLOUD_EVENT_DELIVERY_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';

/** Event Grid's schedule up to its one-hour step; after that it waits hours between tries. */
export const EVENT_GRID_RETRY_SCHEDULE_MS: readonly number[] = [
  10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000,
];
/**
 * Locally a minute of Event Grid's schedule is a second (0.17 s, 0.5 s, 1 s, 5 s, 10 s,
 * 30 s, 60 s), and delivery stops at the one-hour step: eight attempts over about 107 s
 * instead of Event Grid's up to 30 attempts within 24 hours.
 */
export const LOCAL_TIME_SCALE = 60;
export const LOCAL_RETRY_SCHEDULE_MS: readonly number[] = EVENT_GRID_RETRY_SCHEDULE_MS.map((ms) =>
  Math.round(ms / LOCAL_TIME_SCALE),
);
/** Event Grid waits 30 s for a webhook's answer; so does local mode (it is a response time, not a schedule). */
export const DELIVERY_TIMEOUT_MS = 30_000;

export interface DeliveryPolicy {
  /** Delay after the n-th failed attempt (index n-1); its length + 1 is the number of attempts. */
  retryScheduleMs: readonly number[];
  timeoutMs: number;
}
export const LOCAL_DELIVERY_POLICY: DeliveryPolicy = {
  retryScheduleMs: LOCAL_RETRY_SCHEDULE_MS,
  timeoutMs: DELIVERY_TIMEOUT_MS,
};

export function maxAttempts(policy: DeliveryPolicy): number {
  return policy.retryScheduleMs.length + 1;
}

/** Statuses Event Grid does not retry for a webhook: the event is dead-lettered at once. */
export const NON_RETRIED_STATUSES: readonly number[] = [400, 401, 403, 413];

export function isDelivered(status: number): boolean {
  return status >= 200 && status <= 204;
}

/** How one attempt ended: an HTTP status, no answer in time, or no connection at all. */
export type AttemptResult =
  { kind: 'status'; status: number } | { kind: 'timeout' } | { kind: 'network'; detail: string };

/** Event Grid's `lastdeliveryoutcome` words, as its dead-letter samples spell them. */
export function deliveryOutcome(result: AttemptResult): string {
  if (result.kind === 'timeout') return 'TimedOut';
  if (result.kind === 'network') return 'GenericError';
  const names: Record<number, string> = {
    400: 'BadRequest',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'NotFound',
    408: 'TimedOut',
    413: 'PayloadTooLarge',
    429: 'Busy',
    503: 'Busy',
  };
  return names[result.status] ?? 'GenericError';
}

export type AttemptDecision =
  | { action: 'delivered' }
  | { action: 'retry'; delayMs: number }
  | { action: 'dead-letter'; reason: string };

/** What follows the `attempt`-th attempt (1-based). */
export function decideAfterAttempt(
  result: AttemptResult,
  attempt: number,
  policy: DeliveryPolicy,
): AttemptDecision {
  if (result.kind === 'status' && isDelivered(result.status)) return { action: 'delivered' };
  if (result.kind === 'status' && NON_RETRIED_STATUSES.includes(result.status)) {
    // Not documented for topics; Event Grid namespaces word it "Undeliverable due to client error".
    return { action: 'dead-letter', reason: 'UndeliverableDueToClientError' };
  }
  if (attempt >= maxAttempts(policy))
    return { action: 'dead-letter', reason: 'MaxDeliveryAttemptsExceeded' };
  return { action: 'retry', delayMs: policy.retryScheduleMs[attempt - 1] };
}

/** A webhook subscription as local mode names it: stable per URL, so its queue survives restarts. */
export interface WebhookSubscription {
  url: string;
  /** Event Grid upper-cases subscription names in `aeg-subscription-name` and dead-letter paths. */
  name: string;
  /** The Azurite queue that holds this subscription's pending deliveries. */
  queueName: string;
}

export function webhookSubscription(url: string): WebhookSubscription {
  const hash = createHash('sha256').update(url).digest('hex').slice(0, 12);
  return { url, name: `LOCAL-WEBHOOK-${hash.toUpperCase()}`, queueName: `webhook-${hash}` };
}

/** The OPTIONS request of the handshake. */
export function handshakeHeaders(): Record<string, string> {
  return { 'WebHook-Request-Origin': EVENT_GRID_ORIGIN };
}

/** Whether the target consented: 200 and `WebHook-Allowed-Origin` of Event Grid's origin or `*`. */
export function handshakeVerdict(
  status: number,
  allowedOrigin: string | null,
): { accepted: true } | { accepted: false; reason: string } {
  if (status !== 200)
    return { accepted: false, reason: `the OPTIONS request answered ${status}, not 200` };
  const origin = allowedOrigin?.trim().toLowerCase();
  if (origin === '*' || origin === EVENT_GRID_ORIGIN) return { accepted: true };
  return {
    accepted: false,
    reason:
      allowedOrigin === null
        ? 'the answer has no WebHook-Allowed-Origin header'
        : `WebHook-Allowed-Origin is '${allowedOrigin}', not '${EVENT_GRID_ORIGIN}' or '*'`,
  };
}

/**
 * The headers of one delivery. `aeg-delivery-count` counts earlier attempts (0 on the
 * first); for the CloudEvents schema `aeg-metadata-version` carries the spec version and
 * `aeg-data-version` does not apply (sent empty, or the event's `dataversion`).
 */
export function deliveryHeaders(
  event: PublishedCloudEvent,
  subscription: WebhookSubscription,
  attempt: number,
  secret: string,
): Record<string, string> {
  return {
    'Content-Type': CLOUD_EVENT_DELIVERY_CONTENT_TYPE,
    'aeg-subscription-name': subscription.name,
    'aeg-delivery-count': String(attempt - 1),
    'aeg-event-type': 'Notification',
    'aeg-metadata-version': '1.0',
    'aeg-data-version': typeof event.dataversion === 'string' ? event.dataversion : '',
    [WEBHOOK_SECRET_HEADER]: secret,
  };
}

export interface DeadLetterFacts {
  reason: string;
  attempts: number;
  lastResult: AttemptResult;
  publishTime: Date;
  lastAttemptTime: Date;
}

/**
 * One dead-letter record in the CloudEvents schema: the event with the delivery facts as
 * extension attributes, which CloudEvents spells in lower case (Microsoft's sample shows
 * `deadletterreason`, `deliveryattempts`, `lastdeliveryoutcome`, `publishtime`; the
 * Event Grid schema's record adds `lastDeliveryAttemptTime` and `lastHttpStatusCode`).
 */
export function deadLetterRecord(
  event: PublishedCloudEvent,
  facts: DeadLetterFacts,
): Record<string, unknown> {
  return {
    ...event,
    deadletterreason: facts.reason,
    deliveryattempts: facts.attempts,
    lastdeliveryoutcome: deliveryOutcome(facts.lastResult),
    ...(facts.lastResult.kind === 'status' ? { lasthttpstatuscode: facts.lastResult.status } : {}),
    publishtime: eventGridTime(facts.publishTime),
    lastdeliveryattempttime: eventGridTime(facts.lastAttemptTime),
  };
}

/** `<SUBSCRIPTION>/<year>/<month>/<day>/<hour>/<guid>.json`, UTC, no zero padding. */
export function deadLetterBlobName(
  subscription: WebhookSubscription,
  at: Date,
  guid: string,
): string {
  return [
    subscription.name,
    at.getUTCFullYear(),
    at.getUTCMonth() + 1,
    at.getUTCDate(),
    at.getUTCHours(),
    `${guid}.json`,
  ].join('/');
}

/** Event Grid writes times with 7 fractional digits. */
export function eventGridTime(time: Date): string {
  return time.toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}
