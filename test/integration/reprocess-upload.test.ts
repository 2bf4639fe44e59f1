import { expect } from 'chai';
import sharp from 'sharp';
import { QueueServiceClient } from '@azure/storage-queue';
import type { Runtime } from '../../functions/adapters/runtime';
import { readManifest } from '../../functions/adapters/manifest-store';
import { STORAGE_CONNECTION, blobSubjectPrefix } from '../../functions/core/definitions';
import type { UploadManifest } from '../../functions/core/manifest';
import { variantSetHash } from '../../functions/core/reprocess';
import { SETTING_KEYS, type VariantSpec } from '../../functions/core/settings';
import { createUploadHandler } from '../../functions/handlers/create-upload';
import { processUploadEventHandler } from '../../functions/handlers/process-upload';
import { reprocessUploadHandler } from '../../functions/handlers/reprocess-upload';
import { type AzuriteSandbox, startAzuriteSandbox } from '../../local/azurite-sandbox';
import { blobCreatedEvent } from '../helpers/events';
import { type LoggedLine, invocationContext, runtimeFor } from '../helpers/functions';
import { sidewaysPhotoWithGps } from '../helpers/images';
import { issueAndPut } from '../helpers/uploads';

const NEW_VARIANTS: VariantSpec[] = [
  { name: 'small', width: 200, format: 'jpeg', quality: 70 },
  { name: 'medium', width: 500, format: 'avif', quality: 50 },
  { name: 'large', width: 800, format: 'webp', quality: 80 },
];

type Processed = Extract<UploadManifest, { status: 'processed' }>;

