/**
 * The `outcomeSubscribers` stack key: who hears about each upload's outcome, each an Event
 * Grid event subscription on the outcome topic (infra/outcome-events.ts). Pure validation,
 * so a bad entry fails the preview with its position, its name and what is allowed.
 */

import {
  OUTCOME_EVENT_TYPES as EVENT_TYPE_OF,
  type OutcomeEventType,
} from '../functions/core/outcome-events';

/** Every outcome event type the worker publishes; a subscriber takes all unless it names some. */
export const OUTCOME_EVENT_TYPES: readonly OutcomeEventType[] = Object.values(EVENT_TYPE_OF);

/**
 * Event Grid's retry limits (learn.microsoft.com event-grid delivery-and-retry): 1-30
 * attempts within a time to live of 1-1440 minutes. The defaults are Event Grid's own.
 */
export const SUBSCRIBER_LIMITS = {
  count: { min: 0, max: 20 },
  maxDeliveryAttempts: { min: 1, max: 30 },
  eventTimeToLiveMinutes: { min: 1, max: 1440 },
  secretLength: { min: 16, max: 256 },
} as const;

interface SubscriberCommon {
  /** Also the event subscription's name, so it shows in the portal and in dead-letter paths. */
  name: string;
  eventTypes: OutcomeEventType[];
  maxDeliveryAttempts: number;
  eventTimeToLiveMinutes: number;
}

export interface WebhookSubscriber extends SubscriberCommon {
  kind: 'webhook';
  url: string;
  /** Sent as `X-Directdrop-Webhook-Secret`; infra wraps it in `pulumi.secret`. */
  secret: string;
  /** Entra ID-protected delivery: Event Grid sends a token for this app in this tenant. */
  entra?: { tenantId: string; applicationIdOrUri: string };
}

export interface StorageQueueSubscriber extends SubscriberCommon {
  kind: 'storageQueue';
  storageAccountId: string;
  queueName: string;
}

export interface ServiceBusQueueSubscriber extends SubscriberCommon {
  kind: 'serviceBusQueue';
  queueId: string;
}

export type OutcomeSubscriber =
  WebhookSubscriber | StorageQueueSubscriber | ServiceBusQueueSubscriber;

export class SubscriberError extends Error {}

const NAME = /^[a-z][a-z0-9-]{1,46}[a-z0-9]$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const STORAGE_ACCOUNT_ID =
  /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/[-\w.()]{1,90}\/providers\/Microsoft\.Storage\/storageAccounts\/[a-z0-9]{3,24}$/i;
const QUEUE_NAME = /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const SERVICE_BUS_QUEUE_ID =
  /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/[-\w.()]{1,90}\/providers\/Microsoft\.ServiceBus\/namespaces\/[A-Za-z][A-Za-z0-9-]{4,48}[A-Za-z0-9]\/queues\/[A-Za-z0-9][\w.-]{0,259}$/i;
/** Visible ASCII: a header value Event Grid sends as given. */
const SECRET = /^[\x21-\x7e]+$/;
const FIELDS = new Set([
  'name',
  'webhookUrl',
  'webhookSecret',
  'azureActiveDirectoryTenantId',
  'azureActiveDirectoryApplicationIdOrUri',
  'storageAccountId',
  'storageQueueName',
  'serviceBusQueueId',
  'eventTypes',
  'maxDeliveryAttempts',
  'eventTimeToLiveMinutes',
]);

/** Validates the parsed `outcomeSubscribers` value; throws a SubscriberError saying what is wrong. */
export function parseOutcomeSubscribers(value: unknown): OutcomeSubscriber[] {
  const { count } = SUBSCRIBER_LIMITS;
  if (!Array.isArray(value) || value.length > count.max) {
    throw new SubscriberError(
      `must be a list of at most ${count.max} subscribers like [{"name":"backend","webhookUrl":"https://app.example.com/api/directdrop-events","webhookSecret":"…"}]`,
    );
  }
  const names = new Set<string>();
  return value.map((entry: unknown, index) => {
    const subscriber = parseSubscriber(entry, `subscriber ${index + 1}`, index);
    if (names.has(subscriber.name)) {
      throw new SubscriberError(`subscriber ${index + 1}: name "${subscriber.name}" is used twice`);
    }
    names.add(subscriber.name);
    return subscriber;
  });
}

