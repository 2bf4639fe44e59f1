/**
 * Every trigger directdrop registers, on one screen: routes, auth levels, queues and
 * connections. `index.ts` hands these to the Azure Functions host; local mode's host
 * serves the very same list without Core Tools.
 */
import type { HttpHandler, HttpMethod, StorageQueueHandler, TimerHandler } from '@azure/functions';
import { STORAGE_CONNECTION, poisonQueueName } from './core/definitions';
import { SETTING_KEYS, httpAuthLevel } from './core/settings';
import { createUpload } from './handlers/create-upload';
import { getLimits } from './handlers/get-limits';
import { getOpenApiDocument } from './handlers/get-openapi';
import { getUploadStatus } from './handlers/get-upload-status';
import { deleteUpload } from './handlers/delete-upload';
import { listUploads } from './handlers/list-uploads';
import { processUploadEvent } from './handlers/process-upload';
import { recordPoisonedEvent } from './handlers/record-poisoned-event';
import { reprocessUpload } from './handlers/reprocess-upload';
import { sweep } from './handlers/sweep';
import { SWEEP_SCHEDULE } from './core/sweep';

export interface HttpRegistration {
  kind: 'http';
  name: string;
  methods: HttpMethod[];
  route: string;
  authLevel: 'anonymous' | 'function' | 'admin';
  handler: HttpHandler;
}

export interface QueueRegistration {
  kind: 'queue';
  name: string;
  /** A binding expression: `%SETTING%` resolves from app settings at startup. */
  queueName: string;
  connection: string;
  handler: StorageQueueHandler;
}

export interface TimerRegistration {
  kind: 'timer';
  name: string;
  /** NCRONTAB, six fields with seconds first, in UTC. */
  schedule: string;
  handler: TimerHandler;
}

export type FunctionRegistration = HttpRegistration | QueueRegistration | TimerRegistration;

const eventsQueue = `%${SETTING_KEYS.eventsQueue}%`;
const reprocessQueue = `%${SETTING_KEYS.reprocessQueue}%`;

/**
 * functionKey stacks let the host check keys; oidc and anonymous stacks must be reachable
 * without one, and the handlers check callers themselves. App settings are environment
 * variables before the worker loads this file, so the level follows the stack's auth mode.
 */
const authLevel = httpAuthLevel(process.env);

export const registrations: readonly FunctionRegistration[] = [
  {
    kind: 'http',
    name: 'createUpload',
    methods: ['POST'],
    route: 'uploads',
    authLevel,
    handler: createUpload,
  },
  {
    kind: 'http',
    name: 'listUploads',
    methods: ['GET'],
    route: 'uploads',
    authLevel,
    handler: listUploads,
  },
  {
    kind: 'http',
    name: 'getUploadStatus',
    methods: ['GET'],
    route: 'uploads/{uploadId}',
    authLevel,
    handler: getUploadStatus,
  },
  {
    kind: 'http',
    name: 'deleteUpload',
    methods: ['DELETE'],
    route: 'uploads/{uploadId}',
    authLevel,
    handler: deleteUpload,
  },
  {
    kind: 'http',
    name: 'getLimits',
    methods: ['GET'],
    route: 'limits',
    // Public by design: the same numbers every 413 and 415 states; pages read them before any upload.
    authLevel: 'anonymous',
    handler: getLimits,
  },
  {
    kind: 'http',
    name: 'getOpenApiDocument',
    methods: ['GET'],
    route: 'openapi.json',
    // The contract is public, like the limits it points to.
    authLevel: 'anonymous',
    handler: getOpenApiDocument,
  },
  {
    kind: 'queue',
    name: 'processUploadEvent',
    queueName: eventsQueue,
    connection: STORAGE_CONNECTION,
    handler: processUploadEvent,
  },
  {
    kind: 'queue',
    name: 'recordPoisonedEvent',
    queueName: poisonQueueName(eventsQueue),
    connection: STORAGE_CONNECTION,
    handler: recordPoisonedEvent,
  },
  {
    kind: 'queue',
    // Fed only by the operator's reprocess command; its handler caps its own concurrency.
    name: 'reprocessUpload',
    queueName: reprocessQueue,
    connection: STORAGE_CONNECTION,
    handler: reprocessUpload,
  },
  {
    kind: 'timer',
    // Removes what outlived its use: tombstones, leftovers, URLs that expired unused.
    name: 'sweep',
    schedule: SWEEP_SCHEDULE,
    handler: sweep,
  },
];
