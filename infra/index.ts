/**
 * directdrop on Azure: upload storage, Event Grid to the events queue, the function app
 * on Flex Consumption with its code, and monitoring, for one stack's config.
 */
import * as pulumi from '@pulumi/pulumi';
import * as authorization from '@pulumi/azure-native/authorization';
import * as resources from '@pulumi/azure-native/resources';
import * as random from '@pulumi/random';
import { STORAGE_NAMES } from '../functions/core/definitions';
import { SETTING_KEYS, dropZoneContainer, toAppSettings } from '../functions/core/settings';
import { Alerts } from './alerts';
import { BlobEvents } from './blob-events';
import { CostBudget } from './budget';
import { loadConfig } from './config';
import { FunctionApp } from './function-app';
import { MalwareScanning, scanResultsTopicId } from './malware-scanning';
import { buildFunctionPackage, describeFunctionPackage } from './function-package';
import { queueHostOverrides } from './host-json';
import { Monitoring } from './monitoring';
import { UploadStorage } from './upload-storage';

const config = loadConfig();
const tags = { app: 'directdrop', stack: pulumi.getStack(), environment: config.environment };
const placement = { location: config.location, tags };

const resourceGroup = new resources.ResourceGroup(`directdrop-${pulumi.getStack()}`, placement);
const inGroup = { ...placement, resourceGroupName: resourceGroup.name };

const uploads = new UploadStorage('uploads', {
  ...inGroup,
  allowedCorsOrigins: config.allowedCorsOrigins,
  landingContainer: config.app.landingContainer,
  processedContainer: config.app.processedContainer,
  deadLetterContainer: STORAGE_NAMES.deadLetterContainer,
  eventsQueue: config.app.eventsQueue,
  quotaTable: config.app.uploadTable,
  dropZones: config.app.dropZones,
  reprocessQueue: config.app.reprocessQueue,
  uploadRetentionDays: config.retention.uploadDays,
  deadLetterRetentionDays: config.retention.deadLetterDays,
  processedRetentionDays: config.retention.processedDays,
  originals: config.app.keepOriginals
    ? {
        containerName: config.app.originalsContainer,
        retentionDays: config.retention.originalsDays,
      }
    : undefined,
});

const blobEvents = new BlobEvents('uploads', {
  ...inGroup,
  storageAccountId: uploads.accountId,
  landingContainer: config.app.landingContainer,
  dropZoneContainers: config.app.dropZones.map((zone) => dropZoneContainer(zone.name)),
  eventsQueueName: uploads.eventsQueueName,
  deadLetterContainerName: uploads.deadLetterContainerName,
});

const monitoring = new Monitoring('monitoring', {
  ...inGroup,
  logRetentionDays: config.retention.logDays,
});

const functionPackage = config.functionPackagePath
  ? describeFunctionPackage(config.functionPackagePath)
  : buildFunctionPackage({ nodeVersion: config.functionApp.nodeVersion });

// The results topic is named after the (globally unique) upload account, and its ID is
// known before it exists, so the app can be told which topic to believe.
const scanTopicName = pulumi.interpolate`${uploads.accountName}-scan-results`;
const scanTopicSetting = config.malwareScanning.enabled
  ? {
      [SETTING_KEYS.scanResultsTopic]: scanResultsTopicId(
        authorization.getClientConfigOutput().subscriptionId,
        resourceGroup.name,
        scanTopicName,
      ),
    }
  : {};

// The owner-hash key, generated once per stack and kept as a Pulumi secret (encrypted in state).
const ownerKey = new random.RandomPassword('owner-key', { length: 48, special: false });

const functionApp = new FunctionApp('directdrop', {
  ...inGroup,
  ...config.functionApp,
  uploads,
  ownerKey: ownerKey.result,
  appSettings: {
    ...toAppSettings(config.app),
    ...queueHostOverrides(config.queue),
    ...scanTopicSetting,
  },
  appInsights: {
    id: monitoring.appInsightsId,
    connectionString: monitoring.appInsightsConnectionString,
  },
  allowedCorsOrigins: config.allowedCorsOrigins,
  functionPackage,
});

const alerts = new Alerts('alerts', {
  ...inGroup,
  ...config.alerts,
  appInsightsId: monitoring.appInsightsId,
  eventGridSystemTopicId: blobEvents.systemTopicId,
  uploadAccountId: uploads.accountId,
});

new CostBudget('budget', {
  resourceGroupId: resourceGroup.id,
  monthlyAmount: config.budget.monthlyAmount,
  emails: config.alerts.emails,
  actionGroupId: alerts.actionGroupId,
});

const malwareScanning = config.malwareScanning.enabled
  ? new MalwareScanning('uploads', {
      ...inGroup,
      storageAccountId: uploads.accountId,
      blobServiceUri: uploads.blobServiceUri,
      landingContainer: config.app.landingContainer,
      topicName: scanTopicName,
      eventsQueueName: uploads.eventsQueueName,
      deadLetterContainerName: uploads.deadLetterContainerName,
      capGBPerMonth: config.malwareScanning.capGBPerMonth,
      appPrincipalId: functionApp.principalId,
      systemTopic: blobEvents,
    })
  : undefined;

export const resourceGroupName = resourceGroup.name;
export const apiBaseUrl = functionApp.apiBaseUrl;
export const functionAppName = functionApp.name;
export const uploadStorageAccountName = uploads.accountName;
export const landingContainer = uploads.landingContainerName;
export const processedContainer = uploads.processedContainerName;
export const deadLetterContainer = uploads.deadLetterContainerName;
export const eventsQueue = uploads.eventsQueueName;
export const reprocessQueue = uploads.reprocessQueueName;
export const poisonQueue = uploads.poisonQueueName;
export const appInsightsName = monitoring.appInsightsName;
export const functionPackageSha256 = functionPackage.sha256;
export const scanResultsTopic = malwareScanning?.topicName;
/** For `npx directdrop dropzone-url`: export DIRECTDROP_DROP_ZONES="$(pulumi stack output dropZones --json)". */
export const dropZones = config.app.dropZones;
export const uploadBlobEndpoint = uploads.blobServiceUri;