function parseSubscriber(entry: unknown, at: string, index: number): OutcomeSubscriber {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new SubscriberError(`${at} must be an object with a name and one destination`);
  }
  const fields = entry as Record<string, unknown>;
  const unknown = Object.keys(fields).find((key) => !FIELDS.has(key));
  if (unknown) {
    throw new SubscriberError(
      `${at}: unknown field "${unknown}"; allowed: ${[...FIELDS].join(', ')}`,
    );
  }
  const { name } = fields;
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new SubscriberError(
      `${at}: name must be 3-48 lower-case letters, digits and hyphens, starting with a letter`,
    );
  }
  const named = `${at} (${name})`;
  const common: SubscriberCommon = {
    name,
    eventTypes: readEventTypes(fields.eventTypes, named),
    maxDeliveryAttempts: readInteger(fields, 'maxDeliveryAttempts', named),
    eventTimeToLiveMinutes: readInteger(fields, 'eventTimeToLiveMinutes', named),
  };
  const destinations = [
    fields.webhookUrl !== undefined && 'webhookUrl',
    (fields.storageAccountId !== undefined || fields.storageQueueName !== undefined) &&
      'storageAccountId + storageQueueName',
    fields.serviceBusQueueId !== undefined && 'serviceBusQueueId',
  ].filter((d): d is string => typeof d === 'string');
  if (destinations.length !== 1) {
    throw new SubscriberError(
      `${named}: needs exactly one destination, webhookUrl, storageAccountId + storageQueueName or serviceBusQueueId${destinations.length > 1 ? `, not ${destinations.join(' and ')}` : ''}`,
    );
  }
  const webhookOnly = [
    'webhookSecret',
    'azureActiveDirectoryTenantId',
    'azureActiveDirectoryApplicationIdOrUri',
  ].find((key) => fields[key] !== undefined);
  if (fields.webhookUrl === undefined && webhookOnly) {
    throw new SubscriberError(`${named}: ${webhookOnly} applies to webhookUrl subscribers only`);
  }
  if (fields.webhookUrl !== undefined) return { ...common, ...readWebhook(fields, named, index) };
  if (fields.serviceBusQueueId !== undefined) {
    const { serviceBusQueueId } = fields;
    if (typeof serviceBusQueueId !== 'string' || !SERVICE_BUS_QUEUE_ID.test(serviceBusQueueId)) {
      throw new SubscriberError(
        `${named}: serviceBusQueueId must be a queue's ARM ID like /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.ServiceBus/namespaces/<namespace>/queues/<queue>`,
      );
    }
    return { ...common, kind: 'serviceBusQueue', queueId: serviceBusQueueId };
  }
  const { storageAccountId, storageQueueName } = fields;
  if (typeof storageAccountId !== 'string' || !STORAGE_ACCOUNT_ID.test(storageAccountId)) {
    throw new SubscriberError(
      `${named}: storageAccountId must be a storage account's ARM ID like /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Storage/storageAccounts/<account>`,
    );
  }
  if (typeof storageQueueName !== 'string' || !QUEUE_NAME.test(storageQueueName)) {
    throw new SubscriberError(
      `${named}: storageQueueName must be a queue name (3-63 of a-z, 0-9 and single hyphens)`,
    );
  }
  return { ...common, kind: 'storageQueue', storageAccountId, queueName: storageQueueName };
}

function readWebhook(
  fields: Record<string, unknown>,
  named: string,
  index: number,
): Omit<WebhookSubscriber, keyof SubscriberCommon> {
  const { webhookUrl, webhookSecret } = fields;
  let url: URL | undefined;
  try {
    url = typeof webhookUrl === 'string' ? new URL(webhookUrl) : undefined;
  } catch {
    url = undefined;
  }
  // Event Grid's abuse-protection handshake and the secret header need TLS to mean anything.
  if (!url || url.protocol !== 'https:' || url.username || url.password || url.hash) {
    throw new SubscriberError(
      `${named}: webhookUrl must be an https:// URL without credentials or fragment, like https://app.example.com/api/directdrop-events`,
    );
  }
  const { secretLength } = SUBSCRIBER_LIMITS;
  // The value is never echoed: errors end up in CI logs.
  if (
    typeof webhookSecret !== 'string' ||
    webhookSecret.length < secretLength.min ||
    webhookSecret.length > secretLength.max ||
    !SECRET.test(webhookSecret)
  ) {
    throw new SubscriberError(
      `${named}: webhookSecret must be ${secretLength.min} to ${secretLength.max} visible ASCII characters (no spaces); set it encrypted with pulumi config set --secret --path 'outcomeSubscribers[${index}].webhookSecret' "$(openssl rand -base64 32)"`,
    );
  }
  const tenantId = fields.azureActiveDirectoryTenantId;
  const applicationIdOrUri = fields.azureActiveDirectoryApplicationIdOrUri;
  if (tenantId === undefined && applicationIdOrUri === undefined) {
    return { kind: 'webhook', url: webhookUrl as string, secret: webhookSecret };
  }
  if (typeof tenantId !== 'string' || !GUID.test(tenantId)) {
    throw new SubscriberError(
      `${named}: azureActiveDirectoryTenantId must be the tenant's GUID, set together with azureActiveDirectoryApplicationIdOrUri`,
    );
  }
  if (typeof applicationIdOrUri !== 'string' || !isApplicationIdOrUri(applicationIdOrUri)) {
    throw new SubscriberError(
      `${named}: azureActiveDirectoryApplicationIdOrUri must be the receiving app registration's client ID (a GUID) or application ID URI (api://… or https://…), set together with azureActiveDirectoryTenantId`,
    );
  }
  return {
    kind: 'webhook',
    url: webhookUrl as string,
    secret: webhookSecret,
    entra: { tenantId, applicationIdOrUri },
  };
}

function isApplicationIdOrUri(value: string): boolean {
  if (GUID.test(value)) return true;
  try {
    return ['api:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

function readEventTypes(value: unknown, named: string): OutcomeEventType[] {
  if (value === undefined) return [...OUTCOME_EVENT_TYPES];
  const known = OUTCOME_EVENT_TYPES as readonly string[];
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    value.some((type) => typeof type !== 'string' || !known.includes(type))
  ) {
    throw new SubscriberError(
      `${named}: eventTypes must be a non-empty list of ${OUTCOME_EVENT_TYPES.join(', ')}`,
    );
  }
  return [...new Set(value as OutcomeEventType[])];
}

function readInteger(
  fields: Record<string, unknown>,
  key: 'maxDeliveryAttempts' | 'eventTimeToLiveMinutes',
  named: string,
): number {
  const { min, max } = SUBSCRIBER_LIMITS[key];
  const value = fields[key];
  if (value === undefined) return max;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new SubscriberError(`${named}: ${key} must be an integer from ${min} to ${max}`);
  }
  return value;
}
