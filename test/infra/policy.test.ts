import { expect } from 'chai';
import { PRIVILEGED_ROLES, policyViolations } from './helpers/policy';
import { runProgram } from './helpers/program';
import type { RecordedResource } from './helpers/pulumi-mocks';

function resource(type: string, inputs: Record<string, unknown>): RecordedResource {
  return { type: `azure-native:${type}`, name: 'bad', inputs, id: 'id' };
}

describe('infra policy', () => {
  it('the program assigns no Owner or Contributor, makes nothing public and allows no shared keys', async () => {
    const { resources } = await runProgram();
    expect(resources.filter((r) => r.type.endsWith('RoleAssignment')).length).to.be.greaterThan(0);
    expect(policyViolations(resources)).to.deep.equal([]);
  });

  describe('catches', () => {
    for (const [guid, role] of Object.entries(PRIVILEGED_ROLES)) {
      it(`an assignment of ${role}`, () => {
        const assignment = resource('authorization:RoleAssignment', {
          roleDefinitionId: `/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/${guid}`,
        });
        expect(policyViolations([assignment])).to.deep.equal([`bad assigns ${role}`]);
      });
    }

    it('a public or unspecified container', () => {
      expect(
        policyViolations([resource('storage:BlobContainer', { publicAccess: 'Blob' })]),
      ).to.have.length(1);
      expect(policyViolations([resource('storage:BlobContainer', {})])).to.have.length(1);
    });

    it('a storage account that allows shared keys or public blobs, or leaves them to defaults', () => {
      const secure = { allowSharedKeyAccess: false, allowBlobPublicAccess: false };
      expect(policyViolations([resource('storage:StorageAccount', secure)])).to.deep.equal([]);
      expect(
        policyViolations([
          resource('storage:StorageAccount', { ...secure, allowSharedKeyAccess: true }),
        ]),
      ).to.deep.equal(['bad allows shared key access']);
      expect(policyViolations([resource('storage:StorageAccount', {})])).to.have.length(2);
    });
  });
});