describe('reprocess-upload (against Azurite)', function () {
  this.timeout(60_000);
  let fixture: AzuriteSandbox;
  let oldStack: Runtime;
  let newStack: Runtime;
  const log: LoggedLine[] = [];

  before(async () => {
    fixture = await startAzuriteSandbox();
    const keeping = { ...fixture.env, [SETTING_KEYS.keepOriginals]: 'true' };
    oldStack = runtimeFor(keeping);
    newStack = runtimeFor({ ...keeping, [SETTING_KEYS.variants]: JSON.stringify(NEW_VARIANTS) });
  });
  after(() => fixture.stop());

  /** An upload processed with the default variants, by the real handlers. */
  async function processedUpload(runtime = oldStack): Promise<{ id: string; manifest: Processed }> {
    const { uploadId, blobName } = await issueAndPut(
      createUploadHandler(() => runtime),
      await sidewaysPhotoWithGps(1200, 900),
    );
    await processUploadEventHandler(() => runtime)(
      await blobCreatedEvent(runtime.landing, blobName),
      invocationContext('processUploadEvent'),
    );
    return { id: uploadId, manifest: await manifestOf(uploadId) };
  }

  async function manifestOf(uploadId: string): Promise<Processed> {
    const manifest = (await readManifest(oldStack.processed, uploadId))?.manifest;
    if (manifest?.status !== 'processed') throw new Error(`not processed: ${manifest?.status}`);
    return manifest;
  }

  async function blobsIn(folder: string): Promise<string[]> {
    const names: string[] = [];
    for await (const blob of oldStack.processed.listBlobsFlat({ prefix: `${folder}/` }))
      names.push(blob.name);
    return names.sort();
  }

  async function allBlobs(runtime: Runtime, container: 'landing' | 'processed' | 'originals') {
    const names: string[] = [];
    for await (const blob of runtime[container].listBlobsFlat())
      names.push(`${blob.name} ${blob.properties.etag}`);
    return names.sort();
  }

  const reprocess = (item: unknown, runtime = newStack) =>
    reprocessUploadHandler(() => runtime)(item, invocationContext('reprocessUpload', log));
  const newSet = variantSetHash(NEW_VARIANTS);

  it('rebuilds the variants into a new folder, switches the manifest, deletes the old outputs and touches nothing else', async () => {
    const { id, manifest: old } = await processedUpload();
    expect(old.variantSet).to.equal(variantSetHash(oldStack.settings.variants));
    const oldBlobs = await blobsIn(old.outputPrefix);
    expect(oldBlobs).to.have.length(2);
    const landingBefore = await allBlobs(newStack, 'landing');
    const originalsBefore = await allBlobs(newStack, 'originals');
    const processedBefore = new Set(await allBlobs(newStack, 'processed'));
    const queues = QueueServiceClient.fromConnectionString(fixture.env[STORAGE_CONNECTION]);
    const events = queues.getQueueClient(newStack.settings.eventsQueue);
    await events.createIfNotExists();

    await reprocess({ uploadId: id, variantSet: newSet });

    const manifest = await manifestOf(id);
    expect(manifest.variantSet).to.equal(newSet);
    expect(manifest.outputPrefix).not.to.equal(old.outputPrefix);
    expect(manifest.replacedOutputPrefix).to.equal(old.outputPrefix);
    expect(manifest.source).to.deep.equal(old.source);
    expect(manifest.originalBlobName).to.equal(old.originalBlobName);
    expect(manifest.completedAt).to.equal(old.completedAt);
    expect(manifest.outputs.map((o) => [o.name, o.width, o.height, o.contentType])).to.deep.equal([
      ['small', 200, 267, 'image/jpeg'],
      ['medium', 500, 667, 'image/avif'],
      ['large', 800, 1067, 'image/webp'],
    ]);
    for (const output of manifest.outputs) {
      const bytes = await newStack.processed.getBlobClient(output.blobName).downloadToBuffer();
      const meta = await sharp(bytes).metadata();
      expect([meta.width, meta.height, bytes.length], output.name).to.deep.equal([
        output.width,
        output.height,
        output.size,
      ]);
    }
    expect(await blobsIn(old.outputPrefix), 'old outputs').to.deep.equal([]);

    // Only the processed container changed, and no Event Grid subscription watches it.
    expect(await allBlobs(newStack, 'landing')).to.deep.equal(landingBefore);
    expect(await allBlobs(newStack, 'originals')).to.deep.equal(originalsBefore);
    const landingSubjects = blobSubjectPrefix(newStack.settings.landingContainer);
    const written = (await allBlobs(newStack, 'processed')).filter((b) => !processedBefore.has(b));
    expect(written.length).to.equal(5); // three outputs, the folder's pointer and the manifest
    for (const entry of written) {
      const subject = `${blobSubjectPrefix(newStack.settings.processedContainer)}${entry.split(' ')[0]}`;
      expect(subject.startsWith(landingSubjects), subject).to.equal(false);
    }
    expect(
      (await events.peekMessages({ numberOfMessages: 32 })).peekedMessageItems,
      'events queued',
    ).to.have.length(0);
  });

  it('is a no-op the second time, and for an item whose variant set is not the stack’s', async () => {
    const { id } = await processedUpload();
    await reprocess({ uploadId: id, variantSet: newSet });
    const once = await readManifest(newStack.processed, id);
    const blobs = await allBlobs(newStack, 'processed');

    await reprocess({ uploadId: id, variantSet: newSet });
    // Enqueued under the old variants, delivered after they changed: it must not undo the switch.
    await reprocess({ uploadId: id, variantSet: variantSetHash(oldStack.settings.variants) });
    // And the old stack's worker cannot act on an item for the new set.
    await reprocess({ uploadId: id, variantSet: newSet }, oldStack);

    expect((await readManifest(newStack.processed, id))?.eTag).to.equal(once?.eTag);
    expect(await allBlobs(newStack, 'processed')).to.deep.equal(blobs);
    expect(
      log.some((l) => l.text.includes(`Upload ${id}: variant set ${newSet} is current`)),
    ).to.equal(true);
  });

  it('finishes the clean-up a crash between the switch and the delete left', async () => {
    const { id, manifest: old } = await processedUpload();
    await reprocess({ uploadId: id, variantSet: newSet });
    // As if the worker died after the manifest switched, before the old folder went.
    await newStack.processed
      .getBlockBlobClient(`${old.outputPrefix}/thumb.webp`)
      .uploadData(Buffer.from('x'));
    await reprocess({ uploadId: id, variantSet: newSet });
    expect(await blobsIn(old.outputPrefix)).to.deep.equal([]);
    expect((await manifestOf(id)).outputs).to.have.length(3);
  });

  it('deletes a folder an unfinished switch left behind when the next variant set replaces the manifest', async () => {
    const { id, manifest: old } = await processedUpload();
    // The switch to the new set, as if its clean-up of the old folder never ran (and never will:
    // its work item was used up).
    await reprocess({ uploadId: id, variantSet: newSet });
    await newStack.processed
      .getBlockBlobClient(`${old.outputPrefix}/thumb.webp`)
      .uploadData(Buffer.from('x'));
    const switched = await manifestOf(id);
    const thirdVariants: VariantSpec[] = [
      { name: 'only', width: 100, format: 'webp', quality: 60 },
    ];
    const third = runtimeFor({
      ...fixture.env,
      [SETTING_KEYS.keepOriginals]: 'true',
      [SETTING_KEYS.variants]: JSON.stringify(thirdVariants),
    });
    await reprocess({ uploadId: id, variantSet: variantSetHash(thirdVariants) }, third);

    const latest = await manifestOf(id);
    expect(latest.outputs.map((o) => o.name)).to.deep.equal(['only']);
    expect(await blobsIn(old.outputPrefix), 'the folder the first switch left').to.deep.equal([]);
    expect(await blobsIn(switched.outputPrefix), 'the folder just replaced').to.deep.equal([]);
    expect(await blobsIn(latest.outputPrefix)).to.have.length(1);
  });

  it('skips an upload processed without a kept original, and records a missing original as a failure', async () => {
    const plain = runtimeFor(fixture.env);
    const { id: withoutOriginal, manifest: untouched } = await processedUpload(plain);
    expect(untouched.originalBlobName).to.equal(undefined);
    await reprocess({ uploadId: withoutOriginal, variantSet: newSet });
    expect(await manifestOf(withoutOriginal)).to.deep.equal(untouched);
    expect(log.some((l) => l.text === `Upload ${withoutOriginal}: skipped (no-original)`)).to.equal(
      true,
    );

    const { id, manifest: old } = await processedUpload();
    const original = oldStack.originals.getBlockBlobClient(old.originalBlobName as string);
    const kept = await original.downloadToBuffer();
    await original.delete();
    await reprocess({ uploadId: id, variantSet: newSet, run: 'aaaaaaaaaaaaaaaa' });
    const failed = await manifestOf(id);
    expect(failed.reprocessFailure).to.deep.include({
      variantSet: newSet,
      run: 'aaaaaaaaaaaaaaaa',
      reason: 'original-missing',
    });
    expect(failed.outputs).to.deep.equal(old.outputs);
    expect(await blobsIn(old.outputPrefix)).to.have.length(2);

    // A later run tries again, and once the cause is gone the failure goes with it.
    await original.uploadData(kept);
    await reprocess({ uploadId: id, variantSet: newSet, run: 'bbbbbbbbbbbbbbbb' });
    const fixed = await manifestOf(id);
    expect(fixed.variantSet).to.equal(newSet);
    expect(fixed).not.to.have.property('reprocessFailure');
  });

  it('drops malformed work items without touching storage', async () => {
    const blobs = await allBlobs(newStack, 'processed');
    for (const item of [
      'text',
      null,
      { uploadId: 'x', variantSet: newSet },
      { uploadId: crypto.randomUUID() },
    ])
      await reprocess(item);
    await reprocess({ uploadId: crypto.randomUUID(), variantSet: newSet });
    expect(await allBlobs(newStack, 'processed')).to.deep.equal(blobs);
    expect(log.filter((l) => l.text === 'Dropped a malformed reprocess work item')).to.have.length(
      4,
    );
  });
});
