/**
 * The client library against a scripted API (a real HTTP server whose answers each
 * test chooses) and a real Azurite for the bytes: validation, retries, error typing,
 * polling, cancellation. The whole flow against local mode is in the integration tests.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { STORAGE_NAMES } from '../../functions/core/definitions';
import { type AzuriteSandbox, freePort, startAzuriteSandbox } from '../../local/azurite-sandbox';
import {
  type UploadProgress,
  type UploadTicket,
  fileSource,
  sendToStorage,
  startUpload,
  upload,
  uploadFile,
  uploadMany,
  waitForProcessing,
} from '../../client/src/node';
import { sdkTransport } from '../../client/src/sdk';
import { ScriptedApi, processed } from './client-scripted-api';
import { clientRejection } from '../helpers/rejection';

/** 3 MiB: big enough for many progress events and for three 1 MiB blocks. */
const photoBytes = Buffer.alloc(3 * 1024 * 1024, 7);
const jpegBytes = () =>
  new Uint8Array(Buffer.from('not really a jpeg, the scripted API does not look'));

describe('client library (scripted API, real Azurite)', function () {
  let storage: AzuriteSandbox;
  let api: ScriptedApi;
  let dir: string;

  before(async function () {
    storage = await startAzuriteSandbox();
    api = new ScriptedApi(storage);
    await api.start();
    dir = await mkdtemp(join(tmpdir(), 'directdrop-client-'));
    await writeFile(join(dir, 'photo.jpg'), photoBytes);
  });
  after(async function () {
    await api?.stop();
    await storage?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => api.reset());

  const landed = (ticketOrId: string, fileName: string) =>
    storage.service
      .getContainerClient(STORAGE_NAMES.landingContainer)
      .getBlobClient(`${ticketOrId}/${fileName}`);

  describe('local validation, before any request', function () {
    it('refuses an empty file', async function () {
      const error = await clientRejection(
        upload(new Uint8Array(0), { apiBaseUrl: api.baseUrl, fileName: 'a.jpg' }),
      );
      expect(error).to.include({ code: 'invalid-size', stage: 'validate' });
      expect(api.requests).to.have.length(0);
    });

    it('refuses a file above the limits given', async function () {
      const error = await clientRejection(
        upload(new Uint8Array(2048), {
          apiBaseUrl: api.baseUrl,
          fileName: 'a.jpg',
          limits: { maxBytes: 1024, allowedContentTypes: ['image/jpeg'] },
        }),
      );
      expect(error).to.include({ code: 'file-too-large', stage: 'validate' });
      expect(error.message).to.contain('2.0 KiB').and.contain('1.0 KiB');
      expect(api.requests).to.have.length(0);
    });

    it('checks against the limits the server advertises, read once', async function () {
      // Its own server: clients cache limits per API for a minute.
      const strict = new ScriptedApi(storage);
      await strict.start();
      try {
        strict.limits = {
          status: 200,
          json: {
            ...(strict.limits.json as object),
            maxBytes: 1000,
            allowedContentTypes: ['image/png'],
          },
        };
        const tooBig = await clientRejection(
          upload(new Uint8Array(2000), { apiBaseUrl: strict.baseUrl, fileName: 'a.png' }),
        );
        expect(tooBig).to.include({ code: 'file-too-large', stage: 'validate' });
        expect(tooBig.message).to.contain('the limit is 1000 B');
        const wrongType = await clientRejection(
          upload(new Uint8Array(10), { apiBaseUrl: strict.baseUrl, fileName: 'a.jpg' }),
        );
        expect(wrongType.message).to.contain('accepted types are image/png.');
        expect(strict.requests).to.have.length(0);
        expect(strict.limitsRequests).to.equal(1);
      } finally {
        await strict.stop();
      }
    });

    it('leaves the checks to the server when it does not advertise limits', async function () {
      const older = new ScriptedApi(storage);
      await older.start();
      try {
        older.limits = { status: 404, json: { error: { code: 'not-found' } } };
        older.onCreate = () => ({
          status: 413,
          json: { error: { code: 'file-too-large', message: 'Too large for this server.' } },
        });
        const error = await clientRejection(
          upload(new Uint8Array(10), { apiBaseUrl: older.baseUrl, fileName: 'a.jpg' }),
        );
        expect(error).to.include({ code: 'file-too-large', stage: 'request', status: 413 });
        expect(error.retryable).to.equal(false);
      } finally {
        await older.stop();
      }
    });

    it('refuses a type outside the allowed list, judged by the file name', async function () {
      const error = await clientRejection(
        upload(jpegBytes(), { apiBaseUrl: api.baseUrl, fileName: 'notes.txt' }),
      );
      expect(error).to.include({ code: 'content-type-not-allowed', stage: 'validate' });
      expect(error.message).to.contain('text/plain');
      expect(api.requests).to.have.length(0);
    });

    it('takes a Blob’s own type over its name', async function () {
      const blob = new Blob([jpegBytes()], { type: 'application/pdf' });
      const error = await clientRejection(
        upload(blob, { apiBaseUrl: api.baseUrl, fileName: 'photo.jpg' }),
      );
      expect(error).to.include({ code: 'content-type-not-allowed' });
    });

    for (const apiBaseUrl of ['not a url', 'ftp://example.com/api']) {
      it(`refuses apiBaseUrl "${apiBaseUrl}"`, async function () {
        const error = await clientRejection(upload(jpegBytes(), { apiBaseUrl, fileName: 'a.jpg' }));
        expect(error).to.include({ code: 'invalid-options', stage: 'request' });
      });
    }
  });

  describe('requesting the upload URL', function () {
    it('reports an unreachable API as a network error after retrying', async function () {
      const closedPort = await freePort();
      const started = Date.now();
      const error = await clientRejection(
        upload(jpegBytes(), {
          apiBaseUrl: `http://127.0.0.1:${closedPort}/api`,
          fileName: 'a.jpg',
        }),
      );
      expect(error).to.include({ code: 'network-error', stage: 'request', retryable: true });
      expect(error.message)
        .to.contain(`http://127.0.0.1:${closedPort}`)
        .and.contain('ECONNREFUSED');
      // Three attempts, 0.3 s and 0.9 s apart.
      expect(Date.now() - started).to.be.within(1_100, 5_000);
    });

    it('passes the server’s error code through and does not retry a 4xx', async function () {
      api.onCreate = () => ({
        status: 413,
        json: { error: { code: 'file-too-large', message: 'size must be at most 10 bytes.' } },
      });
      const error = await clientRejection(
        upload(jpegBytes(), { apiBaseUrl: api.baseUrl, fileName: 'a.jpg' }),
      );
      expect(error).to.include({
        code: 'file-too-large',
        status: 413,
        stage: 'request',
        message: 'size must be at most 10 bytes.',
      });
      expect(api.requests).to.have.length(1);
    });

    it('retries 503 and goes on once the API answers', async function () {
      let calls = 0;
      api.onCreate = (body) => {
        if (++calls < 3) return { status: 503, json: { error: { code: 'busy' } } };
        const reply = api.issue(body.fileName, body.contentType);
        api.statusReplies = [processed((reply.json as UploadTicket).uploadId)];
        return reply;
      };
      const result = await upload(jpegBytes(), { apiBaseUrl: api.baseUrl, fileName: 'a.jpg' });
      expect(calls).to.equal(3);
      expect(result.status).to.equal('processed');
    });

    it('hints at the base URL when the API path answers 404', async function () {
      const error = await clientRejection(
        upload(jpegBytes(), {
          apiBaseUrl: api.baseUrl.replace(/\/api$/, '/wrong'),
          fileName: 'a.jpg',
        }),
      );
      expect(error).to.include({ code: 'http-error', status: 404 });
      expect(error.message).to.contain('/api');
    });

    it('refuses a 201 that is not an upload ticket', async function () {
      api.onCreate = () => ({ status: 201, json: { hello: 'world' } });
      const error = await clientRejection(
        upload(jpegBytes(), { apiBaseUrl: api.baseUrl, fileName: 'a.jpg' }),
      );
      expect(error).to.include({ code: 'invalid-response', stage: 'request' });
    });

    it('sends the caller’s headers and the file facts to the API', async function () {
      api.onCreate = () => ({ status: 400, json: { error: { code: 'stop-here' } } });
      await clientRejection(
        upload(jpegBytes(), {
          apiBaseUrl: api.baseUrl,
          fileName: 'a.JPG',
          headers: { 'x-functions-key': 'k1' },
        }),
      );
      const [request] = api.requests;
      expect(request.headers['x-functions-key']).to.equal('k1');
      expect(JSON.parse(request.body)).to.deep.equal({
        fileName: 'a.JPG',
        contentType: 'image/jpeg',
        size: jpegBytes().byteLength,
      });
    });
  });

  describe('sending the bytes to storage', function () {
    it('uploads a file by path to Azurite with its content type and reports progress to 100 %', async function () {
      const path = join(dir, 'photo.jpg');
      const bytes = photoBytes;
      api.onCreate = (body) => {
        const reply = api.issue(body.fileName, body.contentType);
        api.statusReplies = [
          { status: 404, json: { error: { code: 'upload-not-found' } } },
          {
            status: 200,
            json: { uploadId: (reply.json as UploadTicket).uploadId, status: 'pending' },
          },
          processed((reply.json as UploadTicket).uploadId),
        ];
        return reply;
      };
      const events: UploadProgress[] = [];
      const result = await uploadFile(path, {
        apiBaseUrl: api.baseUrl,
        onProgress: (p) => events.push(p),
      });

      expect(result).to.include({
        status: 'processed',
        fileName: 'photo.jpg',
        alreadyUploaded: false,
      });
      expect(result.outputs[0]).to.include({ name: 'thumb', width: 320 });
      const props = await landed(result.uploadId, 'photo.jpg').getProperties();
      expect(props.contentLength).to.equal(bytes.length);
      expect(props.contentType).to.equal('image/jpeg');

      const stages = [...new Set(events.map((e) => e.stage))];
      expect(stages).to.deep.equal(['requesting', 'uploading', 'processing']);
      const uploading = events.filter((e) => e.stage === 'uploading').map((e) => e.loadedBytes);
      expect(uploading.length, 'byte-level progress from the streamed file').to.be.greaterThan(10);
      expect(uploading).to.deep.equal([...uploading].sort((a, b) => a - b));
      expect(events.at(-1)).to.include({
        percent: 100,
        loadedBytes: bytes.length,
        totalBytes: bytes.length,
      });
    });

    it('treats a refused second PUT of a landed blob as already uploaded', async function () {
      const ticket = api.ticket(randomUUID(), 'a.jpg', 'image/jpeg');
      const source = await fileSource(join(dir, 'photo.jpg'));
      const options = { apiBaseUrl: api.baseUrl };
      expect(await sendToStorage(ticket, source, 'image/jpeg', options)).to.deep.equal({
        alreadyUploaded: false,
      });
      api.statusReplies = [{ status: 200, json: { uploadId: ticket.uploadId, status: 'pending' } }];
      expect(await sendToStorage(ticket, source, 'image/jpeg', options)).to.deep.equal({
        alreadyUploaded: true,
      });
      // The create-only SAS kept the first bytes: nothing was overwritten.
      expect((await landed(ticket.uploadId, 'a.jpg').getProperties()).contentLength).to.equal(
        source.size,
      );
    });

    it('reports a refused PUT as upload-forbidden when the blob is not there', async function () {
      // A read-only SAS stands in for an expired or wrong upload URL.
      const ticket = api.ticket(randomUUID(), 'a.jpg', 'image/jpeg', 'r');
      api.statusReplies = [{ status: 404, json: { error: { code: 'upload-not-found' } } }];
      const error = await clientRejection(
        sendToStorage(ticket, await fileSource(join(dir, 'photo.jpg')), 'image/jpeg', {
          apiBaseUrl: api.baseUrl,
        }),
      );
      // A new upload URL would carry the same permissions: retrying cannot help.
      expect(error).to.include({
        code: 'upload-forbidden',
        stage: 'upload',
        status: 403,
        uploadId: ticket.uploadId,
        retryable: false,
      });
      expect(error.message).not.to.contain('sig=');
    });

    it('calls a PUT refused because its URL expired retryable: a new upload gets a new URL', async function () {
      const ticket = api.ticket(randomUUID(), 'a.jpg', 'image/jpeg', 'c', -60_000);
      api.statusReplies = [{ status: 404, json: { error: { code: 'upload-not-found' } } }];
      const error = await clientRejection(
        sendToStorage(ticket, await fileSource(join(dir, 'photo.jpg')), 'image/jpeg', {
          apiBaseUrl: api.baseUrl,
        }),
      );
      expect(error).to.include({ code: 'upload-forbidden', status: 403, retryable: true });
      expect(error.message).to.equal(
        'The upload URL expired before the file was sent. Start a new upload.',
      );
    });

    it('cannot stage blocks with a create-only SAS in Azurite (SDK path): a refusal that is not retryable', async function () {
      const ticket = api.ticket(randomUUID(), 'big.jpg', 'image/jpeg');
      api.statusReplies = [{ status: 404, json: { error: { code: 'upload-not-found' } } }];
      const source = await fileSource(join(dir, 'photo.jpg'));
      const error = await clientRejection(
        sendToStorage(ticket, source, 'image/jpeg', {
          apiBaseUrl: api.baseUrl,
          transport: sdkTransport({ singleShotMaxBytes: 1024 * 1024, blockSize: 1024 * 1024 }),
        }),
      );
      // A new upload would fail the same way, so it must not say "retry".
      expect(error).to.include({ code: 'block-upload-forbidden', status: 403, retryable: false });
      expect(error.message).to.contain('singleShotMaxBytes');
      expect(await landed(ticket.uploadId, 'big.jpg').exists()).to.equal(false);
    });

    it('uploads through the storage SDK when asked (the ./sdk subpath), single-shot', async function () {
      const ticket = api.ticket(randomUUID(), 'sdk.jpg', 'image/jpeg');
      const source = await fileSource(join(dir, 'photo.jpg'));
      const seen: number[] = [];
      expect(
        await sendToStorage(ticket, source, 'image/jpeg', {
          apiBaseUrl: api.baseUrl,
          transport: sdkTransport(),
          onProgress: (p) => seen.push(p.loadedBytes),
        }),
      ).to.deep.equal({ alreadyUploaded: false });
      const props = await landed(ticket.uploadId, 'sdk.jpg').getProperties();
      expect(props).to.include({ contentLength: source.size, contentType: 'image/jpeg' });
      expect(seen.at(-1)).to.equal(source.size);
    });

    it('cancels an upload in flight and leaves no blob behind', async function () {
      const path = join(dir, 'large.jpg');
      await writeFile(path, Buffer.alloc(24 * 1024 * 1024, 3));
      let ticket: UploadTicket | undefined;
      api.onCreate = (body) => {
        const reply = api.issue(body.fileName, body.contentType);
        ticket = reply.json as UploadTicket;
        return reply;
      };
      const controller = new AbortController();
      const error = await clientRejection(
        uploadFile(path, {
          apiBaseUrl: api.baseUrl,
          signal: controller.signal,
          onProgress: (p) => {
            if (p.stage === 'uploading' && p.loadedBytes > 0) controller.abort();
          },
        }),
      );
      expect(error).to.include({ code: 'aborted', stage: 'upload' });
      expect(await landed(ticket!.uploadId, 'large.jpg').exists()).to.equal(false);
    });

    it('does nothing at all when the signal is already aborted', async function () {
      const error = await clientRejection(
        upload(jpegBytes(), {
          apiBaseUrl: api.baseUrl,
          fileName: 'a.jpg',
          signal: AbortSignal.abort(),
        }),
      );
      expect(error).to.include({ code: 'aborted', stage: 'validate' });
      expect(api.requests).to.have.length(0);
    });
  });

  describe('retrying the PUT', function () {
    /**
     * A real HTTP hop in front of Azurite that fails the first `failures` PUTs, with a
     * 503 ServerBusy and Retry-After or by dropping the connection, then passes them on.
     */
    async function flakyStorage(failures: number, mode: 'busy' | 'drop') {
      let seen = 0;
      const target = new URL(storage.azurite.blobEndpoint);
      const server = createServer((req, res) => {
        if (req.method === 'PUT' && seen++ < failures) {
          if (mode === 'drop') req.socket.destroy();
          else res.writeHead(503, { 'retry-after': '1', 'x-ms-error-code': 'ServerBusy' }).end();
          return;
        }
        const forward = httpRequest(
          {
            host: target.hostname,
            port: target.port,
            method: req.method,
            path: req.url,
            headers: req.headers,
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        req.pipe(forward);
      });
      const port = await freePort();
      await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
      const via = (ticket: UploadTicket): UploadTicket => ({
        ...ticket,
        uploadUrl: ticket.uploadUrl.replace(target.origin, `http://127.0.0.1:${port}`),
      });
      return { via, attempts: () => seen, close: () => new Promise((done) => server.close(done)) };
    }

    it('waits out a 503 with Retry-After and then lands the file', async function () {
      const flaky = await flakyStorage(2, 'busy');
      try {
        const ticket = api.ticket(randomUUID(), 'busy.jpg', 'image/jpeg');
        const started = Date.now();
        const source = await fileSource(join(dir, 'photo.jpg'));
        const sent = await sendToStorage(flaky.via(ticket), source, 'image/jpeg', {
          apiBaseUrl: api.baseUrl,
        });
        expect(sent).to.deep.equal({ alreadyUploaded: false });
        expect(flaky.attempts()).to.equal(3);
        expect(Date.now() - started, 'two Retry-After: 1 waits').to.be.at.least(2_000);
        expect((await landed(ticket.uploadId, 'busy.jpg').getProperties()).contentLength).to.equal(
          source.size,
        );
      } finally {
        await flaky.close();
      }
    });

    it('retries a dropped connection, and gives up after uploadAttempts as a retryable network error', async function () {
      const flaky = await flakyStorage(10, 'drop');
      try {
        const ticket = api.ticket(randomUUID(), 'drop.jpg', 'image/jpeg');
        api.statusReplies = [{ status: 404, json: { error: { code: 'upload-not-found' } } }];
        const error = await clientRejection(
          sendToStorage(flaky.via(ticket), await fileSource(join(dir, 'photo.jpg')), 'image/jpeg', {
            apiBaseUrl: api.baseUrl,
            uploadAttempts: 2,
          }),
        );
        expect(error).to.include({ code: 'network-error', stage: 'upload', retryable: true });
        expect(flaky.attempts()).to.equal(2);
      } finally {
        await flaky.close();
      }
    });
  });

  describe('upload tasks and several files', function () {
    it('startUpload reports progress to listeners, and cancel() rejects it as aborted', async function () {
      await writeFile(join(dir, 'task.jpg'), Buffer.alloc(24 * 1024 * 1024, 4));
      const task = startUpload(await fileSource(join(dir, 'task.jpg')), {
        apiBaseUrl: api.baseUrl,
      });
      expect(task.state).to.equal('running');
      const stages: string[] = [];
      task.onProgress((p) => {
        stages.push(p.stage);
        if (p.stage === 'uploading' && p.loadedBytes > 0) task.cancel();
      });
      const error = await clientRejection(task.result);
      expect(error).to.include({ code: 'aborted', stage: 'upload' });
      expect(task.state).to.equal('cancelled');
      expect(task.progress?.stage).to.equal('uploading');
      expect(stages).to.include.members(['requesting', 'uploading']);
    });

    it('uploadMany keeps at most `concurrency` in flight and returns one outcome per file, in order', async function () {
      let inFlight = 0;
      let peak = 0;
      api.onCreate = (body) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        return api.issue(body.fileName, body.contentType);
      };
      api.onStatus = (uploadId) => {
        inFlight--;
        return processed(uploadId);
      };
      const items = [
        ...['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg'].map(
          (name) => new File([jpegBytes()], name, { type: 'image/jpeg' }),
        ),
        new File([jpegBytes()], 'notes.txt', { type: 'text/plain' }),
      ];
      const outcomes = await uploadMany(items, { apiBaseUrl: api.baseUrl, concurrency: 2 });
      expect(outcomes.map((o) => [o.index, o.ok ? o.result.fileName : o.error.code])).to.deep.equal(
        [
          [0, 'a.jpg'],
          [1, 'b.jpg'],
          [2, 'c.jpg'],
          [3, 'd.jpg'],
          [4, 'content-type-not-allowed'],
        ],
      );
      expect(peak).to.equal(2);
    });
  });

  describe('waiting for the result', function () {
    const ticketFor = () => {
      const uploadId = randomUUID();
      return { uploadId, statusUrl: `${api.baseUrl}/uploads/${uploadId}` };
    };
    const fast = { pollIntervalMs: 20, maxPollIntervalMs: 80 };

    it('polls through 404 and pending, backing off, until processed', async function () {
      const ticket = ticketFor();
      const pending = { status: 200, json: { uploadId: ticket.uploadId, status: 'pending' } };
      api.statusReplies = [
        { status: 404, json: { error: { code: 'upload-not-found' } } },
        pending,
        pending,
        pending,
        pending,
        processed(ticket.uploadId),
      ];
      // Intervals far enough apart that a busy machine's scheduling noise cannot swap them:
      // 40, 60, 90, 135 ms (±20 %), then capped at 200.
      const backoff = { pollIntervalMs: 40, maxPollIntervalMs: 200 };
      const result = await waitForProcessing(ticket, { apiBaseUrl: api.baseUrl, ...backoff });
      expect(result.outputs).to.have.length(1);
      const gaps = api.requests.slice(1).map((r, i) => r.at - api.requests[i].at);
      expect(gaps).to.have.length(5);
      expect(gaps[4], 'later polls wait longer').to.be.greaterThan(gaps[0] + 60);
      expect(Math.max(...gaps)).to.be.below(200 * 1.2 + 100);
    });

    it('reports each change of a pending upload’s stage once: scanning, then processing', async function () {
      const ticket = ticketFor();
      const pending = (stage?: string) => ({
        status: 200,
        json: { uploadId: ticket.uploadId, status: 'pending', ...(stage && { stage }) },
      });
      api.statusReplies = [
        pending(),
        pending('scanning'),
        pending('scanning'),
        pending('processing'),
        pending('processing'),
        processed(ticket.uploadId),
      ];
      const stages: string[] = [];
      await waitForProcessing(ticket, {
        apiBaseUrl: api.baseUrl,
        ...fast,
        onPendingStage: (stage) => stages.push(stage),
      });
      expect(stages).to.deep.equal(['scanning', 'processing']);
    });

    it('rejects with the server’s reason and message for a rejected file', async function () {
      const ticket = ticketFor();
      api.statusReplies = [
        {
          status: 200,
          json: {
            uploadId: ticket.uploadId,
            status: 'rejected',
            reason: 'not-an-image',
            message: 'Not a photo.',
          },
        },
      ];
      const error = await clientRejection(
        waitForProcessing(ticket, { apiBaseUrl: api.baseUrl, ...fast }),
      );
      expect(error).to.include({
        code: 'rejected',
        reason: 'not-an-image',
        message: 'Not a photo.',
        stage: 'processing',
        uploadId: ticket.uploadId,
        retryable: false,
      });
    });

    it('explains a rejection reason the server sent without a message', async function () {
      const ticket = ticketFor();
      api.statusReplies = [
        {
          status: 200,
          json: { uploadId: ticket.uploadId, status: 'rejected', reason: 'too-many-pixels' },
        },
      ];
      const error = await clientRejection(
        waitForProcessing(ticket, { apiBaseUrl: api.baseUrl, ...fast }),
      );
      expect(error.message).to.equal('The image has too many pixels to process.');
    });

    it('reports a failed processing as retryable', async function () {
      const ticket = ticketFor();
      api.statusReplies = [
        {
          status: 200,
          json: { uploadId: ticket.uploadId, status: 'failed', reason: 'processing-failed' },
        },
      ];
      const error = await clientRejection(
        waitForProcessing(ticket, { apiBaseUrl: api.baseUrl, ...fast }),
      );
      expect(error).to.include({ code: 'processing-failed', retryable: true });
    });

    it('rides out 503s and honours Retry-After', async function () {
      const ticket = ticketFor();
      api.statusReplies = [
        { status: 503, json: { error: { code: 'busy' } }, headers: { 'retry-after': '1' } },
        processed(ticket.uploadId),
      ];
      await waitForProcessing(ticket, { apiBaseUrl: api.baseUrl, ...fast });
      expect(api.requests[1].at - api.requests[0].at).to.be.within(950, 1_500);
    });

    it('stops at a client error such as a malformed id', async function () {
      const ticket = ticketFor();
      api.statusReplies = [
        { status: 400, json: { error: { code: 'invalid-upload-id', message: 'bad id' } } },
      ];
      const error = await clientRejection(
        waitForProcessing(ticket, { apiBaseUrl: api.baseUrl, ...fast }),
      );
      expect(error).to.include({ code: 'invalid-upload-id', status: 400 });
      expect(api.requests).to.have.length(1);
    });

    it('times out with the upload id when the status stays pending', async function () {
      const ticket = ticketFor();
      api.statusReplies = [{ status: 200, json: { uploadId: ticket.uploadId, status: 'pending' } }];
      const started = Date.now();
      const error = await clientRejection(
        waitForProcessing(ticket, { apiBaseUrl: api.baseUrl, ...fast, pollTimeoutMs: 400 }),
      );
      expect(error).to.include({ code: 'timeout', uploadId: ticket.uploadId });
      expect(Date.now() - started).to.be.within(400, 700);
    });

    it('gives up on a 404 that outlasts the grace period', async function () {
      const ticket = ticketFor();
      api.statusReplies = [{ status: 404, json: { error: { code: 'upload-not-found' } } }];
      const error = await clientRejection(
        waitForProcessing(ticket, { apiBaseUrl: api.baseUrl, ...fast, notFoundGraceMs: 200 }),
      );
      expect(error).to.include({ code: 'upload-not-found', status: 404 });
    });

    it('stops polling as soon as the signal aborts', async function () {
      const ticket = ticketFor();
      api.statusReplies = [{ status: 200, json: { uploadId: ticket.uploadId, status: 'pending' } }];
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 300);
      const error = await clientRejection(
        waitForProcessing(ticket, {
          apiBaseUrl: api.baseUrl,
          signal: controller.signal,
          pollIntervalMs: 2_000,
        }),
      );
      const abortedAt = Date.now();
      expect(error).to.include({ code: 'aborted', stage: 'processing', uploadId: ticket.uploadId });
      expect(api.requests).to.have.length(1);
      expect(abortedAt - api.requests[0].at).to.be.below(1_000);
    });
  });
});
