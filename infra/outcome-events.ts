/**
 * Outcome events for the application that owns the uploads: an Event Grid custom topic in
 * the CloudEvents 1.0 schema that the function app publishes to with its identity (no keys),
 * and one event subscription per configured subscriber (a webhook, a Storage queue or a
 * Service Bus queue), each with an explicit retry policy and dead-lettering into the
 * dead-letter container with the topic's own identity. The alerts on dead letters and
 * delivery failures are in infra/alerts.ts.
 *
 * Sources: learn.microsoft.com/azure/event-grid cloud-event-schema (CloudEvents input schema),
 * authenticate-with-microsoft-entra-id (EventGrid Data Sender, disableLocalAuth),
 * delivery-properties (static delivery attributes, isSecret), secure-webhook-delivery (Entra
 * ID-protected webhooks), managed-service-identity and add-identity-roles (delivery and
 * dead-lettering with the topic's identity), end-point-validation-cloud-events-schema
 * (the OPTIONS handshake Event Grid makes to a webhook in this schema).
 */
import { WEBHOOK_SECRET_HEADER } from '../functions/core/definitions';
import * as pulumi from '@pulumi/pulumi';
import * as eventgrid from '@pulumi/azure-native/eventgrid';
import type * as types from '@pulumi/azure-native/types';
import { deadLetterWithTopicIdentity } from './blob-events';
import { type OutcomeSubscriber, type WebhookSubscriber } from './outcome-subscribers';
import { type RoleGrant, containerScope, grantRoles, queueScope } from './roles';

export interface OutcomeEventsArgs {
  resourceGroupName: pulumi.Input<string>;
  location: pulumi.Input<string>;
  /** Globally unique within the region: the endpoint is <topic>.<region>-1.eventgrid.azure.net. */
  topicName: pulumi.Input<string>;
  /** The upload account and its dead-letter container. */
  storageAccountId: pulumi.Input<string>;
  deadLetterContainerName: pulumi.Input<string>;
  subscribers: readonly OutcomeSubscriber[];
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * One event per webhook POST, as the receiver package and local mode's delivery expect
 * (docs/events.md); Event Grid's batch size only matters if maxEventsPerBatch is above 1.
 */
export const WEBHOOK_BATCHING = {
  maxEventsPerBatch: 1,
  preferredBatchSizeInKilobytes: 64,
} as const;

/** CloudEvents `source` of every event a stack publishes. */
export function eventSourceOf(stack: string): string {
  return `urn:directdrop:${stack}`;
}

function webhookDestination(subscriber: WebhookSubscriber) {
  return {
    endpointType: 'WebHook' as const,
    endpointUrl: subscriber.url,
    ...WEBHOOK_BATCHING,
    minimumTlsVersionAllowed: eventgrid.TlsVersion.TlsVersion_1_2,
    // Event Grid sends the value as a header on every delivery and never shows it back.
    deliveryAttributeMappings: [
      {
        type: 'Static' as const,
        name: WEBHOOK_SECRET_HEADER,
        value: pulumi.secret(subscriber.secret),
        isSecret: true,
      },
    ],
    ...(subscriber.entra
      ? {
          azureActiveDirectoryTenantId: subscriber.entra.tenantId,
          azureActiveDirectoryApplicationIdOrUri: subscriber.entra.applicationIdOrUri,
        }
      : {}),
  };
}

/** A queue destination, reached with the topic's identity and the role granted at that queue. */
function queueDelivery(subscriber: Exclude<OutcomeSubscriber, WebhookSubscriber>): {
  destination:
    | types.input.eventgrid.StorageQueueEventSubscriptionDestinationArgs
    | types.input.eventgrid.ServiceBusQueueEventSubscriptionDestinationArgs;
  grant: Omit<RoleGrant, 'target'>;
} {
  if (subscriber.kind === 'storageQueue') {
    return {
      destination: {
        endpointType: 'StorageQueue' as const,
        resourceId: subscriber.storageAccountId,
        queueName: subscriber.queueName,
      },
      grant: {
        role: 'storageQueueDataMessageSender',
        scope: queueScope(subscriber.storageAccountId, subscriber.queueName),
        reason: `Event Grid delivers directdrop outcome events to subscriber ${subscriber.name}`,
      },
    };
  }
  return {
    destination: { endpointType: 'ServiceBusQueue' as const, resourceId: subscriber.queueId },
    grant: {
      role: 'serviceBusDataSender',
      scope: subscriber.queueId,
      reason: `Event Grid delivers directdrop outcome events to subscriber ${subscriber.name}`,
    },
  };
}

export class OutcomeEvents extends pulumi.ComponentResource {
  readonly topicId: pulumi.Output<string>;
  readonly topicName: pulumi.Output<string>;
  /** e.g. https://<topic>.<region>-1.eventgrid.azure.net/api/events */
  readonly topicEndpoint: pulumi.Output<string>;
  readonly subscriptionNames: pulumi.Output<string>[];

