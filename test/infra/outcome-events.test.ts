import { expect } from 'chai';
import * as pulumi from '@pulumi/pulumi';
import { STORAGE_NAMES } from '../../functions/core/definitions';
import { OutcomeEvents, WEBHOOK_BATCHING, eventSourceOf } from '../../infra/outcome-events';
import { OUTCOME_EVENT_TYPES, type OutcomeSubscriber } from '../../infra/outcome-subscribers';
import { roleDefinitionId } from '../../infra/roles';
import {
  TEST_SUBSCRIPTION_ID,
  UPLOAD_ACCOUNT_ID,
  type RecordedResource,
  ofType,
  optionsRecorder,
  principalIdOf,
  resetRecorded,
  settle,
  single,
  useMocks,
  valueOf,
} from './helpers/pulumi-mocks';

const TOPIC_NAME = 'uploadsacct-outcomes';
const OTHER_SUBSCRIPTION = '11111111-2222-3333-4444-555555555555';
const APP_ACCOUNT_ID = `/subscriptions/${OTHER_SUBSCRIPTION}/resourceGroups/app/providers/Microsoft.Storage/storageAccounts/appevents`;
const SERVICE_BUS_QUEUE_ID = `/subscriptions/${OTHER_SUBSCRIPTION}/resourceGroups/app/providers/Microsoft.ServiceBus/namespaces/appbus/queues/outcomes`;
const SECRET = 'w3bh00k-s3cret-0123456789abcdef';
const common = {
  eventTypes: [...OUTCOME_EVENT_TYPES],
  maxDeliveryAttempts: 30,
  eventTimeToLiveMinutes: 1440,
};
const SUBSCRIBERS: OutcomeSubscriber[] = [
  {
    ...common,
    kind: 'webhook',
    name: 'backend',
    url: 'https://app.example.com/hooks/directdrop',
    secret: SECRET,
  },
  {
    ...common,
    kind: 'webhook',
    name: 'entra-backend',
    url: 'https://api.example.com/directdrop',
    secret: SECRET,
    entra: {
      tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
      applicationIdOrUri: 'api://receiver',
    },
  },
  {
    ...common,
    kind: 'storageQueue',
    name: 'audit',
    storageAccountId: APP_ACCOUNT_ID,
    queueName: 'directdrop-outcomes',
    maxDeliveryAttempts: 10,
    eventTimeToLiveMinutes: 60,
  },
  {
    ...common,
    kind: 'serviceBusQueue',
    name: 'billing',
    queueId: SERVICE_BUS_QUEUE_ID,
    eventTypes: ['directdrop.upload.processed', 'directdrop.upload.deleted'],
  },
];
/** What the mocks receive for an input the program marked secret: its value, wrapped. */
function unwrapSecret(value: unknown): unknown {
  const wrapped = value as Record<string, unknown>;
  expect(wrapped[pulumi.runtime.specialSigKey], 'a secret').to.equal(
    pulumi.runtime.specialSecretSig,
  );
  return wrapped.value;
}

const DEAD_LETTERS = `${UPLOAD_ACCOUNT_ID}/blobServices/default/containers/${STORAGE_NAMES.deadLetterContainer}`;

