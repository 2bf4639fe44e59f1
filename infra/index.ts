/**
 * The Pulumi program: this stack's config, validated, deployed by infra/stack.ts, and the
 * outputs operators and scripts read (`pulumi stack output`).
 */
import { loadConfig } from './config';
import { deployStack } from './stack';

const outputs = deployStack(loadConfig());

export const resourceGroupName = outputs.resourceGroupName;
export const apiBaseUrl = outputs.apiBaseUrl;
export const functionAppName = outputs.functionAppName;
export const uploadStorageAccountName = outputs.uploadStorageAccountName;
export const landingContainer = outputs.landingContainer;
export const processedContainer = outputs.processedContainer;
export const deadLetterContainer = outputs.deadLetterContainer;
export const eventsQueue = outputs.eventsQueue;
export const reprocessQueue = outputs.reprocessQueue;
export const poisonQueue = outputs.poisonQueue;
export const appInsightsName = outputs.appInsightsName;
export const functionPackageSha256 = outputs.functionPackageSha256;
export const scanResultsTopic = outputs.scanResultsTopic;
/** The outcome topic subscribers are added to (also with `az eventgrid event-subscription create`). */
export const outcomeTopic = outputs.outcomeTopic;
export const outcomeTopicEndpoint = outputs.outcomeTopicEndpoint;
/** For `npx directdrop dropzone-url`: export DIRECTDROP_DROP_ZONES="$(pulumi stack output dropZones --json)". */
export const dropZones = outputs.dropZones;
export const uploadBlobEndpoint = outputs.uploadBlobEndpoint;
