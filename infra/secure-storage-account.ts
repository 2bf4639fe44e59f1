/**
 * The storage account baseline every directdrop account shares: Entra-only access,
 * nothing public, TLS 1.2 over HTTPS. Baseline from Microsoft's Flex Consumption
 * template (IaC/bicep), plus `defaultToOAuthAuthentication` so the portal uses Entra too.
 */
import * as pulumi from '@pulumi/pulumi';
import * as storage from '@pulumi/azure-native/storage';

export interface SecureStorageAccountArgs {
  resourceGroupName: pulumi.Input<string>;
  location: pulumi.Input<string>;
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * azure-native names the account `<name><8 random hex>` (no separator, case kept), and Azure
 * takes 3-24 lower-case letters and digits: so `name` must be those, at most 16 long.
 */
const ACCOUNT_NAME_PREFIX = /^[a-z0-9]{3,16}$/;

export function createSecureStorageAccount(
  name: string,
  args: SecureStorageAccountArgs,
  opts: pulumi.CustomResourceOptions,
): storage.StorageAccount {
  if (!ACCOUNT_NAME_PREFIX.test(name)) {
    throw new Error(
      `Storage account name prefix "${name}" must be 3-16 lower-case letters and digits`,
    );
  }
  return new storage.StorageAccount(
    name,
    {
      resourceGroupName: args.resourceGroupName,
      location: args.location,
      tags: args.tags,
      kind: storage.Kind.StorageV2,
      sku: { name: storage.SkuName.Standard_LRS },
      accessTier: storage.AccessTier.Hot,
      allowBlobPublicAccess: false,
      // No account keys: every caller, the Functions host and Event Grid included, uses Entra.
      allowSharedKeyAccess: false,
      defaultToOAuthAuthentication: true,
      allowCrossTenantReplication: false,
      minimumTlsVersion: storage.MinimumTlsVersion.TLS1_2,
      enableHttpsTrafficOnly: true,
      // Browsers upload from anywhere, so the network stays open; the SAS is the gate.
      networkRuleSet: {
        defaultAction: storage.DefaultAction.Allow,
        bypass: storage.Bypass.AzureServices,
      },
    },
    opts,
  );
}
