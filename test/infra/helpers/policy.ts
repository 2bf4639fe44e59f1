/**
 * Policy rules checked against every resource a program registers, the way a policy
 * pack would: no broad Azure roles, no public containers, no storage account keys.
 */
import type { RecordedResource } from './pulumi-mocks';

/** Roles that can change anything, or grant anything; least privilege never needs them. */
export const PRIVILEGED_ROLES: Record<string, string> = {
  '8e3af657-a8ff-443c-a75c-2fe8c4bcb635': 'Owner',
  'b24988ac-6180-42a0-ab88-20f7382dd24c': 'Contributor',
  '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9': 'User Access Administrator',
  'f58310d9-a9f6-439a-9e8d-f62e7b41a168': 'Role Based Access Control Administrator',
};

export function policyViolations(resources: readonly RecordedResource[]): string[] {
  const violations: string[] = [];
  for (const { type, name, inputs } of resources) {
    if (type === 'azure-native:authorization:RoleAssignment') {
      const roleGuid = String(inputs.roleDefinitionId).split('/').pop() ?? '';
      if (PRIVILEGED_ROLES[roleGuid])
        violations.push(`${name} assigns ${PRIVILEGED_ROLES[roleGuid]}`);
    }
    if (type === 'azure-native:storage:BlobContainer' && inputs.publicAccess !== 'None') {
      violations.push(
        `${name} does not set publicAccess None (got ${String(inputs.publicAccess)})`,
      );
    }
    if (type === 'azure-native:storage:StorageAccount') {
      if (inputs.allowSharedKeyAccess !== false)
        violations.push(`${name} allows shared key access`);
      if (inputs.allowBlobPublicAccess !== false)
        violations.push(`${name} allows public blob access`);
    }
  }
  return violations;
}
