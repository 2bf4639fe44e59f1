import { expect } from 'chai';
import { STORAGE_NAMES, poisonQueueName } from '../../functions/core/definitions';
import { DEFAULT_SETTINGS, toAppSettings } from '../../functions/core/settings';
import { FunctionApp } from '../../infra/function-app';
import { roleDefinitionId } from '../../infra/roles';
import {
  TEST_SUBSCRIPTION_ID,
  UPLOAD_ACCOUNT_ID,
  ofType,
  resetRecorded,
  settle,
  useMocks,
} from './helpers/pulumi-mocks';

describe('infra FunctionApp keeping originals', () => {
  before(async () => {
    await useMocks();
    resetRecorded();
    new FunctionApp('fn', {
      resourceGroupName: 'rg',
      location: 'swedencentral',
      nodeVersion: '22',
      maximumInstanceCount: 40,
      instanceMemoryMB: 2048,
      uploads: {
        accountId: UPLOAD_ACCOUNT_ID,
        blobServiceUri: 'https://uploads.blob.core.windows.net',
        queueServiceUri: 'https://uploads.queue.core.windows.net',
        landingContainerName: STORAGE_NAMES.landingContainer,
        processedContainerName: STORAGE_NAMES.processedContainer,
        originalsContainerName: STORAGE_NAMES.originalsContainer,
        eventsQueueName: STORAGE_NAMES.eventsQueue,
        poisonQueueName: poisonQueueName(STORAGE_NAMES.eventsQueue),
        tableServiceUri: 'https://uploads.table.core.windows.net',
        quotaTableName: STORAGE_NAMES.uploadTable,
      },
      ownerKey: 'generated-owner-key-0123456789abcdefghijklmnopqrstuv',
      appSettings: toAppSettings({ ...DEFAULT_SETTINGS, keepOriginals: true }),
      appInsights: { id: 'insights', connectionString: 'InstrumentationKey=abc' },
      allowedCorsOrigins: ['https://app.example.com'],
      functionPackage: { zipPath: '/packages/functions.zip', sha256: 'f00d', bytes: 4 },
      deployRetryMinutes: 10,
    });
    await settle();
  });

  it('may write the originals container, and no wider than that container', () => {
    const originals = `${UPLOAD_ACCOUNT_ID}/blobServices/default/containers/${STORAGE_NAMES.originalsContainer}`;
    const grants = ofType('authorization:RoleAssignment').filter(
      (a) => a.inputs.scope === originals,
    );
    expect(grants.map((a) => a.inputs.roleDefinitionId)).to.deep.equal([
      roleDefinitionId(TEST_SUBSCRIPTION_ID, 'storageBlobDataContributor'),
    ]);
  });
});
