import * as pulumi from '@pulumi/pulumi';
import { expect } from 'chai';
import {
  BUILT_IN_ROLES,
  containerScope,
  grantRoles,
  queueScope,
  roleDefinitionId,
} from '../../infra/roles';
import { PRIVILEGED_ROLES } from './helpers/policy';
import {
  TEST_SUBSCRIPTION_ID,
  ofType,
  resetRecorded,
  settle,
  useMocks,
  valueOf,
} from './helpers/pulumi-mocks';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ACCOUNT_ID =
  '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct';

describe('infra roles', () => {
  before(() => useMocks());
  beforeEach(resetRecorded);

  it('lists distinct built-in role GUIDs, none of them a privileged role', () => {
    const guids = Object.values(BUILT_IN_ROLES);
    for (const guid of guids) expect(guid).to.match(GUID);
    expect(new Set(guids).size).to.equal(guids.length);
    for (const guid of guids) expect(PRIVILEGED_ROLES).not.to.have.property(guid);
  });

  it('builds subscription-scoped role definition IDs', () => {
    expect(roleDefinitionId('sub', 'storageBlobDelegator')).to.equal(
      '/subscriptions/sub/providers/Microsoft.Authorization/roleDefinitions/db58b8e5-c6ad-4a2a-8342-4190687cbf4a',
    );
  });

  it('scopes to one container or one queue', async () => {
    expect(await valueOf(containerScope(ACCOUNT_ID, 'uploads'))).to.equal(
      `${ACCOUNT_ID}/blobServices/default/containers/uploads`,
    );
    expect(await valueOf(queueScope(ACCOUNT_ID, 'upload-events'))).to.equal(
      `${ACCOUNT_ID}/queueServices/default/queues/upload-events`,
    );
  });

  it('assigns each role to the service principal at its scope, saying why', async () => {
    const parent = new pulumi.ComponentResource('test:index:Parent', 'roles-parent');
    grantRoles(
      'grantee',
      'principal-1',
      [{ role: 'storageQueueDataReader', target: 'events', scope: 'the-scope', reason: 'because' }],
      { parent },
    );
    await settle();
    const [assignment] = ofType('authorization:RoleAssignment');
    expect(assignment.name).to.equal('grantee-events-storageQueueDataReader');
    expect(assignment.inputs).to.deep.include({
      principalId: 'principal-1',
      principalType: 'ServicePrincipal',
      scope: 'the-scope',
      description: 'because',
      roleDefinitionId: roleDefinitionId(TEST_SUBSCRIPTION_ID, 'storageQueueDataReader'),
    });
  });
});
