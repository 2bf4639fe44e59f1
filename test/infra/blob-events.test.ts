import { expect } from 'chai';
import {
  BLOB_CREATED_EVENT_TYPE,
  COMMITTED_BLOB_APIS,
  STORAGE_NAMES,
  TOMBSTONE_CONTENT_TYPE,
  blobSubjectPrefix,
} from '../../functions/core/definitions';
import { ADVANCED_FILTER_LIMITS, BlobEvents, EVENT_RETRY_POLICY } from '../../infra/blob-events';
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
} from './helpers/pulumi-mocks';

describe('infra BlobEvents', () => {
  const options = optionsRecorder();
  let topic: RecordedResource;
  let subscription: RecordedResource;
  let assignments: RecordedResource[];

  before(async () => {
    await useMocks();
    resetRecorded();
    new BlobEvents(
      'ev',
      {
        resourceGroupName: 'rg',
        location: 'swedencentral',
        storageAccountId: UPLOAD_ACCOUNT_ID,
        landingContainer: STORAGE_NAMES.landingContainer,
        eventsQueueName: STORAGE_NAMES.eventsQueue,
        deadLetterContainerName: STORAGE_NAMES.deadLetterContainer,
      },
      { transformations: options.transformations },
    );
    await settle();
    topic = single('eventgrid:SystemTopic');
    subscription = single('eventgrid:SystemTopicEventSubscription');
    assignments = ofType('authorization:RoleAssignment');
  });

  it('registers as a directdrop:index:BlobEvents component', () => {
    expect(ofType('directdrop:index:BlobEvents').map((r) => r.name)).to.deep.equal(['ev']);
  });

  it('puts a system topic with a system-assigned identity on the upload account', () => {
    expect(topic.inputs).to.deep.include({
      source: UPLOAD_ACCOUNT_ID,
      topicType: 'Microsoft.Storage.StorageAccounts',
      identity: { type: 'SystemAssigned' },
    });
  });

  it('subscribes to committed BlobCreated events of the landing container only, never a tombstone', () => {
    expect(subscription.inputs.systemTopicName).to.equal(topic.name);
    expect(subscription.inputs.eventDeliverySchema).to.equal('EventGridSchema');
    expect(subscription.inputs.filter).to.deep.include({
      includedEventTypes: [BLOB_CREATED_EVENT_TYPE],
      subjectBeginsWith: blobSubjectPrefix(STORAGE_NAMES.landingContainer),
      advancedFilters: [
        { operatorType: 'StringIn', key: 'data.api', values: [...COMMITTED_BLOB_APIS] },
        {
          operatorType: 'StringNotIn',
          key: 'data.contentType',
          values: ['application/vnd.directdrop.tombstone'],
        },
      ],
    });
    expect(TOMBSTONE_CONTENT_TYPE).to.equal('application/vnd.directdrop.tombstone');
  });

  it("stays within Event Grid's 25 advanced filters and 25 filter values per subscription", () => {
    const { advancedFilters } = subscription.inputs.filter as {
      advancedFilters: { values: unknown[] }[];
    };
    expect(advancedFilters.length).to.be.at.most(ADVANCED_FILTER_LIMITS.filters);
    const values = advancedFilters.reduce((sum, filter) => sum + filter.values.length, 0);
    expect(values).to.be.at.most(ADVANCED_FILTER_LIMITS.values);
  });

  it('covers no blob reprocessing writes: it writes only the processed container', () => {
    const filter = subscription.inputs.filter as { subjectBeginsWith: string };
    // Outputs, manifests, and for good measure kept originals (which reprocessing only reads).
    const written = [`${'0'.repeat(32)}/thumb.webp`, `${crypto.randomUUID()}/manifest.json`].map(
      (name) => `${blobSubjectPrefix(STORAGE_NAMES.processedContainer)}${name}`,
    );
    written.push(`${blobSubjectPrefix(STORAGE_NAMES.originalsContainer)}x/y/a.jpg`);
    for (const subject of written)
      expect(subject.startsWith(filter.subjectBeginsWith), subject).to.equal(false);
  });

  it('delivers to the events queue with the topic identity, never a key', () => {
    expect(subscription.inputs).not.to.have.property('destination');
    expect(subscription.inputs.deliveryWithResourceIdentity).to.deep.equal({
      identity: { type: 'SystemAssigned' },
      destination: {
        endpointType: 'StorageQueue',
        resourceId: UPLOAD_ACCOUNT_ID,
        queueName: STORAGE_NAMES.eventsQueue,
        queueMessageTimeToLiveInSeconds: -1,
      },
    });
  });

  it('retries, then dead-letters to the dead-letter container with the topic identity', () => {
    expect(subscription.inputs.retryPolicy).to.deep.equal({ ...EVENT_RETRY_POLICY });
    expect(EVENT_RETRY_POLICY).to.deep.equal({
      maxDeliveryAttempts: 30,
      eventTimeToLiveInMinutes: 1440,
    });
    expect(subscription.inputs).not.to.have.property('deadLetterDestination');
    expect(subscription.inputs.deadLetterWithResourceIdentity).to.deep.equal({
      identity: { type: 'SystemAssigned' },
      deadLetterDestination: {
        endpointType: 'StorageBlob',
        resourceId: UPLOAD_ACCOUNT_ID,
        blobContainerName: STORAGE_NAMES.deadLetterContainer,
      },
    });
  });

  it("grants the topic's identity Message Sender on the queue and Blob Data Contributor on the dead-letter container", () => {
    const grants = assignments.map((a) => ({
      role: a.inputs.roleDefinitionId,
      scope: a.inputs.scope,
    }));
    expect(grants).to.have.deep.members([
      {
        role: roleDefinitionId(TEST_SUBSCRIPTION_ID, 'storageQueueDataMessageSender'),
        scope: `${UPLOAD_ACCOUNT_ID}/queueServices/default/queues/${STORAGE_NAMES.eventsQueue}`,
      },
      {
        role: roleDefinitionId(TEST_SUBSCRIPTION_ID, 'storageBlobDataContributor'),
        scope: `${UPLOAD_ACCOUNT_ID}/blobServices/default/containers/${STORAGE_NAMES.deadLetterContainer}`,
      },
    ]);
    for (const assignment of assignments) {
      expect(assignment.inputs.principalId).to.equal(principalIdOf(topic.name));
      expect(assignment.inputs.principalType).to.equal('ServicePrincipal');
    }
  });

  it('creates the subscription only after both role assignments (explicit dependsOn)', async () => {
    const urns = await options.dependsOnUrns(subscription.name);
    expect(urns).to.have.length(2);
    for (const name of assignments.map((a) => a.name)) {
      expect(
        urns.some((urn) => urn.endsWith(`azure-native:authorization:RoleAssignment::${name}`)),
      ).to.equal(true);
    }
  });
});

