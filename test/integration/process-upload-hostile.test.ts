/**
 * The hostile-file corpus through the real processing path: each file is uploaded through
 * an issued URL into Azurite, announced by a Base64 Event Grid queue message, processed by
 * the real handler, and must end in its expected terminal state. The same worker must then
 * still process a normal photo, with its memory growth bounded over the whole corpus.
 */
import { expect } from 'chai';
import sharp from 'sharp';
import { processUploadEventHandler } from '../../functions/handlers/process-upload';
import { getUploadStatusHandler } from '../../functions/handlers/get-upload-status';
import { createUploadHandler } from '../../functions/handlers/create-upload';
import type { Runtime } from '../../functions/adapters/runtime';
import { DEFAULT_SETTINGS } from '../../functions/core/settings';
import { encodeQueueMessage } from '../../local/event-grid-event';
import { decodeBase64Message, toHandlerPayload } from '../../local/queue-listener';
import { type AzuriteSandbox, startAzuriteSandbox } from '../../local/azurite-sandbox';
import { blobCreatedEvent } from '../helpers/events';
import { bodyOf, getStatus, invocationContext, runtimeFor } from '../helpers/functions';
import { HOSTILE_FILES, SCRIPT_MARKER } from '../helpers/hostile-files';
import { sidewaysPhotoWithGps } from '../helpers/images';
import { issueAndPut, processedBlobsOf } from '../helpers/uploads';

const MIB = 1024 * 1024;
/**
 * Peak RSS growth allowed over the corpus, which needs under 100 MiB. Decoding the
 * interlaced pixel bomb rather than refusing it grew RSS by 897 MiB when measured with the
 * pixel limit lifted (interlacing makes libvips hold all 900 MP at once), so a bomb that
 * got through the limit would fail here as well as by its reason.
 */
const RSS_GROWTH_BOUND = 256 * MIB;
/** Channel tolerance for colours that pass through JPEG, CMYK→sRGB and lossy WebP. */
const COLOUR_TOLERANCE = 30;

