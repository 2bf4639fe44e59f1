/**
 * The function app on Flex Consumption (FC1, Linux): its own host storage, a system
 * identity holding only the roles the functions use, identity-based app settings,
 * and the code deployment.
 */
import * as pulumi from '@pulumi/pulumi';
import * as command from '@pulumi/command';
import * as authorization from '@pulumi/azure-native/authorization';
import * as storage from '@pulumi/azure-native/storage';
import * as web from '@pulumi/azure-native/web';
import { STORAGE_CONNECTION } from '../functions/core/definitions';
import type { FunctionPackage } from './function-package';
import { type RoleGrant, containerScope, grantRoles, queueScope } from './roles';
import { createSecureStorageAccount } from './secure-storage-account';

export interface FunctionAppArgs {
  resourceGroupName: pulumi.Input<string>;
  location: pulumi.Input<string>;
  nodeVersion: string;
  maximumInstanceCount: number;
  instanceMemoryMB: number;
  /** The upload account the functions read and write through `STORAGE_CONNECTION`. */
  uploads: {
    accountId: pulumi.Input<string>;
    blobServiceUri: pulumi.Input<string>;
    queueServiceUri: pulumi.Input<string>;
    landingContainerName: pulumi.Input<string>;
    processedContainerName: pulumi.Input<string>;
    /** Present when the stack keeps originals. */
    originalsContainerName?: pulumi.Input<string>;
    eventsQueueName: pulumi.Input<string>;
    poisonQueueName: pulumi.Input<string>;
    /** The reprocess queue and its poison queue (docs/reprocessing.md). */
    reprocessQueueName?: pulumi.Input<string>;
    reprocessPoisonQueueName?: pulumi.Input<string>;
  };
  /** Names and limits the functions read (`toAppSettings`) plus host.json overrides. */
  appSettings: Record<string, string>;
  appInsights: { id: pulumi.Input<string>; connectionString: pulumi.Input<string> };
  /** Origins whose pages may call the HTTP API from a browser. */
  allowedCorsOrigins: string[];
  functionPackage: FunctionPackage;
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** Container in the host account Flex pulls the package from. */
export const DEPLOYMENT_CONTAINER = 'app-package';

export class FunctionApp extends pulumi.ComponentResource {
  readonly name: pulumi.Output<string>;
  readonly defaultHostName: pulumi.Output<string>;
  /** Base URL of the HTTP API, e.g. https://<app>.azurewebsites.net/api. */
  readonly apiBaseUrl: pulumi.Output<string>;
  readonly principalId: pulumi.Output<string>;
  readonly hostStorageAccountName: pulumi.Output<string>;