describe('infra BlobEvents with drop zones', () => {
  let subscriptions: RecordedResource[];

  before(async () => {
    await useMocks();
    resetRecorded();
    new BlobEvents('ev', {
      resourceGroupName: 'rg',
      location: 'swedencentral',
      storageAccountId: UPLOAD_ACCOUNT_ID,
      landingContainer: STORAGE_NAMES.landingContainer,
      dropZoneContainers: ['dropzone-cameras', 'dropzone-partners'],
      eventsQueueName: STORAGE_NAMES.eventsQueue,
      deadLetterContainerName: STORAGE_NAMES.deadLetterContainer,
    });
    await settle();
    subscriptions = ofType('eventgrid:SystemTopicEventSubscription');
  });

  it('gives each zone its own filtered subscription into the same queue', () => {
    const filters = subscriptions.map(
      (s) => (s.inputs.filter as { subjectBeginsWith: string }).subjectBeginsWith,
    );
    expect(filters).to.have.members([
      '/blobServices/default/containers/uploads/blobs/',
      '/blobServices/default/containers/dropzone-cameras/blobs/',
      '/blobServices/default/containers/dropzone-partners/blobs/',
    ]);
    for (const s of subscriptions) {
      const delivery = s.inputs.deliveryWithResourceIdentity as {
        destination: { queueName: string };
      };
      expect(delivery.destination.queueName).to.equal(STORAGE_NAMES.eventsQueue);
      expect((s.inputs.filter as { advancedFilters: unknown[] }).advancedFilters).to.deep.equal(
        (subscriptions[0].inputs.filter as { advancedFilters: unknown[] }).advancedFilters,
      );
      expect(JSON.stringify(s.inputs.filter)).to.contain('StringNotIn');
    }
  });
});
