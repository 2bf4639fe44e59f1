/**
 * directdrop on Azure for one stack's config: upload storage, Event Grid to the events queue,
 * the outcome topic and its subscribers, the function app on Flex Consumption with its code,
 * monitoring, alerts and the cost budget. A function, so tests can build stacks from several
 * configs; infra/index.ts runs it once with the stack's own.
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
import type { InfraConfig } from './config';
import { FunctionApp } from './function-app';
import { MalwareScanning, scanResultsTopicId } from './malware-scanning';
import { buildFunctionPackage, describeFunctionPackage } from './function-package';
import { queueHostOverrides } from './host-json';
import { Monitoring } from './monitoring';
import { OutcomeEvents, eventSourceOf } from './outcome-events';
import { UploadStorage } from './upload-storage';

export function deployStack(config: InfraConfig, stack: string = pulumi.getStack()) {
  const tags = { app: 'directdrop', stack, environment: config.environment };
  const placement = { location: config.location, tags };

  const resourceGroup = new resources.ResourceGroup(`directdrop-${stack}`, placement);
  const inGroup = { ...placement, resourceGroupName: resourceGroup.name };
  const zoneContainers = config.app.dropZones.map((zone) => dropZoneContainer(zone.name));

  const uploads = new UploadStorage('uploads', {
    ...inGroup,
    allowedCorsOrigins: config.allowedCorsOrigins,
    landingContainer: config.app.landingContainer,
    processedContainer: config.app.processedContainer,
    deadLetterContainer: STORAGE_NAMES.deadLetterContainer,
    eventsQueue: config.app.eventsQueue,
    uploadTable: config.app.uploadTable,
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
    dropZoneContainers: zoneContainers,
    eventsQueueName: uploads.eventsQueueName,
    deadLetterContainerName: uploads.deadLetterContainerName,
  });

  // Named after the (globally unique) upload account, as the scan results topic is.
  const outcomeEvents = new OutcomeEvents('outcomes', {
    ...inGroup,
    topicName: pulumi.interpolate`${uploads.accountName}-outcomes`,
    storageAccountId: uploads.accountId,
    deadLetterContainerName: uploads.deadLetterContainerName,
    subscribers: config.outcomes.subscribers,
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
  // Last, so that the empty defaults from toAppSettings cannot replace them.
  const outcomeSettings = {
    [SETTING_KEYS.outcomeTopicEndpoint]: outcomeEvents.topicEndpoint,
    [SETTING_KEYS.eventSource]: eventSourceOf(stack),
  };

  // The owner-hash key, generated once per stack and kept as a Pulumi secret (encrypted in state).
  const ownerKey = new random.RandomPassword('owner-key', { length: 48, special: false });

  const functionApp = new FunctionApp('directdrop', {
    ...inGroup,
    ...config.functionApp,
    uploads,
    outcomeTopicId: outcomeEvents.topicId,
    ownerKey: ownerKey.result,
    appSettings: {
      ...toAppSettings(config.app),
      ...queueHostOverrides(config.queue),
      ...scanTopicSetting,
      ...outcomeSettings,
    },
    appInsights: {
      id: monitoring.appInsightsId,
      connectionString: monitoring.appInsightsConnectionString,
    },
    allowedCorsOrigins: config.allowedCorsOrigins,
    functionPackage,
  });

  const malwareScanning = config.malwareScanning.enabled
    ? new MalwareScanning('uploads', {
        ...inGroup,
        storageAccountId: uploads.accountId,
        blobServiceUri: uploads.blobServiceUri,
        watchedContainers: [config.app.landingContainer, ...zoneContainers],
        topicName: scanTopicName,
        eventsQueueName: uploads.eventsQueueName,
        deadLetterContainerName: uploads.deadLetterContainerName,
        capGBPerMonth: config.malwareScanning.capGBPerMonth,
        systemTopic: blobEvents,
      })
    : undefined;

  const alerts = new Alerts('alerts', {
    ...inGroup,
    emails: config.alerts.emails,
    failureRatePercent: config.alerts.failureRatePercent,
    backlogAgeMinutes: config.alerts.backlogAgeMinutes,
    usedCapacityGiB: config.alerts.usedCapacityGiB,
    scanFailurePercent: malwareScanning ? config.alerts.scanFailurePercent : undefined,
    appInsightsId: monitoring.appInsightsId,
    workspaceId: monitoring.workspaceId,
    blobEventsTopicId: blobEvents.systemTopicId,
    scanResultsTopicId: malwareScanning?.topicId,
    outcomeTopicId: outcomeEvents.topicId,
    uploadAccountId: uploads.accountId,
  });

  if (config.budget.monthlyAmount > 0) {
    new CostBudget('budget', {
      resourceGroupId: resourceGroup.id,
      monthlyAmount: config.budget.monthlyAmount,
      emails: config.alerts.emails,
      actionGroupId: alerts.actionGroupId,
      // Depending on a component waits for all its children: the budget comes last.
      after: [
        uploads,
        blobEvents,
        outcomeEvents,
        monitoring,
        functionApp,
        alerts,
        ...(malwareScanning ? [malwareScanning] : []),
      ],
    });
  }

  return {
    resourceGroupName: resourceGroup.name,
    apiBaseUrl: functionApp.apiBaseUrl,
    functionAppName: functionApp.name,
    uploadStorageAccountName: uploads.accountName,
    landingContainer: uploads.landingContainerName,
    processedContainer: uploads.processedContainerName,
    deadLetterContainer: uploads.deadLetterContainerName,
    eventsQueue: uploads.eventsQueueName,
    reprocessQueue: uploads.reprocessQueueName,
    poisonQueue: uploads.poisonQueueName,
    appInsightsName: monitoring.appInsightsName,
    functionPackageSha256: functionPackage.sha256,
    scanResultsTopic: malwareScanning?.topicName,
    outcomeTopic: outcomeEvents.topicName,
    outcomeTopicEndpoint: outcomeEvents.topicEndpoint,
    dropZones: config.app.dropZones,
    uploadBlobEndpoint: uploads.blobServiceUri,
  };
}
