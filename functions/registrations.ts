/**
 * Every trigger directdrop registers, on one screen: routes, auth levels, queues and
 * connections. `index.ts` hands these to the Azure Functions host; local mode's host
 * serves the very same list without Core Tools.
 */
import type { HttpHandler, HttpMethod, StorageQueueHandler } from '@azure/functions';
import { STORAGE_CONNECTION, poisonQueueName } from './core/definitions';
import { SETTING_KEYS } from './core/settings';
import { createUpload } from './handlers/create-upload';
import { getUploadStatus } from './handlers/get-upload-status';
import { processUploadEvent } from './handlers/process-upload';
import { recordPoisonedEvent } from './handlers/record-poisoned-event';
import { reprocessUpload } from './handlers/reprocess-upload';

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

export type FunctionRegistration = HttpRegistration | QueueRegistration;

const eventsQueue = `%${SETTING_KEYS.eventsQueue}%`;
const reprocessQueue = `%${SETTING_KEYS.reprocessQueue}%`;

export const registrations: readonly FunctionRegistration[] = [
  {
    kind: 'http',
    name: 'createUpload',
    methods: ['POST'],
    route: 'uploads',
    // Callers present a function key (x-functions-key); put your own auth in front for end users.
    authLevel: 'function',
    handler: createUpload,
  },
  {
    kind: 'http',
    name: 'getUploadStatus',
    methods: ['GET'],
    route: 'uploads/{uploadId}',
    authLevel: 'function',
    handler: getUploadStatus,
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
];
