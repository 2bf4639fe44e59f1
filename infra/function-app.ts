/**
 * The function app on Flex Consumption (FC1, Linux): its own host storage, a user-assigned
 * identity holding only the roles the functions use, identity-based app settings, basic
 * publishing credentials off (each written to the site after the other), and the code
 * deployment.
 */
import { relative } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import * as command from '@pulumi/command';
import * as authorization from '@pulumi/azure-native/authorization';
import * as managedidentity from '@pulumi/azure-native/managedidentity';
import * as storage from '@pulumi/azure-native/storage';
import * as web from '@pulumi/azure-native/web';
import { STORAGE_CONNECTION, WORKER_PROCESS_ENV } from '../functions/core/definitions';
import type { NodeVersion } from './config';
import { OWNER_KEY_SETTING, SETTING_KEYS } from '../functions/core/settings';
import type { FunctionPackage } from './function-package';
import { type RoleGrant, containerScope, grantRoles, queueScope, tableScope } from './roles';
import { createSecureStorageAccount } from './secure-storage-account';

export interface FunctionAppArgs {
  resourceGroupName: pulumi.Input<string>;
  location: pulumi.Input<string>;
  nodeVersion: NodeVersion;
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
    tableServiceUri: pulumi.Input<string>;
    uploadTableName: pulumi.Input<string>;
    dropZoneContainerNames?: pulumi.Input<string>[];
    /** The reprocess queue and its poison queue (docs/reprocessing.md). */
    reprocessQueueName?: pulumi.Input<string>;
    reprocessPoisonQueueName?: pulumi.Input<string>;
  };
  /** The Event Grid topic the app publishes outcome events to (infra/outcome-events.ts). */
  outcomeTopicId: pulumi.Input<string>;
  /** Key of the owner hash (a generated secret); see OWNER_KEY_SETTING. */
  ownerKey: pulumi.Input<string>;
  /** Names and limits the functions read (`toAppSettings`) plus host.json overrides. */
  appSettings: Record<string, pulumi.Input<string>>;
  appInsights: { id: pulumi.Input<string>; connectionString: pulumi.Input<string> };
  /** Origins whose pages may call the HTTP API from a browser. */
  allowedCorsOrigins: string[];
  functionPackage: FunctionPackage;
  /** How long the code deploy retries what is transient (roles propagating, 404, 409, 429, 5xx, resets). */
  deployRetryMinutes: number;
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** Container in the host account Flex pulls the package from. */
export const DEPLOYMENT_CONTAINER = 'app-package';

/** The deploy script, relative to the project root (the command provider's working directory). */
export const DEPLOY_SCRIPT = 'scripts/deploy-function-package.ts';

/**
 * The only siteConfig properties sent. azure-native adds `netFrameworkVersion: "v4.6"`,
 * `http20Enabled` and `localMySqlEnabled` to any siteConfig (types/input.js
 * siteConfigArgsProvideDefaults), and Flex refuses NetFrameworkVersion, FtpsState,
 * Use32BitWorkerProcess and FunctionsRuntimeScaleMonitoringEnabled with error 51021 in newer
 * regions, West Europe included (pulumi-azure-native#4168, azure-pipelines-tasks#21032,
 * terraform-azurerm-avm-res-web-site#360). Microsoft's Flex templates send only alwaysOn and
 * put app settings in their own config resource, as done here.
 */
export const FLEX_SITE_CONFIG_KEYS = ['cors', 'minTlsVersion'] as const;

/** Drops what the SDK injected into siteConfig; runs in-process, so mocks see its result. */
const sendOnlyFlexSiteConfig: pulumi.ResourceTransformation = ({ props, opts }) => ({
  props: {
    ...props,
    siteConfig: pulumi
      .output(props.siteConfig as pulumi.Input<Record<string, unknown>>)
      .apply((siteConfig) =>
        Object.fromEntries(
          Object.entries(siteConfig).filter(([key]) =>
            (FLEX_SITE_CONFIG_KEYS as readonly string[]).includes(key),
          ),
        ),
      ),
  },
  opts,
});

export class FunctionApp extends pulumi.ComponentResource {
  readonly name: pulumi.Output<string>;
  readonly defaultHostName: pulumi.Output<string>;
  /** Base URL of the HTTP API, e.g. https://<app>.azurewebsites.net/api. */
  readonly apiBaseUrl: pulumi.Output<string>;
  /** The app's (user-assigned) identity, which every role here is granted to. */
  readonly principalId: pulumi.Output<string>;
  readonly clientId: pulumi.Output<string>;
  readonly hostStorageAccountName: pulumi.Output<string>;

