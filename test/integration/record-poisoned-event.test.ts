import { expect } from 'chai';
import { recordPoisonedEventHandler } from '../../functions/handlers/record-poisoned-event';
import { processUploadEventHandler } from '../../functions/handlers/process-upload';
import { getUploadStatusHandler } from '../../functions/handlers/get-upload-status';
import type { Runtime } from '../../functions/adapters/runtime';
import { functionKeyOwner } from '../../functions/core/auth';
import { landingBlobName } from '../../functions/core/upload-request';
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
    const uploadId = crypto.randomUUID();
    const photo = await sidewaysPhotoWithGps(400, 300);
    const blobName = landingBlobName(functionKeyOwner(), uploadId, {
      fileName: 'p.jpg',
      size: photo.length,
    });
    await runtime.landing.getBlockBlobClient(blobName).uploadData(photo);
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

  it('lets a redelivered event retry a failed upload', async () => {
    const { uploadId, event } = await landedEvent();
    await recordPoisonedEvent(event, invocationContext('recordPoisonedEvent'));
    await processUploadEvent(event, invocationContext('processUploadEvent'));
    expect((await statusOf(uploadId)).status).to.equal('processed');
  });

  it('logs a poisoned message that holds no upload instead of throwing', async () => {
    const log: LoggedLine[] = [];
    await recordPoisonedEvent('garbage', invocationContext('recordPoisonedEvent', log));
    expect(log.map((line) => line.level)).to.deep.equal(['warning']);
    expect(log[0].text).to.contain('holds no upload');
  });
});
