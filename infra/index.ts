/**
 * directdrop on Azure: upload storage, Event Grid to the events queue, the function app
 * on Flex Consumption with its code, and monitoring, for one stack's config.
 */
import * as pulumi from '@pulumi/pulumi';
import * as resources from '@pulumi/azure-native/resources';
import { STORAGE_NAMES } from '../functions/core/definitions';
import { toAppSettings } from '../functions/core/settings';
import { BlobEvents } from './blob-events';
import { loadConfig } from './config';
import { FunctionApp } from './function-app';
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

new BlobEvents('uploads', {
  ...inGroup,
  storageAccountId: uploads.accountId,
  landingContainer: config.app.landingContainer,
  eventsQueueName: uploads.eventsQueueName,
  deadLetterContainerName: uploads.deadLetterContainerName,
});

const monitoring = new Monitoring('monitoring', {
  ...inGroup,
  logRetentionDays: config.retention.logDays,
});

const functionPackage = config.functionPackagePath
  ? describeFunctionPackage(config.functionPackagePath)
  : buildFunctionPackage();

const functionApp = new FunctionApp('directdrop', {
  ...inGroup,
  ...config.functionApp,
  uploads,
  appSettings: { ...toAppSettings(config.app), ...queueHostOverrides(config.queue) },
  appInsights: {
    id: monitoring.appInsightsId,
    connectionString: monitoring.appInsightsConnectionString,
  },
  allowedCorsOrigins: config.allowedCorsOrigins,
  functionPackage,
});

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
