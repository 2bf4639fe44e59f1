/**
 * Built-in Azure role definitions directdrop assigns, and one way to assign them:
 * to a managed identity (a service principal), at an explicit, narrow scope.
 */
import * as pulumi from '@pulumi/pulumi';
import * as authorization from '@pulumi/azure-native/authorization';

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
  /** Read blobs only; the app's access to drop zone containers (built-in roles reference). */
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1',
  /** Peek and read queue messages; half of what a queue trigger needs. */
  storageQueueDataReader: '19e7f393-937e-4f77-808e-94535e297925',
  /** Receive and delete queue messages; the other half of a queue trigger. */
  storageQueueDataMessageProcessor: '8a0f0c08-91a1-4084-bc3d-661d67233fed',
  /** Add queue messages: Event Grid delivery, and the host moving a message to `-poison`. */
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a',
  /** Read and write entities; assigned on the quota table alone. */
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
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

/**
 * Assigns built-in roles to a managed identity. `principalType` is set so ARM does not
 * look the new identity up in Entra, which fails while it is still replicating.
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
  return grants.map(
    (grant) =>
      new authorization.RoleAssignment(
        `${namePrefix}-${grant.target}-${grant.role}`,
        {
          principalId,
          principalType: authorization.PrincipalType.ServicePrincipal,
          roleDefinitionId: subscriptionId.apply((id) => roleDefinitionId(id, grant.role)),
          scope: grant.scope,
          description: grant.reason,
        },
        opts,
      ),
  );
}
