/**
 * Event Grid from the upload account to the events queue: a system topic whose own
 * managed identity delivers committed-blob events from the landing and drop-zone containers
 * (never the tombstones the worker leaves behind) and dead-letters what it cannot deliver.
 * No keys anywhere: the account has none.
 */
import * as pulumi from '@pulumi/pulumi';
import * as eventgrid from '@pulumi/azure-native/eventgrid';
import {
  BLOB_CREATED_EVENT_TYPE,
  COMMITTED_BLOB_APIS,
  EXCLUDED_BLOB_CONTENT_TYPES,
  blobSubjectPrefix,
} from '../functions/core/definitions';
import { containerScope, grantRoles, queueScope } from './roles';

export interface BlobEventsArgs {
  resourceGroupName: pulumi.Input<string>;
  location: pulumi.Input<string>;
  storageAccountId: pulumi.Input<string>;
  /** Only blobs committed in this container (and the drop zones') raise events. */
  landingContainer: string;
  /** Drop zone containers: each gets its own subscription into the same queue. */
  dropZoneContainers?: readonly string[];
  eventsQueueName: pulumi.Input<string>;
  deadLetterContainerName: pulumi.Input<string>;
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * Event Grid's defaults, set explicitly: 30 tries over 24 hours, then dead-letter.
 * Documented ranges: 1–30 attempts, 1–1440 minutes.
 */
export const EVENT_RETRY_POLICY = {
  maxDeliveryAttempts: 30,
  eventTimeToLiveInMinutes: 1440,
} as const;

/** -1: queued events never expire (Microsoft's own Event Grid → queue sample does the same). */
const QUEUE_MESSAGE_TTL_SECONDS = -1;

/**
 * Event Grid allows 25 advanced filters and 25 filter values in all per subscription
 * (learn.microsoft.com event-grid event-filtering, "Limitations").
 */
export const ADVANCED_FILTER_LIMITS = { filters: 25, values: 25 } as const;

/** The BlobCreated filters: committed blobs only, and never a tombstone. */
export function blobCreatedAdvancedFilters() {
  return [
    // PutBlock raises nothing; PutBlockList closes a block upload.
    { operatorType: 'StringIn' as const, key: 'data.api', values: [...COMMITTED_BLOB_APIS] },
    // A tombstone's own Put Blob (the worker's) would otherwise reach the worker as a new upload.
    {
      operatorType: 'StringNotIn' as const,
      key: 'data.contentType',
      values: [...EXCLUDED_BLOB_CONTENT_TYPES],
    },
  ];
}

/** Undeliverable events go to the dead-letter container, written with the topic's identity. */
export function deadLetterWithTopicIdentity(
  storageAccountId: pulumi.Input<string>,
  deadLetterContainerName: pulumi.Input<string>,
) {
  return {
    identity: { type: eventgrid.EventSubscriptionIdentityType.SystemAssigned },
    deadLetterDestination: {
      endpointType: 'StorageBlob' as const,
      resourceId: storageAccountId,
      blobContainerName: deadLetterContainerName,
    },
  };
}

/**
 * How every directdrop subscription delivers: into the events queue with the topic's own
 * identity, Event Grid's retries made explicit, then dead-lettered with that identity.
 */
export function queueDeliveryWithTopicIdentity(target: {
  storageAccountId: pulumi.Input<string>;
  eventsQueueName: pulumi.Input<string>;
  deadLetterContainerName: pulumi.Input<string>;
}) {
  const identity = { type: eventgrid.EventSubscriptionIdentityType.SystemAssigned };
  return {
    eventDeliverySchema: eventgrid.EventDeliverySchema.EventGridSchema,
    deliveryWithResourceIdentity: {
      identity,
      destination: {
        endpointType: 'StorageQueue' as const,
        // The account's ID; the queue goes in queueName.
        resourceId: target.storageAccountId,
        queueName: target.eventsQueueName,
        queueMessageTimeToLiveInSeconds: QUEUE_MESSAGE_TTL_SECONDS,
      },
    },
    retryPolicy: { ...EVENT_RETRY_POLICY },
    deadLetterWithResourceIdentity: deadLetterWithTopicIdentity(
      target.storageAccountId,
      target.deadLetterContainerName,
    ),
  };
}

export class BlobEvents extends pulumi.ComponentResource {
  readonly systemTopicName: pulumi.Output<string>;
  readonly systemTopicId: pulumi.Output<string>;
  readonly subscriptionName: pulumi.Output<string>;

  constructor(name: string, args: BlobEventsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('directdrop:index:BlobEvents', name, {}, opts);
    const child = { parent: this };

    const topic = new eventgrid.SystemTopic(
      `${name}-topic`,
      {
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        tags: args.tags,
        source: args.storageAccountId,
        topicType: 'Microsoft.Storage.StorageAccounts',
        identity: { type: eventgrid.IdentityType.SystemAssigned },
      },
      child,
    );
    const topicPrincipalId = topic.identity.apply((identity) => {
      if (!identity?.principalId)
        throw new Error('The Event Grid system topic has no system-assigned identity');
      return identity.principalId;
    });

    // Roles from learn.microsoft.com event-grid add-identity-roles: Message Sender for a queue
    // destination, Blob Data Contributor for a dead-letter container; each on that one resource.
    const roleAssignments = grantRoles(
      `${name}-topic`,
      topicPrincipalId,
      [
        {
          role: 'storageQueueDataMessageSender',
          target: 'events-queue',
          scope: queueScope(args.storageAccountId, args.eventsQueueName),
          reason: 'Event Grid delivers BlobCreated events to the directdrop events queue',
        },
        {
          role: 'storageBlobDataContributor',
          target: 'dead-letters',
          scope: containerScope(args.storageAccountId, args.deadLetterContainerName),
          reason: 'Event Grid writes undeliverable directdrop events to the dead-letter container',
        },
      ],
      child,
    );

    const subscribe = (resourceName: string, container: string) =>
      new eventgrid.SystemTopicEventSubscription(
        resourceName,
        {
          resourceGroupName: args.resourceGroupName,
          systemTopicName: topic.name,
          ...queueDeliveryWithTopicIdentity(args),
          filter: {
            includedEventTypes: [BLOB_CREATED_EVENT_TYPE],
            subjectBeginsWith: blobSubjectPrefix(container),
            advancedFilters: blobCreatedAdvancedFilters(),
          },
        },
        // A subscription created before its identity holds these roles fails validation or retries.
        { ...child, dependsOn: roleAssignments },
      );
    const subscription = subscribe(`${name}-blob-created`, args.landingContainer);
    for (const container of args.dropZoneContainers ?? [])
      subscribe(`${name}-${container}-blob-created`, container);

    this.systemTopicName = topic.name;
    this.systemTopicId = topic.id;
    this.subscriptionName = subscription.name;
    this.registerOutputs({
      systemTopicName: this.systemTopicName,
      systemTopicId: this.systemTopicId,
      subscriptionName: this.subscriptionName,
    });
  }
}