describe('infra OutcomeEvents', () => {
  const options = optionsRecorder();
  let outcomes: OutcomeEvents;
  let topic: RecordedResource;
  let assignments: RecordedResource[];
  const subscription = (name: string) =>
    ofType('eventgrid:TopicEventSubscription').find(
      (s) => s.inputs.eventSubscriptionName === name,
    ) as RecordedResource;
  const topicPrincipal = principalIdOf(TOPIC_NAME);

  before(async () => {
    await useMocks();
    resetRecorded();
    outcomes = new OutcomeEvents(
      'outcomes',
      {
        resourceGroupName: 'rg',
        location: 'swedencentral',
        topicName: TOPIC_NAME,
        storageAccountId: UPLOAD_ACCOUNT_ID,
        deadLetterContainerName: STORAGE_NAMES.deadLetterContainer,
        subscribers: SUBSCRIBERS,
      },
      { transformations: options.transformations },
    );
    await settle();
    topic = single('eventgrid:Topic');
    assignments = ofType('authorization:RoleAssignment');
  });

  it('registers as a directdrop:index:OutcomeEvents component', () => {
    expect(ofType('directdrop:index:OutcomeEvents').map((r) => r.name)).to.deep.equal(['outcomes']);
  });

  it('makes a keyless CloudEvents 1.0 custom topic the app can reach, with its own identity', () => {
    expect(topic.inputs).to.deep.equal({
      resourceGroupName: 'rg',
      location: 'swedencentral',
      topicName: TOPIC_NAME,
      inputSchema: 'CloudEventSchemaV1_0',
      disableLocalAuth: true,
      publicNetworkAccess: 'Enabled',
      minimumTlsVersionAllowed: '1.2',
      identity: { type: 'SystemAssigned' },
    });
  });

  it('exposes the endpoint the app publishes to, and the source it is told', async () => {
    expect(await valueOf(outcomes.topicEndpoint)).to.equal(
      `https://${TOPIC_NAME}.swedencentral-1.eventgrid.azure.net/api/events`,
    );
    expect(await valueOf(outcomes.topicId)).to.equal(topic.id);
    expect(eventSourceOf('prod')).to.equal('urn:directdrop:prod');
  });

  it('gives every subscriber a CloudEvents subscription with its types, explicit retries, and dead letters written with the topic identity', () => {
    for (const subscriber of SUBSCRIBERS) {
      const { inputs } = subscription(subscriber.name);
      expect(inputs, subscriber.name).to.deep.include({
        topicName: TOPIC_NAME,
        eventDeliverySchema: 'CloudEventSchemaV1_0',
        // The SDK adds isSubjectCaseSensitive: false to every filter on its own.
        filter: { includedEventTypes: subscriber.eventTypes, isSubjectCaseSensitive: false },
        retryPolicy: {
          maxDeliveryAttempts: subscriber.maxDeliveryAttempts,
          eventTimeToLiveInMinutes: subscriber.eventTimeToLiveMinutes,
        },
        deadLetterWithResourceIdentity: {
          identity: { type: 'SystemAssigned' },
          deadLetterDestination: {
            endpointType: 'StorageBlob',
            resourceId: UPLOAD_ACCOUNT_ID,
            blobContainerName: STORAGE_NAMES.deadLetterContainer,
          },
        },
      });
      expect(inputs, subscriber.name).not.to.have.property('deadLetterDestination');
    }
    expect(subscription('audit').inputs.retryPolicy).to.deep.equal({
      maxDeliveryAttempts: 10,
      eventTimeToLiveInMinutes: 60,
    });
  });

  it('delivers to a webhook one event per POST with the secret as a secret delivery attribute, a Pulumi secret', () => {
    // The secret makes the whole destination secret, so state holds it encrypted.
    const destination = unwrapSecret(subscription('backend').inputs.destination);
    expect(destination).to.deep.equal({
      endpointType: 'WebHook',
      endpointUrl: 'https://app.example.com/hooks/directdrop',
      ...WEBHOOK_BATCHING,
      minimumTlsVersionAllowed: '1.2',
      deliveryAttributeMappings: [
        { type: 'Static', name: 'X-Directdrop-Webhook-Secret', value: SECRET, isSecret: true },
      ],
    });
    expect(WEBHOOK_BATCHING.maxEventsPerBatch).to.equal(1);
    expect(subscription('backend').inputs).not.to.have.property('deliveryWithResourceIdentity');
  });

  it('asks Event Grid for Entra ID tokens for a protected webhook', () => {
    const destination = unwrapSecret(subscription('entra-backend').inputs.destination);
    expect(destination).to.deep.include({
      azureActiveDirectoryTenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
      azureActiveDirectoryApplicationIdOrUri: 'api://receiver',
    });
  });

  it('delivers to a Storage queue and a Service Bus queue with the topic identity, never a key', () => {
    expect(subscription('audit').inputs).not.to.have.property('destination');
    expect(subscription('audit').inputs.deliveryWithResourceIdentity).to.deep.equal({
      identity: { type: 'SystemAssigned' },
      destination: {
        endpointType: 'StorageQueue',
        resourceId: APP_ACCOUNT_ID,
        queueName: 'directdrop-outcomes',
      },
    });
    expect(subscription('billing').inputs.deliveryWithResourceIdentity).to.deep.equal({
      identity: { type: 'SystemAssigned' },
      destination: { endpointType: 'ServiceBusQueue', resourceId: SERVICE_BUS_QUEUE_ID },
    });
  });

  it("grants the topic identity the dead-letter container and each queue subscriber's queue, nothing else", () => {
    const grants = assignments.map((a) => ({
      principal: a.inputs.principalId,
      role: a.inputs.roleDefinitionId,
      scope: a.inputs.scope,
    }));
    expect(grants).to.have.deep.members([
      {
        principal: topicPrincipal,
        role: roleDefinitionId(TEST_SUBSCRIPTION_ID, 'storageBlobDataContributor'),
        scope: DEAD_LETTERS,
      },
      {
        principal: topicPrincipal,
        role: roleDefinitionId(OTHER_SUBSCRIPTION, 'storageQueueDataMessageSender'),
        scope: `${APP_ACCOUNT_ID}/queueServices/default/queues/directdrop-outcomes`,
      },
      {
        principal: topicPrincipal,
        role: roleDefinitionId(OTHER_SUBSCRIPTION, 'serviceBusDataSender'),
        scope: SERVICE_BUS_QUEUE_ID,
      },
    ]);
  });

  it('creates each subscription only after the roles its delivery and dead letters need', async () => {
    const nameOf = (scope: string) =>
      assignments.find((a) => a.inputs.scope === scope)?.name as string;
    const expected: Record<string, string[]> = {
      backend: [nameOf(DEAD_LETTERS)],
      'entra-backend': [nameOf(DEAD_LETTERS)],
      audit: [
        nameOf(DEAD_LETTERS),
        nameOf(`${APP_ACCOUNT_ID}/queueServices/default/queues/directdrop-outcomes`),
      ],
      billing: [nameOf(DEAD_LETTERS), nameOf(SERVICE_BUS_QUEUE_ID)],
    };
    for (const [subscriber, roles] of Object.entries(expected)) {
      const urns = await options.dependsOnUrns(`outcomes-${subscriber}`);
      expect(urns, subscriber).to.have.length(roles.length);
      for (const role of roles)
        expect(
          urns.some((urn) => urn.endsWith(`RoleAssignment::${role}`)),
          `${subscriber} ${role}`,
        ).to.equal(true);
    }
  });
});

describe('infra OutcomeEvents without subscribers', () => {
  before(async () => {
    await useMocks();
    resetRecorded();
    new OutcomeEvents('outcomes', {
      resourceGroupName: 'rg',
      location: 'swedencentral',
      topicName: TOPIC_NAME,
      storageAccountId: UPLOAD_ACCOUNT_ID,
      deadLetterContainerName: STORAGE_NAMES.deadLetterContainer,
      subscribers: [],
    });
    await settle();
  });

  it('still makes the topic, so the app publishes and subscriptions can be added later', () => {
    expect(ofType('eventgrid:Topic')).to.have.length(1);
    expect(ofType('eventgrid:TopicEventSubscription')).to.deep.equal([]);
  });
});