  constructor(name: string, args: FunctionAppArgs, opts?: pulumi.ComponentResourceOptions) {
    super('directdrop:index:FunctionApp', name, {}, opts);
    const child = { parent: this };
    const placement = {
      resourceGroupName: args.resourceGroupName,
      location: args.location,
      tags: args.tags,
    };

    // As Microsoft's azd Flex quickstarts: a user-assigned identity, created and granted its
    // roles before the app exists, so the app's first start and first deploy find them.
    const identity = new managedidentity.UserAssignedIdentity(`${name}-identity`, placement, child);

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

    const { uploads } = args;
    const queueTrigger = (target: string, queueName: pulumi.Input<string>): RoleGrant => ({
      role: 'storageQueueDataContributor',
      target,
      scope: queueScope(uploads.accountId, queueName),
      reason:
        'Queue trigger: receive, delete and release (Update Message) messages, and the host moving one to the poison queue',
    });
    const grants: RoleGrant[] = [
      // Host storage as Microsoft's Flex IaC/bicep/rbac.bicep (Azure-Samples/azure-functions-
      // flex-consumption-samples, a2cf9c4), whose main.bicep says what each service is for: blob
      // "for AzureWebJobsStorage, .zip deployment, Event Hubs trigger and Timer trigger
      // checkpointing" (keys, leases, timer schedules, the package), table "for Durable
      // Functions, OpenAI triggers and bindings, and diagnostic logs" (the host's diagnostic
      // events), queue "for Durable Functions, MCP trigger, and other triggers". This app's
      // queue triggers read the upload account through DirectdropStorage, and nothing else here
      // uses host queues, so the host gets no queue role (that sample revision makes queue and
      // table opt-in, `enableQueue`/`enableTable` default false).
      {
        role: 'storageBlobDataOwner',
        target: 'host-account',
        scope: hostAccount.id,
        reason:
          "Functions host storage: keys, leases, timer schedules and the deployment package (Microsoft's Flex rbac.bicep)",
      },
      {
        role: 'storageTableDataContributor',
        target: 'host-account',
        scope: hostAccount.id,
        reason: "Functions host diagnostic events table (Microsoft's Flex rbac.bicep)",
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
      queueTrigger('events-queue', uploads.eventsQueueName),
      queueTrigger('poison-queue', uploads.poisonQueueName),
      ...(uploads.dropZoneContainerNames ?? []).map((containerName, index): RoleGrant => ({
        role: 'storageBlobDataContributor',
        target: `dropzone-${index}`,
        scope: containerScope(uploads.accountId, containerName),
        reason:
          'Read dropped blobs to process them, tombstone them once recorded, and sweep old ones',
      })),
      {
        role: 'storageTableDataContributor',
        target: 'upload-table',
        scope: tableScope(uploads.accountId, uploads.uploadTableName),
        reason:
          'Read and conditionally update quota counters, upload records and each owner upload index',
      },
      {
        role: 'eventGridDataSender',
        target: 'outcome-topic',
        scope: args.outcomeTopicId,
        reason: "Publish upload outcome events to the stack's outcome topic (local auth is off)",
      },
      ...(uploads.reprocessQueueName && uploads.reprocessPoisonQueueName
        ? [
            queueTrigger('reprocess-queue', uploads.reprocessQueueName),
            queueTrigger('reprocess-poison-queue', uploads.reprocessPoisonQueueName),
          ]
        : []),
      {
        role: 'monitoringMetricsPublisher',
        target: 'app-insights',
        scope: args.appInsights.id,
        reason: 'Send telemetry with Entra auth (local auth is disabled)',
      },
    ];
    const roleAssignments = grantRoles(name, identity.principalId, grants, child);

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
        identity: {
          type: web.ManagedServiceIdentityType.UserAssigned,
          userAssignedIdentities: [identity.id],
        },
        siteConfig: {
          // The platform's CORS takes origins only (CorsSettings: allowedOrigins and
          // supportCredentials; no exposed headers, as Azure/azure-mobile-apps-node#323 also
          // found), so the function itself sends Access-Control-Expose-Headers for RateLimit-*.
          // App Service warns its CORS "takes precedence" over the app's own CORS code
          // (app-service-web-tutorial-rest-api): whether that header survives is unverified here.
          cors: { allowedOrigins: args.allowedCorsOrigins },
          minTlsVersion: web.SupportedTlsVersions.SupportedTlsVersions_1_2,
        },
        functionAppConfig: {
          deployment: {
            storage: {
              type: web.FunctionsDeploymentStorageType.BlobContainer,
              value: pulumi.interpolate`${hostAccount.primaryEndpoints.blob}${deploymentContainer.name}`,
              authentication: {
                type: web.AuthenticationType.UserAssignedIdentity,
                userAssignedIdentityResourceId: identity.id,
              },
            },
          },
          runtime: { name: web.RuntimeName.Node, version: args.nodeVersion },
          scaleAndConcurrency: {
            maximumInstanceCount: args.maximumInstanceCount,
            instanceMemoryMB: args.instanceMemoryMB,
          },
        },
      },
      { ...child, dependsOn: roleAssignments, transformations: [sendOnlyFlexSiteConfig] },
    );
    const onApp = { name: app.name, resourceGroupName: args.resourceGroupName };