  constructor(name: string, args: FunctionAppArgs, opts?: pulumi.ComponentResourceOptions) {
    super('directdrop:index:FunctionApp', name, {}, opts);
    const child = { parent: this };
    const placement = {
      resourceGroupName: args.resourceGroupName,
      location: args.location,
      tags: args.tags,
    };

    // Host storage (leases, keys, the deployment package) stays apart from the upload data.
    const hostAccount = createSecureStorageAccount(`${name}host`, placement, child);
    const deploymentContainer = new storage.BlobContainer(
      `${name}-${DEPLOYMENT_CONTAINER}`,
      {
        resourceGroupName: args.resourceGroupName,
        accountName: hostAccount.name,
        containerName: DEPLOYMENT_CONTAINER,
        publicAccess: storage.PublicAccess.None,
      },
      child,
    );

    const plan = new web.AppServicePlan(
      `${name}-plan`,
      {
        ...placement,
        kind: 'functionapp',
        reserved: true,
        sku: { name: 'FC1', tier: 'FlexConsumption' },
      },
      child,
    );

    const app = new web.WebApp(
      name,
      {
        ...placement,
        kind: 'functionapp,linux',
        serverFarmId: plan.id,
        httpsOnly: true,
        identity: { type: web.ManagedServiceIdentityType.SystemAssigned },
        siteConfig: {
          appSettings: toNameValuePairs(appSettings(args, hostAccount.name)),
          cors: { allowedOrigins: args.allowedCorsOrigins },
          minTlsVersion: web.SupportedTlsVersions.SupportedTlsVersions_1_2,
          ftpsState: web.FtpsState.Disabled,
        },
        functionAppConfig: {
          deployment: {
            storage: {
              type: web.FunctionsDeploymentStorageType.BlobContainer,
              value: pulumi.interpolate`${hostAccount.primaryEndpoints.blob}${deploymentContainer.name}`,
              authentication: { type: web.AuthenticationType.SystemAssignedIdentity },
            },
          },
          runtime: { name: web.RuntimeName.Node, version: args.nodeVersion },
          scaleAndConcurrency: {
            maximumInstanceCount: args.maximumInstanceCount,
            instanceMemoryMB: args.instanceMemoryMB,
          },
        },
      },
      child,
    );
    const principalId = app.identity.apply((identity) => {
      if (!identity?.principalId)
        throw new Error('The function app has no system-assigned identity');
      return identity.principalId;
    });

    const { uploads } = args;
    const grants: RoleGrant[] = [
      {
        role: 'storageBlobDataOwner',
        target: 'host-account',
        scope: hostAccount.id,
        reason:
          "Functions host storage and deployment package (Microsoft's Flex template grants the same)",
      },
      {
        role: 'storageBlobDataContributor',
        target: 'landing',
        scope: containerScope(uploads.accountId, uploads.landingContainerName),
        reason:
          'Read uploads and delete rejected ones; a user delegation SAS to create them needs this too',
      },
      {
        role: 'storageBlobDataContributor',
        target: 'processed',
        scope: containerScope(uploads.accountId, uploads.processedContainerName),
        reason: 'Write variants and manifests, and back the read SAS on them',
      },
      ...(uploads.originalsContainerName
        ? [
            {
              role: 'storageBlobDataContributor' as const,
              target: 'originals',
              scope: containerScope(uploads.accountId, uploads.originalsContainerName),
              reason: 'Keep validated originals for reprocessing (never served)',
            },
          ]
        : []),
      {
        role: 'storageBlobDelegator',
        target: 'upload-account',
        scope: uploads.accountId,
        reason: 'Get user delegation keys, an account-level operation, to sign upload and read SAS',
      },
      ...queueTriggerGrants('events-queue', queueScope(uploads.accountId, uploads.eventsQueueName)),
      ...queueTriggerGrants('poison-queue', queueScope(uploads.accountId, uploads.poisonQueueName)),
      {
        role: 'storageQueueDataMessageSender',
        target: 'poison-queue',
        scope: queueScope(uploads.accountId, uploads.poisonQueueName),
        reason:
          'The Functions host moves a message that failed maxDequeueCount times to the poison queue',
      },
      ...(uploads.reprocessQueueName && uploads.reprocessPoisonQueueName
        ? [
            ...queueTriggerGrants(
              'reprocess-queue',
              queueScope(uploads.accountId, uploads.reprocessQueueName),
            ),
            {
              role: 'storageQueueDataMessageSender' as const,
              target: 'reprocess-poison-queue',
              scope: queueScope(uploads.accountId, uploads.reprocessPoisonQueueName),
              reason: 'The Functions host moves a work item that failed maxDequeueCount times here',
            },
          ]
        : []),
      {
        role: 'monitoringMetricsPublisher',
        target: 'app-insights',
        scope: args.appInsights.id,
        reason: 'Send telemetry with Entra auth (local auth is disabled)',
      },
    ];
    const roleAssignments = grantRoles(name, principalId, grants, child);

    // Code deployment. Flex has one documented path: One Deploy (/api/publish) writes the zip
    // to the deployment container and restarts the app. `az functionapp deployment source
    // config-zip` uses it (confirmed for Flex by Microsoft in Azure/Azure-Functions#2496).
    // azure-native has no onedeploy resource, and a storage.Blob cannot be written to an
    // account without shared keys (pulumi/pulumi-azure-native#2015). `triggers` re-runs the
    // command exactly when the package hash changes (or a new app or package path appears).
    const { subscriptionId } = authorization.getClientConfigOutput({ parent: this });
    new command.local.Command(
      `${name}-deploy-code`,
      {
        // --subscription: the one Pulumi deploys to, whatever az's own default is.
        create: pulumi.interpolate`az functionapp deployment source config-zip --subscription "${subscriptionId}" --resource-group "${args.resourceGroupName}" --name "${app.name}" --src "${args.functionPackage.zipPath}"`,
        triggers: [args.functionPackage.sha256],
      },
      // The app writes the package with its identity: the host storage role must exist first.
      { ...child, dependsOn: roleAssignments },
    );

    this.name = app.name;
    this.defaultHostName = app.defaultHostName;
    this.apiBaseUrl = pulumi.interpolate`https://${app.defaultHostName}/api`;
    this.principalId = principalId;
    this.hostStorageAccountName = hostAccount.name;
    this.registerOutputs({
      name: this.name,
      defaultHostName: this.defaultHostName,
      apiBaseUrl: this.apiBaseUrl,
      principalId: this.principalId,
      hostStorageAccountName: this.hostStorageAccountName,
    });
  }
}

/** Microsoft's documented roles for a queue trigger: Reader plus Message Processor. */
function queueTriggerGrants(target: string, scope: pulumi.Input<string>): RoleGrant[] {
  return [
    {
      role: 'storageQueueDataReader',
      target,
      scope,
      reason: 'Queue trigger: peek messages and read queue length',
    },
    {
      role: 'storageQueueDataMessageProcessor',
      target,
      scope,
      reason: 'Queue trigger: receive and delete messages',
    },
  ];
}

/**
 * Identity-based connections only: no account keys, no connection strings with secrets.
 * Runtime, version and scale live in functionAppConfig; Flex rejects FUNCTIONS_WORKER_RUNTIME,
 * FUNCTIONS_EXTENSION_VERSION, WEBSITE_RUN_FROM_PACKAGE and the other settings they replace.
 */
function appSettings(
  args: FunctionAppArgs,
  hostAccountName: pulumi.Output<string>,
): Record<string, pulumi.Input<string>> {
  return {
    // As Microsoft's Flex template: the host derives its blob, queue and table endpoints.
    AzureWebJobsStorage__accountName: hostAccountName,
    AzureWebJobsStorage__credential: 'managedidentity',
    [`${STORAGE_CONNECTION}__blobServiceUri`]: args.uploads.blobServiceUri,
    [`${STORAGE_CONNECTION}__queueServiceUri`]: args.uploads.queueServiceUri,
    [`${STORAGE_CONNECTION}__credential`]: 'managedidentity',
    APPLICATIONINSIGHTS_CONNECTION_STRING: args.appInsights.connectionString,
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD',
    // Fewer glibc malloc arenas: 6-21 % more images/s and 4-28 % less peak memory with sharp
    // in docs/performance.md's pipeline-options run. glibc reads it at process start only.
    MALLOC_ARENA_MAX: '2',
    ...args.appSettings,
  };
}

function toNameValuePairs(settings: Record<string, pulumi.Input<string>>) {
  return Object.entries(settings)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => ({ name, value }));
}
