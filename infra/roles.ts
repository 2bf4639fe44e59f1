/**
 * Built-in Azure role definitions directdrop assigns, and one way to assign them:
 * to a managed identity (a service principal), at an explicit, narrow scope.
 */
import * as pulumi from '@pulumi/pulumi';
import * as authorization from '@pulumi/azure-native/authorization';
import { v5 as uuidv5 } from 'uuid';

/**
 * Built-in role definition GUIDs (the same in every tenant). Each was checked against
 * Microsoft's built-in roles reference and Microsoft's own templates (Flex Consumption
 * samples `IaC/bicep/rbac.bicep` for Blob Data Owner and Monitoring Metrics Publisher).
 */
export const BUILT_IN_ROLES = {
  /** Host storage for Flex: leases, keys and the deployment package (Microsoft's Flex template). */
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  /** Read, write and delete blobs; assigned per container. */
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  /** Only `generateUserDelegationKey`, which acts at account level. */
  storageBlobDelegator: 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a',
  /**
   * Read, add, update and delete queue messages. A queue trigger needs update (it releases a
   * failed message with Update Message, `queues/messages/write`), which Reader + Message
   * Processor lack (MicrosoftDocs/azure-docs#120932); Microsoft's Flex rbac.bicep grants this.
   */
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  /** Add queue messages: Event Grid delivery into a Storage queue. */
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a',
  /** Read and write entities: Functions host storage tables (Microsoft's Flex rbac.bicep), and the upload table alone. */
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  /** Publish events to one Event Grid topic with Entra auth (built-in roles reference, Integration). */
  eventGridDataSender: 'd5a91429-5739-47e2-a06b-3470a27159e7',
  /** Send messages to Service Bus: Event Grid delivery into a subscriber's queue (event-grid add-identity-roles). */
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39',
  /** Send telemetry to Application Insights with Entra auth (local auth is off). */
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
} as const;

export type BuiltInRole = keyof typeof BUILT_IN_ROLES;

/** The subscription-scoped ID ARM stores for a built-in role; using it avoids a perpetual diff. */
export function roleDefinitionId(subscriptionId: string, role: BuiltInRole): string {
  return `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${BUILT_IN_ROLES[role]}`;
}

/** ARM ID of one blob container, the narrowest scope a blob data role can have. */
export function containerScope(accountId: pulumi.Input<string>, container: pulumi.Input<string>) {
  return pulumi.interpolate`${accountId}/blobServices/default/containers/${container}`;
}

/** ARM ID of one queue, the narrowest scope a queue data role can have. */
export function queueScope(accountId: pulumi.Input<string>, queue: pulumi.Input<string>) {
  return pulumi.interpolate`${accountId}/queueServices/default/queues/${queue}`;
}

/** ARM ID of one table, the narrowest scope a table data role can have. */
export function tableScope(accountId: pulumi.Input<string>, table: pulumi.Input<string>) {
  return pulumi.interpolate`${accountId}/tableServices/default/tables/${table}`;
}

export interface RoleGrant {
  role: BuiltInRole;
  /** Short name of what `scope` points at; with `role` it names the assignment. */
  target: string;
  scope: pulumi.Input<string>;
  /** Why the principal needs it; recorded on the assignment for whoever audits it. */
  reason: string;
}

/** Namespace of directdrop's role assignment names (a fixed, random UUID). */
export const ROLE_ASSIGNMENT_NAMESPACE = '6b1f3c2e-8d4a-4f7b-9c35-2e7d1a0b5f48';

/**
 * The role assignment's name: a UUIDv5 of scope, principal and role, as Microsoft's templates
 * name theirs with `guid(scope, principal, role)`. A random name (azure-native's default)
 * makes a retry after lost state fail with 409 RoleAssignmentExists (pulumi-azure-native#582).
 */
export function roleAssignmentName(
  scope: string,
  principalId: string,
  roleDefinitionId: string,
): string {
  return uuidv5(
    `${scope.toLowerCase()}|${principalId}|${roleDefinitionId}`,
    ROLE_ASSIGNMENT_NAMESPACE,
  );
}

/** The subscription an ARM ID lives in, if it names one. */
function subscriptionOf(scope: string): string | undefined {
  return /^\/subscriptions\/([^/]+)/i.exec(scope)?.[1];
}

/**
 * Assigns built-in roles to a managed identity. `principalType` is set so ARM does not
 * look the new identity up in Entra, which fails while it is still replicating. The role
 * definition is named in the scope's own subscription (a subscriber's queue may live in
 * another one), which is also the form ARM stores.
 */
export function grantRoles(
  namePrefix: string,
  principalId: pulumi.Input<string>,
  grants: readonly RoleGrant[],
  opts: pulumi.CustomResourceOptions,
): authorization.RoleAssignment[] {
  const subscriptionId = authorization.getClientConfigOutput({
    parent: opts.parent,
  }).subscriptionId;
  return grants.map((grant) => {
    const definitionId = pulumi
      .all([grant.scope, subscriptionId])
      .apply(([scope, current]) => roleDefinitionId(subscriptionOf(scope) ?? current, grant.role));
    return new authorization.RoleAssignment(
      `${namePrefix}-${grant.target}-${grant.role}`,
      {
        roleAssignmentName: pulumi
          .all([grant.scope, principalId, definitionId])
          .apply(([scope, principal, definition]) =>
            roleAssignmentName(scope, principal, definition),
          ),
        principalId,
        principalType: authorization.PrincipalType.ServicePrincipal,
        roleDefinitionId: definitionId,
        scope: grant.scope,
        description: grant.reason,
      },
      opts,
    );
  });
}
