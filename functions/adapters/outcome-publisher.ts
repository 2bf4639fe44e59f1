/**
 * Publishes outcome events to the stack's Event Grid custom topic (CloudEvents 1.0 input
 * schema) with `@azure/eventgrid`: with the topic's access key where one is set (local
 * mode's topic emulator, header `aeg-sas-key`), else with the app's managed identity
 * (EventGrid Data Sender on the topic). Without an endpoint nothing is published.
 */
import type { TokenCredential } from '@azure/identity';
import { AzureKeyCredential, EventGridPublisherClient } from '@azure/eventgrid';
import type { UploadOutcomeEvent } from '../core/outcome-events';
import { OUTCOME_TOPIC_KEY_SETTING } from '../core/settings';

export interface OutcomePublisher {
  /** Resolves once the topic accepted every event; throws (naming no secret) otherwise. */
  publish(events: readonly UploadOutcomeEvent[]): Promise<void>;
}

type Env = Readonly<Record<string, string | undefined>>;

/** A failed publication: the queue message that carried it is retried and republishes. */
export class OutcomePublishError extends Error {
  constructor(
    readonly count: number,
    readonly statusCode: number | undefined,
  ) {
    super(
      `Publishing ${count} outcome event(s) failed${statusCode ? ` (HTTP ${statusCode})` : ' (topic unreachable)'}; the message is retried`,
    );
    this.name = 'OutcomePublishError';
  }
}

/**
 * A few quick tries: the queue's own retry (visibility timeout, then the poison queue)
 * is the long one, and a queue invocation should not sit on a dead topic.
 */
const RETRY_OPTIONS = { maxRetries: 2, retryDelayInMs: 200, maxRetryDelayInMs: 2_000 };

/**
 * `identity` is the credential storage uses (the app's managed identity in Azure, the
 * operator's own for operator commands), made only when no topic key is set.
 */
export function createOutcomePublisher(
  endpoint: string,
  env: Env,
  identity: () => TokenCredential,
): OutcomePublisher {
  if (endpoint === '') return { publish: async () => undefined };
  const key = env[OUTCOME_TOPIC_KEY_SETTING];
  const credential = key ? new AzureKeyCredential(key) : identity();
  const client = new EventGridPublisherClient(endpoint, 'CloudEvent', credential, {
    retryOptions: RETRY_OPTIONS,
    // Settings allow http only on loopback: local mode's topic emulator.
    allowInsecureConnection: new URL(endpoint).protocol === 'http:',
  });
  return {
    async publish(events) {
      if (events.length === 0) return;
      try {
        await client.send(
          events.map((event) => ({
            type: event.type,
            source: event.source,
            id: event.id,
            subject: event.subject,
            time: new Date(event.time),
            datacontenttype: event.datacontenttype,
            data: event.data,
          })),
        );
      } catch (error) {
        // The SDK's error carries the request, headers included: only its status goes on.
        const status = (error as { statusCode?: unknown }).statusCode;
        throw new OutcomePublishError(
          events.length,
          typeof status === 'number' ? status : undefined,
        );
      }
    },
  };
}