  constructor(name: string, args: OutcomeEventsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('directdrop:index:OutcomeEvents', name, {}, opts);
    const child = { parent: this };

    const topic = new eventgrid.Topic(
      `${name}-topic`,
      {
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        tags: args.tags,
        topicName: args.topicName,
        inputSchema: eventgrid.InputSchema.CloudEventSchemaV1_0,
        // No access keys: only identities holding EventGrid Data Sender on this topic publish.
        disableLocalAuth: true,
        // The function app (no virtual network) publishes over the public endpoint; delivery to
        // subscribers is outbound and does not depend on this.
        publicNetworkAccess: eventgrid.PublicNetworkAccess.Enabled,
        minimumTlsVersionAllowed: eventgrid.TlsVersion.TlsVersion_1_2,
        identity: { type: eventgrid.IdentityType.SystemAssigned },
      },
      child,
    );
    const topicPrincipalId = topic.identity.apply((identity) => {
      if (!identity?.principalId)
        throw new Error('The outcome topic has no system-assigned identity');
      return identity.principalId;
    });

    const [deadLetterRole] = grantRoles(
      `${name}-topic`,
      topicPrincipalId,
      [
        {
          role: 'storageBlobDataContributor',
          target: 'dead-letters',
          scope: containerScope(args.storageAccountId, args.deadLetterContainerName),
          reason: 'Event Grid writes undeliverable outcome events to the dead-letter container',
        },
      ],
      child,
    );

    const subscriptions = args.subscribers.map((subscriber) => {
      const common = {
        resourceGroupName: args.resourceGroupName,
        topicName: topic.name,
        eventSubscriptionName: subscriber.name,
        // A CloudEvents topic delivers in the CloudEvents schema; for a webhook this also means
        // the CloudEvents abuse-protection handshake (OPTIONS, WebHook-Allowed-Origin).
        eventDeliverySchema: eventgrid.EventDeliverySchema.CloudEventSchemaV1_0,
        filter: { includedEventTypes: [...subscriber.eventTypes] },
        retryPolicy: {
          maxDeliveryAttempts: subscriber.maxDeliveryAttempts,
          eventTimeToLiveInMinutes: subscriber.eventTimeToLiveMinutes,
        },
        deadLetterWithResourceIdentity: deadLetterWithTopicIdentity(
          args.storageAccountId,
          args.deadLetterContainerName,
        ),
      };
      if (subscriber.kind === 'webhook') {
        return new eventgrid.TopicEventSubscription(
          `${name}-${subscriber.name}`,
          { ...common, destination: webhookDestination(subscriber) },
          { ...child, dependsOn: [deadLetterRole] },
        );
      }
      const { destination, grant } = queueDelivery(subscriber);
      const deliveryRoles = grantRoles(
        `${name}-${subscriber.name}`,
        topicPrincipalId,
        [{ ...grant, target: 'queue' }],
        child,
      );
      return new eventgrid.TopicEventSubscription(
        `${name}-${subscriber.name}`,
        {
          ...common,
          deliveryWithResourceIdentity: {
            identity: { type: eventgrid.EventSubscriptionIdentityType.SystemAssigned },
            destination,
          },
        },
        // A subscription created before its identity holds these roles fails validation.
        { ...child, dependsOn: [deadLetterRole, ...deliveryRoles] },
      );
    });

    this.topicId = topic.id;
    this.topicName = topic.name;
    this.topicEndpoint = topic.endpoint;
    this.subscriptionNames = subscriptions.map((subscription) => subscription.name);
    this.registerOutputs({
      topicId: this.topicId,
      topicName: this.topicName,
      topicEndpoint: this.topicEndpoint,
      subscriptionNames: this.subscriptionNames,
    });
  }
}