describe('process-upload: hostile files (against Azurite)', function () {
  this.timeout(120_000);
  let fixture: AzuriteSandbox;
  let runtime: Runtime;
  let processUploadEvent: ReturnType<typeof processUploadEventHandler>;
  let getUploadStatus: ReturnType<typeof getUploadStatusHandler>;
  let createUpload: ReturnType<typeof createUploadHandler>;
  const corpus = new Map<string, Buffer>();
  const handlerMs = new Map<string, number>();
  let baselineRss = 0;
  let baselineMaxRss = 0;
  let sampledPeakRss = 0;
  let sampler: NodeJS.Timeout | undefined;

  before(async () => {
    fixture = await startAzuriteSandbox();
    // The production defaults: 25 MiB, 50 MP, the default types and variants.
    runtime = runtimeFor(fixture.env);
    processUploadEvent = processUploadEventHandler(() => runtime);
    getUploadStatus = getUploadStatusHandler(() => runtime);
    createUpload = createUploadHandler(() => runtime);
    for (const hostile of HOSTILE_FILES) corpus.set(hostile.file, await hostile.make());
    // Warm the path once so first-use allocations (sharp, SDK, sockets) are not counted.
    await processPhoto();
    baselineRss = process.memoryUsage.rss();
    baselineMaxRss = process.resourceUsage().maxRSS * 1024;
    sampledPeakRss = baselineRss;
    sampler = setInterval(() => {
      sampledPeakRss = Math.max(sampledPeakRss, process.memoryUsage.rss());
    }, 5);
  });
  after(async () => {
    clearInterval(sampler);
    await fixture?.stop();
  });

  /** The queue message Event Grid writes, decoded as the queue extension hands it over. */
  async function deliver(blobName: string) {
    const message = encodeQueueMessage(await blobCreatedEvent(runtime.landing, blobName));
    const payload = toHandlerPayload(decodeBase64Message(message) ?? '');
    await processUploadEvent(payload, invocationContext('processUploadEvent'));
  }
  const status = async (uploadId: string) =>
    bodyOf(await getUploadStatus(getStatus(uploadId), invocationContext('getUploadStatus')));
  const blobsUnder = (uploadId: string) => processedBlobsOf(runtime.processed, uploadId);

  async function processPhoto() {
    const { uploadId, blobName } = await issueAndPut(createUpload, await sidewaysPhotoWithGps());
    await deliver(blobName);
    return status(uploadId);
  }

  it('generates a pixel bomb that is small on disk and enormous decoded', () => {
    const bomb = corpus.get('pixel-bomb.png')!;
    // IHDR is the first chunk: width and height right after its length and type.
    const pixels = bomb.readUInt32BE(16) * bomb.readUInt32BE(20);
    expect(bomb.length).to.be.below(200 * 1024);
    expect(pixels).to.be.above(10 * DEFAULT_SETTINGS.maxInputPixels);
  });

  for (const hostile of HOSTILE_FILES) {
    const { file, contentType, expected } = hostile;
    const outcome = expected.status === 'rejected' ? `rejected (${expected.reason})` : 'processed';
    it(`${file}: ${hostile.what} → ${outcome}`, async () => {
      const bytes = corpus.get(file)!;
      const { uploadId, blobName } = await issueAndPut(createUpload, bytes, {
        fileName: file,
        contentType,
        declaredSize: hostile.declaredSize?.(bytes),
      });
      const started = performance.now();
      await deliver(blobName);
      handlerMs.set(file, performance.now() - started);

      const body = await status(uploadId);
      if (expected.status === 'rejected') {
        expect(body, JSON.stringify(body)).to.include({
          status: 'rejected',
          reason: expected.reason,
        });
        expect(body.message).to.be.a('string').and.not.equal('');
        // A rejection leaves its manifest and nothing else.
        expect(await blobsUnder(uploadId)).to.deep.equal([`${uploadId}/manifest.json`]);
        return;
      }

      expect(body, JSON.stringify(body)).to.include({ status: 'processed' });
      expect(body.original).to.deep.equal({ ...expected.original, size: bytes.length });
      const outputs = body.outputs as Array<Record<string, unknown>>;
      expect(outputs.map((o) => o.name)).to.deep.equal(
        DEFAULT_SETTINGS.variants.map((v) => v.name),
      );
      if (expected.variants)
        expect(outputs.map((o) => [o.width, o.height])).to.deep.equal(expected.variants);
      // One blob per variant, the folder's pointer and the manifest: nothing else was written.
      expect(await blobsUnder(uploadId)).to.have.length(outputs.length + 2);
      for (const output of outputs) {
        const response = await fetch(output.url as string);
        expect(response.status).to.equal(200);
        const data = Buffer.from(await response.arrayBuffer());
        // Freshly encoded: none of the uploaded bytes' scripts or metadata survive.
        expect(data.includes(SCRIPT_MARKER), `${output.name} carries a script`).to.equal(false);
        const metadata = await sharp(data).metadata();
        expect([metadata.format, metadata.width, metadata.height, metadata.space]).to.deep.equal([
          'webp',
          output.width,
          output.height,
          'srgb',
        ]);
        expect(metadata.exif).to.equal(undefined);
        expect(metadata.icc).to.equal(undefined);
        expect(metadata.pages ?? 1, 'a still, not an animation').to.equal(1);
      }
      if (expected.topLeft) {
        const display = await fetch(outputs[outputs.length - 1].url as string);
        const pixel = await sharp(Buffer.from(await display.arrayBuffer()))
          .extract({ left: 0, top: 0, width: 1, height: 1 })
          .removeAlpha()
          .raw()
          .toBuffer();
        [...pixel].forEach((value, channel) =>
          expect(value, `channel ${channel}`).to.be.closeTo(
            expected.topLeft![channel],
            COLOUR_TOLERANCE,
          ),
        );
      }
    });
  }

  it('still processes a normal photo afterwards, in the same worker, with bounded memory', async () => {
    const body = await processPhoto();
    expect(body.status).to.equal('processed');
    clearInterval(sampler);

    // Sampling can miss a short spike; the lifetime peak cannot, and if it rose during the
    // corpus it is the corpus's peak.
    const maxRss = process.resourceUsage().maxRSS * 1024;
    const peak = Math.max(sampledPeakRss, maxRss > baselineMaxRss ? maxRss : 0);
    const boundingGrowth = peak - baselineRss;
    const slowest = [...handlerMs.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3);
    const mib = (bytes: number) => `${Math.round(bytes / MIB)} MiB`;
    console.log(
      `      hostile corpus: ${HOSTILE_FILES.length} files; RSS ${mib(baselineRss)} before, ` +
        `peak growth ${mib(boundingGrowth)} (sampled ${mib(sampledPeakRss - baselineRss)}, ` +
        `lifetime peak ${mib(maxRss)}); slowest handler runs: ` +
        slowest.map(([file, ms]) => `${file} ${Math.round(ms)} ms`).join(', '),
    );
    expect(boundingGrowth).to.be.below(RSS_GROWTH_BOUND);
  });
});
