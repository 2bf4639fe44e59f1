import * as pulumi from '@pulumi/pulumi';
import { expect } from 'chai';
import {
  BUILT_IN_ROLES,
  containerScope,
  grantRoles,
  queueScope,
  roleAssignmentName,
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
      [
        {
          role: 'storageQueueDataContributor',
          target: 'events',
          scope: pulumi.output('the-scope'),
          reason: 'because',
        },
      ],
      { parent },
    );
    await settle();
    const [assignment] = ofType('authorization:RoleAssignment');
    const definition = roleDefinitionId(TEST_SUBSCRIPTION_ID, 'storageQueueDataContributor');
    expect(assignment.name).to.equal('grantee-events-storageQueueDataContributor');
    expect(assignment.inputs).to.deep.equal({
      roleAssignmentName: roleAssignmentName('the-scope', 'principal-1', definition),
      principalId: 'principal-1',
      principalType: 'ServicePrincipal',
      scope: 'the-scope',
      description: 'because',
      roleDefinitionId: definition,
    });
  });

  it("names the role definition in the scope's own subscription, e.g. a subscriber's queue elsewhere", async () => {
    const parent = new pulumi.ComponentResource('test:index:Parent', 'roles-elsewhere');
    const otherQueue =
      '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/app/providers/Microsoft.ServiceBus/namespaces/appbus/queues/outcomes';
    grantRoles(
      'grantee',
      'principal-1',
      [{ role: 'serviceBusDataSender', target: 'elsewhere', scope: otherQueue, reason: 'r' }],
      { parent },
    );
    await settle();
    const [assignment] = ofType('authorization:RoleAssignment');
    expect(assignment.inputs.roleDefinitionId).to.equal(
      roleDefinitionId('11111111-2222-3333-4444-555555555555', 'serviceBusDataSender'),
    );
  });

  it('names an assignment with a UUIDv5 of scope, principal and role, like guid() in Bicep', () => {
    const name = roleAssignmentName('/subscriptions/s/x', 'p', 'r');
    expect(name).to.match(GUID);
    expect(name[14]).to.equal('5');
    expect(roleAssignmentName('/SUBSCRIPTIONS/s/X', 'p', 'r')).to.equal(name);
    for (const other of [
      roleAssignmentName('/subscriptions/s/y', 'p', 'r'),
      roleAssignmentName('/subscriptions/s/x', 'q', 'r'),
      roleAssignmentName('/subscriptions/s/x', 'p', 's'),
    ]) {
      expect(other).to.match(GUID).and.not.equal(name);
    }
  });
});
