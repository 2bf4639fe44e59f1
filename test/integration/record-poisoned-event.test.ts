import { expect } from 'chai';
import { recordPoisonedEventHandler } from '../../functions/handlers/record-poisoned-event';
import { processUploadEventHandler } from '../../functions/handlers/process-upload';
import { getUploadStatusHandler } from '../../functions/handlers/get-upload-status';
import type { Runtime } from '../../functions/adapters/runtime';
import { createUploadHandler } from '../../functions/handlers/create-upload';
import { PENDING_DEADLINE_MS, POISON_RECORD_ATTEMPTS } from '../../functions/core/definitions';
import { SETTING_KEYS } from '../../functions/core/settings';
import { rejection } from '../helpers/rejection';
import { type AzuriteSandbox, startAzuriteSandbox } from '../../local/azurite-sandbox';
import { blobCreatedEvent } from '../helpers/events';
import {
  type LoggedLine,
  bodyOf,
  getStatus,
  invocationContext,
  runtimeFor,
} from '../helpers/functions';
import { sidewaysPhotoWithGps } from '../helpers/images';
import { blobsNamed, issueAndPut } from '../helpers/uploads';

describe('record-poisoned-event (against Azurite)', () => {
  let fixture: AzuriteSandbox;
  let runtime: Runtime;
  let recordPoisonedEvent: ReturnType<typeof recordPoisonedEventHandler>;
  let processUploadEvent: ReturnType<typeof processUploadEventHandler>;
  let getUploadStatus: ReturnType<typeof getUploadStatusHandler>;

  before(async () => {
    fixture = await startAzuriteSandbox();
    runtime = runtimeFor(fixture.env);
    recordPoisonedEvent = recordPoisonedEventHandler(() => runtime);
    processUploadEvent = processUploadEventHandler(() => runtime);
    getUploadStatus = getUploadStatusHandler(() => runtime);
  });
  after(() => fixture.stop());

  async function landedEvent() {
    const { uploadId, blobName } = await issueAndPut(
      createUploadHandler(() => runtime),
      await sidewaysPhotoWithGps(400, 300),
    );
    return { uploadId, event: await blobCreatedEvent(runtime.landing, blobName) };
  }
  const statusOf = async (uploadId: string) =>
    bodyOf(await getUploadStatus(getStatus(uploadId), invocationContext('getUploadStatus')));

  it('records failed with a reason so the client learns the upload gave up', async () => {
    const { uploadId, event } = await landedEvent();
    await recordPoisonedEvent(event, invocationContext('recordPoisonedEvent'));
    expect(await statusOf(uploadId)).to.include({
      uploadId,
      status: 'failed',
      reason: 'processing-failed',
    });
  });

  it('never overrides an outcome that was reached after all', async () => {
    const { uploadId, event } = await landedEvent();
    await processUploadEvent(event, invocationContext('processUploadEvent'));
    await recordPoisonedEvent(event, invocationContext('recordPoisonedEvent'));
    expect((await statusOf(uploadId)).status).to.equal('processed');
  });

  it('tombstones the landing blob once failed is recorded, so a redelivered event changes nothing', async () => {
    const { uploadId, event } = await landedEvent();
    await recordPoisonedEvent(event, invocationContext('recordPoisonedEvent'));
    const blobName = event.subject.split('/blobs/')[1];
    expect(await blobsNamed(runtime.landing, blobName)).to.deep.equal(['tombstone']);
    await processUploadEvent(event, invocationContext('processUploadEvent'));
    expect((await statusOf(uploadId)).status).to.equal('failed');
  });

  it('records nothing for a poisoned event naming a version that does not exist', async () => {
    const { uploadId, event } = await landedEvent();
    await processUploadEvent(event, invocationContext('processUploadEvent'));
    const forged = {
      ...event,
      data: { ...event.data, eTag: '"0xFORGED"', sequencer: 'F'.repeat(32) },
    };
    await recordPoisonedEvent(forged, invocationContext('recordPoisonedEvent'));
    expect((await statusOf(uploadId)).status).to.equal('processed');
  });

  it('retries a failing record, then logs and drops it instead of looping forever', async () => {
    const { event } = await landedEvent();
    // A processed container that does not exist makes every manifest write fail.
    const broken = runtimeFor({
      ...fixture.env,
      [SETTING_KEYS.processedContainer]: 'no-such-container',
    });
    const record = recordPoisonedEventHandler(() => broken);
    await rejection(
      record(event, invocationContext('recordPoisonedEvent', [], { dequeueCount: 1 })),
      Error,
    );
    const log: LoggedLine[] = [];
    await record(
      event,
      invocationContext('recordPoisonedEvent', log, { dequeueCount: POISON_RECORD_ATTEMPTS }),
    );
    expect(log.map((line) => line.level)).to.deep.equal(['error']);
    expect(log[0].text).to.contain('dropped');
  });

  it('reports an upload that never got an outcome as failed once the pending deadline passes', async () => {
    const { uploadId } = await landedEvent();
    expect((await statusOf(uploadId)).status).to.equal('pending');
    const realNow = Date.now;
    Date.now = () => realNow() + PENDING_DEADLINE_MS + 60_000;
    try {
      expect(await statusOf(uploadId)).to.include({
        status: 'failed',
        reason: 'processing-failed',
      });
    } finally {
      Date.now = realNow;
    }
  });

  it('logs a poisoned message that holds no upload instead of throwing', async () => {
    const log: LoggedLine[] = [];
    await recordPoisonedEvent('garbage', invocationContext('recordPoisonedEvent', log));
    expect(log.map((line) => line.level)).to.deep.equal(['warning']);
    expect(log[0].text).to.contain('holds no upload');
  });
});
