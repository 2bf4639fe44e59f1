/**
 * Outcome events as directdrop publishes them (docs/events.md's schema and examples),
 * one per kind, for the receiver's and the example backend's tests, and how Event Grid
 * delivers them to a webhook in the CloudEvents schema.
 */
import { createHash } from 'node:crypto';
import type {
  CallerIdentity,
  UploadDeletedEvent,
  UploadFailedEvent,
  UploadOutcomeEvent,
  UploadProcessedEvent,
  UploadRejectedEvent,
} from '../../receiver/src/index';

export const SOURCE = 'urn:directdrop:dev';
export const CALLER: CallerIdentity = {
  kind: 'oidc',
  issuer: 'https://login.example.com/tenant/v2.0',
  subject: 'user-1',
};

/** The server's id scheme: sha256(type, uploadId, eTag or 'deleted'), 32 hex. */
export function eventId(type: string, uploadId: string, version: string): string {
  return createHash('sha256')
    .update(JSON.stringify([type, uploadId, version]))
    .digest('hex')
    .slice(0, 32);
}

/** A version's output folder in the processed container: 32 hex, unguessable from the upload id. */
const FOLDER = '5d41402abc4b2a76b9719d911017c592';

interface Overrides {
  uploadId?: string;
  caller?: CallerIdentity;
  metadata?: Record<string, string>;
  time?: string;
}

function envelope<T extends UploadOutcomeEvent['type']>(type: T, uploadId: string, time: string) {
  return {
    specversion: '1.0' as const,
    type,
    source: SOURCE,
    id: eventId(type, uploadId, type.endsWith('deleted') ? 'deleted' : '0x8DCF00D2A1B3C4D'),
    subject: `uploads/${uploadId}`,
    time,
    datacontenttype: 'application/json' as const,
  };
}

export function processedEvent(o: Overrides = {}): UploadProcessedEvent {
  const uploadId = o.uploadId ?? '3f2b8c1e-9d4a-4b6f-8e2a-1c3d5e7f9a0b';
  const time = o.time ?? '2026-12-01T18:00:07.512Z';
  return {
    ...envelope('directdrop.upload.processed', uploadId, time),
    data: {
      uploadId,
      status: 'processed',
      outputs: [
        {
          name: 'thumb',
          contentType: 'image/webp',
          size: 1234,
          width: 320,
          height: 213,
          blobPath: `processed/${FOLDER}/thumb.webp`,
        },
        {
          name: 'large',
          contentType: 'image/webp',
          size: 98765,
          width: 1600,
          height: 1067,
          blobPath: `processed/${FOLDER}/large.webp`,
        },
      ],
      original: { format: 'jpeg', size: 123456, width: 4032, height: 3024 },
      metadata: o.metadata ?? { postId: '42' },
      caller: o.caller ?? CALLER,
      issuedAt: '2026-12-01T18:00:00.000Z',
      uploadedAt: '2026-12-01T18:00:03.000Z',
      completedAt: time,
    },
  };
}

export function rejectedEvent(o: Overrides = {}): UploadRejectedEvent {
  const uploadId = o.uploadId ?? '8a1d2c3b-4e5f-4a6b-9c7d-0e1f2a3b4c5d';
  const time = o.time ?? '2026-12-01T18:01:02.000Z';
  return {
    ...envelope('directdrop.upload.rejected', uploadId, time),
    data: {
      uploadId,
      status: 'rejected',
      reason: 'malware',
      message: 'The malware scan found a threat in the file.',
      metadata: o.metadata ?? { postId: '42' },
      caller: o.caller ?? CALLER,
      issuedAt: '2026-12-01T18:00:30.000Z',
      uploadedAt: '2026-12-01T18:00:41.000Z',
      completedAt: time,
    },
  };
}

export function failedEvent(o: Overrides = {}): UploadFailedEvent {
  const uploadId = o.uploadId ?? 'c0ffee00-1234-4abc-8def-0123456789ab';
  const time = o.time ?? '2026-12-01T18:30:00.000Z';
  return {
    ...envelope('directdrop.upload.failed', uploadId, time),
    data: {
      uploadId,
      status: 'failed',
      reason: 'not-uploaded',
      message: 'Nothing was uploaded before the upload URL expired.',
      metadata: o.metadata ?? {},
      caller: o.caller ?? { kind: 'functionKey', keyName: 'default' },
      issuedAt: '2026-12-01T18:10:00.000Z',
      completedAt: time,
    },
  };
}

export function deletedEvent(o: Overrides = {}): UploadDeletedEvent {
  const uploadId = o.uploadId ?? '3f2b8c1e-9d4a-4b6f-8e2a-1c3d5e7f9a0b';
  const time = o.time ?? '2026-12-02T09:15:00.000Z';
  return {
    ...envelope('directdrop.upload.deleted', uploadId, time),
    data: {
      uploadId,
      status: 'deleted',
      metadata: o.metadata ?? { postId: '42' },
      caller: o.caller ?? CALLER,
      issuedAt: '2026-12-01T18:00:00.000Z',
      uploadedAt: '2026-12-01T18:00:03.000Z',
      completedAt: '2026-12-01T18:00:07.512Z',
      deletedAt: time,
    },
  };
}

export const EVERY_KIND = [processedEvent, rejectedEvent, failedEvent, deletedEvent] as const;

/** The request Event Grid sends to a webhook for one event in the CloudEvents schema. */
export function webhookDelivery(
  event: unknown,
  secret: string | undefined,
  extraHeaders: Record<string, string> = {},
): RequestInit {
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/cloudevents+json; charset=utf-8',
      'aeg-delivery-count': '0',
      'aeg-subscription-name': 'OUTCOMES-WEBHOOK-0',
      ...(secret === undefined ? {} : { 'x-directdrop-webhook-secret': secret }),
      ...extraHeaders,
    },
    body: JSON.stringify(event),
  };
}

/** A batched delivery (a subscription with maxEventsPerBatch > 1). */
export function batchDelivery(events: unknown[], secret: string): RequestInit {
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/cloudevents-batch+json; charset=utf-8',
      'x-directdrop-webhook-secret': secret,
    },
    body: JSON.stringify(events),
  };
}
