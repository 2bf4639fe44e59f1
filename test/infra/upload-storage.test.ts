import { expect } from 'chai';
import {
  type BlobCorsRule,
  STORAGE_NAMES,
  poisonQueueName,
  uploadCorsRule,
} from '../../functions/core/definitions';
import { UploadStorage } from '../../infra/upload-storage';
import {
  type RecordedResource,
  ofType,
  resetRecorded,
  settle,
  single,
  useMocks,
  valueOf,
} from './helpers/pulumi-mocks';

const ORIGINS = ['https://app.example.com', 'https://*.example.org'];
const ARGS = {
  resourceGroupName: 'rg',
  location: 'swedencentral',
  allowedCorsOrigins: ORIGINS,
  landingContainer: STORAGE_NAMES.landingContainer,
  processedContainer: STORAGE_NAMES.processedContainer,
  deadLetterContainer: STORAGE_NAMES.deadLetterContainer,
  eventsQueue: STORAGE_NAMES.eventsQueue,
  quotaTable: STORAGE_NAMES.uploadTable,
  reprocessQueue: STORAGE_NAMES.reprocessQueue,
  uploadRetentionDays: 3,
  deadLetterRetentionDays: 21,
};

describe('infra UploadStorage', () => {
  let uploads: UploadStorage;
  let account: RecordedResource;

  before(async () => {
    await useMocks();
    resetRecorded();
    uploads = new UploadStorage('up', ARGS);
    await settle();
    account = single('storage:StorageAccount');
  });

  it('registers as a directdrop:index:UploadStorage component', () => {
    expect(ofType('directdrop:index:UploadStorage').map((r) => r.name)).to.deep.equal(['up']);
  });

  it('locks the account down: Entra only, nothing public, TLS 1.2 over HTTPS', () => {
    expect(account.inputs).to.deep.include({
      kind: 'StorageV2',
      allowBlobPublicAccess: false,
      allowSharedKeyAccess: false,
      defaultToOAuthAuthentication: true,
      minimumTlsVersion: 'TLS1_2',
      enableHttpsTrafficOnly: true,
      allowCrossTenantReplication: false,
      location: 'swedencentral',
    });
  });

  it('allows browser PUTs from the configured origins only, with the shared CORS rule', () => {
    const service = single('storage:BlobServiceProperties');
    expect(service.inputs.accountName).to.equal(account.name);
    const rules = (service.inputs.cors as { corsRules: BlobCorsRule[] }).corsRules;
    expect(rules).to.deep.equal([uploadCorsRule(ORIGINS)]);
    const [rule] = rules;
    expect(rule.allowedOrigins).to.deep.equal(ORIGINS);
    expect(rule.allowedMethods).to.include.members(['PUT', 'OPTIONS']);
    expect(rule.allowedHeaders).to.include.members([
      'content-type',
      'x-ms-blob-type',
      'x-ms-version',
    ]);
    expect(rule.exposedHeaders).to.include.members(['etag', 'x-ms-request-id']);
  });

  it('creates the three containers, all private', () => {
    const containers = ofType('storage:BlobContainer');
    expect(containers.map((c) => c.inputs.containerName)).to.have.members([
      STORAGE_NAMES.landingContainer,
      STORAGE_NAMES.processedContainer,
      STORAGE_NAMES.deadLetterContainer,
    ]);
    for (const container of containers) {
      expect(container.inputs).to.deep.include({ publicAccess: 'None', accountName: account.name });
    }
  });

  it('creates the events and reprocess queues and their poison queues', () => {
    expect(ofType('storage:Queue').map((q) => q.inputs.queueName)).to.have.members([
      STORAGE_NAMES.eventsQueue,
      poisonQueueName(STORAGE_NAMES.eventsQueue),
      STORAGE_NAMES.reprocessQueue,
      poisonQueueName(STORAGE_NAMES.reprocessQueue),
    ]);
  });

  it('holds the quota table in the upload account, named from the shared definitions', async () => {
    const table = single('storage:Table');
    expect(table.inputs).to.deep.equal({
      resourceGroupName: 'rg',
      accountName: account.name,
      tableName: STORAGE_NAMES.uploadTable,
    });
    expect(await valueOf(uploads.tableServiceUri)).to.equal(
      `https://${account.name}.table.core.windows.net`,
    );
  });

  it('deletes landing blobs (block and append) and their snapshots after the upload retention, dead letters after theirs', () => {
    const policy = single('storage:ManagementPolicy');
    expect(policy.inputs.managementPolicyName).to.equal('default');
    const rules = (policy.inputs.policy as { rules: Record<string, unknown>[] }).rules;
    const rule = (container: string, days: number) => ({
      enabled: true,
      type: 'Lifecycle',
      definition: {
        filters: { blobTypes: ['blockBlob', 'appendBlob'], prefixMatch: [`${container}/`] },
        actions: {
          baseBlob: { delete: { daysAfterModificationGreaterThan: days } },
          snapshot: { delete: { daysAfterCreationGreaterThan: days } },
        },
      },
    });
    expect(rules).to.have.length(2);
    expect(rules[0]).to.deep.include({
      name: 'expire-uploads',
      ...rule(STORAGE_NAMES.landingContainer, 3),
    });
    expect(rules[1]).to.deep.include({
      name: 'expire-dead-letters',
      ...rule(STORAGE_NAMES.deadLetterContainer, 21),
    });
  });

  it('exposes names and endpoints for the other components', async () => {
    expect(await valueOf(uploads.accountId)).to.equal(account.id);
    expect(await valueOf(uploads.blobServiceUri)).to.equal(
      `https://${account.name}.blob.core.windows.net`,
    );
    expect(await valueOf(uploads.queueServiceUri)).to.equal(
      `https://${account.name}.queue.core.windows.net`,
    );
    expect(await valueOf(uploads.landingContainerName)).to.equal(STORAGE_NAMES.landingContainer);
    expect(await valueOf(uploads.poisonQueueName)).to.equal(
      poisonQueueName(STORAGE_NAMES.eventsQueue),
    );
  });

  it('refuses a component name that cannot prefix a storage account name', () => {
    expect(() => new UploadStorage('Up-Loads', { ...ARGS })).to.throw(
      'Storage account name prefix "Up-Loadsaccount" must be 3-16 lower-case letters and digits',
    );
  });
});

describe('infra UploadStorage with drop zones', () => {
  before(async () => {
    await useMocks();
    resetRecorded();
    new UploadStorage('up', {
      ...ARGS,
      dropZones: [{ name: 'cameras', retentionDays: 2, maxSasHours: 24 }],
    });
    await settle();
  });

  it('creates a private container per zone and deletes its blobs after the zone retention', () => {
    const zone = ofType('storage:BlobContainer').find(
      (c) => c.inputs.containerName === 'dropzone-cameras',
    );
    expect(zone?.inputs.publicAccess).to.equal('None');
    const policy = single('storage:ManagementPolicy').inputs.policy as {
      rules: Array<{ name: string; definition: { actions: unknown } }>;
    };
    const rule = policy.rules.find((r) => r.name === 'expire-dropzone-cameras');
    expect(rule?.definition.actions).to.deep.equal({
      baseBlob: { delete: { daysAfterModificationGreaterThan: 2 } },
      snapshot: { delete: { daysAfterCreationGreaterThan: 2 } },
    });
  });
});
