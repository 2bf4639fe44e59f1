import { expect } from 'chai';
import { STORAGE_NAMES } from '../../functions/core/definitions';
import { UploadStorage } from '../../infra/upload-storage';
import { ofType, resetRecorded, settle, single, useMocks, valueOf } from './helpers/pulumi-mocks';

const ARGS = {
  resourceGroupName: 'rg',
  location: 'swedencentral',
  allowedCorsOrigins: ['https://app.example.com'],
  landingContainer: STORAGE_NAMES.landingContainer,
  processedContainer: STORAGE_NAMES.processedContainer,
  deadLetterContainer: STORAGE_NAMES.deadLetterContainer,
  eventsQueue: STORAGE_NAMES.eventsQueue,
  quotaTable: STORAGE_NAMES.uploadTable,
  reprocessQueue: STORAGE_NAMES.reprocessQueue,
  uploadRetentionDays: 1,
  deadLetterRetentionDays: 30,
};

type Rule = { name: string; definition: { filters: { prefixMatch: string[] }; actions: unknown } };

function lifecycleRules(): Rule[] {
  return (single('storage:ManagementPolicy').inputs.policy as { rules: Rule[] }).rules;
}

describe('infra UploadStorage: originals and processed retention', () => {
  before(() => useMocks());

  it('keeps no originals and no originals container by default, and keeps processed outputs', async () => {
    resetRecorded();
    const uploads = new UploadStorage('up', ARGS);
    await settle();
    const containers = ofType('storage:BlobContainer').map((c) => c.inputs.containerName);
    expect(containers).not.to.include(STORAGE_NAMES.originalsContainer);
    expect(uploads.originalsContainerName).to.equal(undefined);
    expect(lifecycleRules().map((r) => r.name)).not.to.include.members([
      'expire-processed',
      'expire-originals',
    ]);
  });

  it('opts in to a private originals container with its own retention, and expires processed outputs', async () => {
    resetRecorded();
    const uploads = new UploadStorage('up', {
      ...ARGS,
      processedRetentionDays: 90,
      originals: { containerName: STORAGE_NAMES.originalsContainer, retentionDays: 14 },
    });
    await settle();
    const originals = ofType('storage:BlobContainer').find(
      (c) => c.inputs.containerName === STORAGE_NAMES.originalsContainer,
    );
    expect(originals?.inputs.publicAccess).to.equal('None');
    expect(await valueOf(uploads.originalsContainerName!)).to.equal(
      STORAGE_NAMES.originalsContainer,
    );
    const byName = new Map(lifecycleRules().map((r) => [r.name, r.definition]));
    expect(byName.get('expire-processed')).to.deep.equal({
      filters: {
        blobTypes: ['blockBlob', 'appendBlob'],
        prefixMatch: [`${STORAGE_NAMES.processedContainer}/`],
      },
      actions: {
        baseBlob: { delete: { daysAfterModificationGreaterThan: 90 } },
        snapshot: { delete: { daysAfterCreationGreaterThan: 90 } },
      },
    });
    expect(byName.get('expire-originals')).to.deep.equal({
      filters: {
        blobTypes: ['blockBlob', 'appendBlob'],
        prefixMatch: [`${STORAGE_NAMES.originalsContainer}/`],
      },
      actions: {
        baseBlob: { delete: { daysAfterModificationGreaterThan: 14 } },
        snapshot: { delete: { daysAfterCreationGreaterThan: 14 } },
      },
    });
  });
});