    // Each write to the site waits for the previous one: App Service may answer 409 Conflict to
    // concurrent updates of one site, which azure-native would otherwise send all at once.
    const settings = new web.WebAppApplicationSettings(
      `${name}-app-settings`,
      {
        ...onApp,
        properties: appSettings(args, hostAccount.name, identity.clientId, app.defaultHostName),
      },
      child,
    );
    // No basic (password) publishing credentials: deploys and Kudu use Entra tokens.
    const scmPolicy = new web.WebAppScmAllowed(
      `${name}-scm-basic-auth`,
      { ...onApp, allow: false },
      { ...child, dependsOn: [settings] },
    );
    const ftpPolicy = new web.WebAppFtpAllowed(
      `${name}-ftp-basic-auth`,
      { ...onApp, allow: false },
      { ...child, dependsOn: [scmPolicy] },
    );

    // Code deployment. Flex has one documented path: One Deploy (/api/publish) writes the zip
    // to the deployment container and restarts the app; `az functionapp deployment source
    // config-zip` uses it (Azure/Azure-Functions#2496). azure-native has no onedeploy resource.
    // The script gets an argument array (no shell: pulumi-command#271); paths are relative
    // to the project root so a moved checkout changes no input, and `triggers` re-runs the
    // deploy exactly when the package hash changes.
    const { subscriptionId } = authorization.getClientConfigOutput({ parent: this });
    new command.local.Command(
      `${name}-deploy-code`,
      {
        interpreter: [
          'node',
          '--import',
          'tsx',
          DEPLOY_SCRIPT,
          '--subscription',
          subscriptionId,
          '--resource-group',
          args.resourceGroupName,
          '--name',
          app.name,
          '--src',
          relativeToProject(args.functionPackage.zipPath),
          '--retry-for',
          String(args.deployRetryMinutes * 60),
        ],
        create: `--sha256=${args.functionPackage.sha256}`,
        triggers: [args.functionPackage.sha256],
      },
      // After the last site write, which restarts the app: One Deploy would race it.
      { ...child, dependsOn: [ftpPolicy, ...roleAssignments] },
    );

    this.name = app.name;
    this.defaultHostName = app.defaultHostName;
    this.apiBaseUrl = apiBaseUrlOf(app.defaultHostName);
    this.principalId = identity.principalId;
    this.clientId = identity.clientId;
    this.hostStorageAccountName = hostAccount.name;
    this.registerOutputs({
      name: this.name,
      defaultHostName: this.defaultHostName,
      apiBaseUrl: this.apiBaseUrl,
      principalId: this.principalId,
      clientId: this.clientId,
      hostStorageAccountName: this.hostStorageAccountName,
    });
  }
}

/** The HTTP API as clients reach it: the app's default host name (no custom domain here). */
function apiBaseUrlOf(defaultHostName: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.interpolate`https://${defaultHostName}/api`;
}

/** Forward slashes on every OS: the same input from a Windows and a Linux checkout. */
function relativeToProject(path: string): string {
  return relative(process.cwd(), path).split('\\').join('/');
}

/**
 * Identity-based connections only: no account keys, no connection strings with secrets.
 * Runtime, version and scale live in functionAppConfig; Flex rejects FUNCTIONS_WORKER_RUNTIME,
 * FUNCTIONS_EXTENSION_VERSION, WEBSITE_RUN_FROM_PACKAGE and the other settings they replace.
 */
function appSettings(
  args: FunctionAppArgs,
  hostAccountName: pulumi.Output<string>,
  clientId: pulumi.Output<string>,
  defaultHostName: pulumi.Output<string>,
): Record<string, pulumi.Input<string>> {
  return {
    // As Microsoft's Flex templates: the host derives its blob, queue and table endpoints;
    // `__clientId` picks the user-assigned identity (functions-reference, common properties).
    AzureWebJobsStorage__accountName: hostAccountName,
    AzureWebJobsStorage__credential: 'managedidentity',
    AzureWebJobsStorage__clientId: clientId,
    [`${STORAGE_CONNECTION}__blobServiceUri`]: args.uploads.blobServiceUri,
    [`${STORAGE_CONNECTION}__queueServiceUri`]: args.uploads.queueServiceUri,
    [`${STORAGE_CONNECTION}__tableServiceUri`]: args.uploads.tableServiceUri,
    // A generated secret (infra/index.ts): it only pseudonymises owners, and grants access to nothing.
    [OWNER_KEY_SETTING]: args.ownerKey,
    [`${STORAGE_CONNECTION}__credential`]: 'managedidentity',
    [`${STORAGE_CONNECTION}__clientId`]: clientId,
    APPLICATIONINSIGHTS_CONNECTION_STRING: args.appInsights.connectionString,
    // The azd quickstart's form for a user-assigned identity.
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: pulumi.interpolate`ClientId=${clientId};Authorization=AAD`,
    ...WORKER_PROCESS_ENV,
    ...args.appSettings,
    // The API base URL clients reach, from which statusUrl is built (never from a request's
    // Host header); last, so the empty default from toAppSettings cannot replace it.
    [SETTING_KEYS.publicBaseUrl]: apiBaseUrlOf(defaultHostName),
  };
}
