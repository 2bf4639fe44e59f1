/**
 * The client library's API calls against a scripted API (a real HTTP server whose answers
 * each test chooses) and a real Azurite: sign-in with a token function, errors that keep
 * what the server said, credentials only for the API's origin, metadata, listing and
 * deleting uploads, and the stages of an upload the server knows before its bytes arrive.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { type AzuriteSandbox, startAzuriteSandbox } from '../../local/azurite-sandbox';
import {
  type UploadSummary,
  type UploadTicket,
  deleteUpload,
  listUploads,
  listUploadsPage,
  sendToStorage,
  upload,
  waitForProcessing,
} from '../../client/src/node';
import { ScriptedApi, processed } from './client-scripted-api';
import { clientRejection } from '../helpers/rejection';

const bytes = () => new Uint8Array(Buffer.from('the scripted API does not look at the bytes'));
const fast = { pollIntervalMs: 20, maxPollIntervalMs: 80 };
/** Given, so no `GET /limits` (public, but a request like any other) joins the count. */
const limits = { maxBytes: 1024 * 1024, allowedContentTypes: ['image/jpeg'] };

describe('client library API calls (scripted API, real Azurite)', function () {
  let storage: AzuriteSandbox;
  let api: ScriptedApi;

  before(async function () {
    storage = await startAzuriteSandbox();
    api = new ScriptedApi(storage);
    await api.start();
  });
  after(async function () {
    await api?.stop();
    await storage?.stop();
  });
  beforeEach(() => api.reset());

  /** Issues real tickets and answers processed; the status polls share `statusReplies`. */
  const processedOnce = () => {
    api.onCreate = (body) => {
      const reply = api.issue(body.fileName, body.contentType);
      api.statusReplies = [processed((reply.json as UploadTicket).uploadId)];
      return reply;
    };
  };

  describe('sign-in with a token function', function () {
    it('asks the function before each request, and again with forceRefresh after a 401', async function () {
      const calls: boolean[] = [];
      let fresh = 'first';
      const token = async ({ forceRefresh }: { forceRefresh: boolean }) => {
        calls.push(forceRefresh);
        if (forceRefresh) fresh = `fresh-${calls.length}`;
        return fresh;
      };
      // The API takes only the token it saw last: "first" has expired by the POST.
      let accepted = 'fresh-2';
      processedOnce();
      const create = api.onCreate;
      api.onCreate = (body) => {
        const auth = api.requests.at(-1)!.headers.authorization;
        if (auth !== `Bearer ${accepted}`) {
          return {
            status: 401,
            json: { error: { code: 'invalid-token', message: 'Sign in again.' } },
            headers: { 'www-authenticate': 'Bearer realm="directdrop", error="invalid_token"' },
          };
        }
        return create(body);
      };
      const result = await upload(bytes(), {
        apiBaseUrl: api.baseUrl,
        fileName: 'a.jpg',
        token,
        limits,
        ...fast,
      });
      expect(result.status).to.equal('processed');
      const auths = api.requests.map((r) => `${r.method} ${r.headers.authorization}`);
      expect(auths).to.deep.equal([
        'POST Bearer first',
        'POST Bearer fresh-2',
        'GET Bearer fresh-2',
      ]);
      expect(calls).to.deep.equal([false, true, false]);

      // A token still refused after the refresh is the caller's 401, once, not a loop.
      accepted = 'never';
      const error = await clientRejection(
        upload(bytes(), { apiBaseUrl: api.baseUrl, fileName: 'a.jpg', token, limits }),
      );
      expect(error).to.include({ code: 'invalid-token', status: 401, retryable: false });
      expect(api.requests.filter((r) => r.method === 'POST')).to.have.length(4);
    });

    it('reports a token function that fails as token-unavailable, before any request', async function () {
      const error = await clientRejection(
        upload(bytes(), {
          apiBaseUrl: api.baseUrl,
          fileName: 'a.jpg',
          token: () => Promise.reject(new Error('popup closed')),
        }),
      );
      expect(error).to.include({ code: 'token-unavailable', stage: 'request' });
      expect(error.message).to.contain('popup closed');
      expect(api.requests).to.have.length(0);
    });
  });

  describe('errors worth catching', function () {
    it('keeps a 429’s limit, max, resetsAt and Retry-After, without waiting half a minute', async function () {
      const resetsAt = new Date(Date.now() + 30_000).toISOString();
      api.onCreate = () => ({
        status: 429,
        headers: { 'retry-after': '30' },
        json: {
          error: {
            code: 'quota-exceeded',
            message: 'At most 60 upload URLs per minute per caller.',
            limit: 'urls-per-minute',
            max: 60,
            resetsAt,
          },
        },
      });
      const started = Date.now();
      const error = await clientRejection(
        upload(bytes(), { apiBaseUrl: api.baseUrl, fileName: 'a.jpg' }),
      );
      expect(error).to.include({
        code: 'quota-exceeded',
        status: 429,
        stage: 'request',
        limit: 'urls-per-minute',
        max: 60,
        resetsAt,
        retryAfterMs: 30_000,
        retryable: true,
      });
      expect(Date.now() - started, 'answered at once').to.be.below(2_000);
      expect(api.requests).to.have.length(1);
    });

    it('retries a 429 whose Retry-After is short, and goes on', async function () {
      let calls = 0;
      processedOnce();
      const issue = api.onCreate;
      api.onCreate = (body) =>
        ++calls === 1
          ? {
              status: 429,
              headers: { 'retry-after': '1' },
              json: { error: { code: 'quota-exceeded', message: 'm', limit: 'urls-per-minute' } },
            }
          : issue(body);
      const result = await upload(bytes(), { apiBaseUrl: api.baseUrl, fileName: 'a.jpg', ...fast });
      expect(result.status).to.equal('processed');
      expect(api.requests[1].at - api.requests[0].at).to.be.at.least(950);
    });
  });

  describe('credentials go to the API’s origin only', function () {
    it('reads the status from the API it was given, never from the origin a statusUrl names', async function () {
      const elsewhere = new ScriptedApi(storage);
      await elsewhere.start();
      try {
        // Another port is another origin, as another host (or a forged Host header) would be.
        expect(new URL(elsewhere.baseUrl).origin).to.not.equal(new URL(api.baseUrl).origin);
        api.onCreate = (body) => {
          const reply = api.issue(body.fileName, body.contentType);
          const ticket = reply.json as UploadTicket;
          ticket.statusUrl = `${elsewhere.baseUrl}/uploads/${ticket.uploadId}?statusToken=cap`;
          elsewhere.statusReplies = [processed(ticket.uploadId)];
          api.statusReplies = [processed(ticket.uploadId)];
          return reply;
        };
        let tokenCalls = 0;
        const result = await upload(bytes(), {
          apiBaseUrl: api.baseUrl,
          fileName: 'a.jpg',
          functionsKey: 'the-key',
          token: () => {
            tokenCalls++;
            return 'the-token';
          },
          headers: { 'x-tenant': 'contoso' },
          limits,
          ...fast,
        });
        expect(result.status).to.equal('processed');
        expect(elsewhere.requests, 'nothing goes to the origin the statusUrl names').to.have.length(
          0,
        );
        const credentials = {
          'x-functions-key': 'the-key',
          authorization: 'Bearer the-token',
          'x-tenant': 'contoso',
        };
        const [post, ...polls] = api.requests;
        expect(post.headers).to.include(credentials);
        expect(polls).to.have.length.greaterThan(0);
        for (const poll of polls) {
          expect(poll.method).to.equal('GET');
          // The statusUrl's query (an anonymous stack's capability) comes along.
          expect(poll.path).to.match(/^\/api\/uploads\/[0-9a-f-]+$/);
          expect(poll.search).to.equal('?statusToken=cap');
          expect(poll.headers).to.include(credentials);
        }
        expect(tokenCalls).to.equal(1 + polls.length);
      } finally {
        await elsewhere.stop();
      }
    });
  });

  describe('metadata', function () {
    it('sends the metadata with the upload request, and none when there is none', async function () {
      processedOnce();
      await upload(bytes(), {
        apiBaseUrl: api.baseUrl,
        fileName: 'a.jpg',
        metadata: { postId: '42', 'album.name': 'Été' },
        ...fast,
      });
      expect(JSON.parse(api.requests[0].body).metadata).to.deep.equal({
        postId: '42',
        'album.name': 'Été',
      });
      api.reset();
      processedOnce();
      await upload(bytes(), { apiBaseUrl: api.baseUrl, fileName: 'a.jpg', metadata: {}, ...fast });
      expect(JSON.parse(api.requests[0].body)).to.not.have.property('metadata');
    });

    const metadataLimits = {
      maxBytes: 1024,
      allowedContentTypes: ['image/jpeg'],
      metadata: { maxEntries: 2, maxBytes: 20, keyPattern: '^[a-zA-Z][a-zA-Z0-9_.-]{0,63}$' },
    };
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['too many entries', { a: '1', b: '2', c: '3' }, 'metadata has 3 entries; at most 2'],
      ['a key the pattern refuses', { '1st': 'x' }, 'metadata.1st: keys must match'],
      ['too many bytes of UTF-8', { a: 'ééééééééééé' }, 'metadata is 23 bytes'],
      ['a value that is not a string', { postId: 42 }, 'metadata.postId must be a string'],
    ];
    for (const [what, metadata, message] of cases) {
      it(`refuses metadata with ${what} before any request`, async function () {
        const error = await clientRejection(
          upload(bytes(), {
            apiBaseUrl: api.baseUrl,
            fileName: 'a.jpg',
            limits: metadataLimits,
            metadata: metadata as Record<string, string>,
          }),
        );
        expect(error).to.include({ code: 'invalid-metadata', stage: 'validate' });
        expect(error.message).to.contain(message);
        expect(api.requests).to.have.length(0);
      });
    }

    it('passes the server’s invalid-metadata through when it states no limits', async function () {
      api.onCreate = () => ({
        status: 400,
        json: {
          error: { code: 'invalid-metadata', message: 'metadata.x: at most 16 entries.' },
        },
      });
      const error = await clientRejection(
        upload(bytes(), { apiBaseUrl: api.baseUrl, fileName: 'a.jpg', metadata: { x: 'y' } }),
      );
      expect(error).to.include({ code: 'invalid-metadata', stage: 'request', status: 400 });
    });
  });

  describe('listing and deleting uploads', function () {
    const summary = (n: number): UploadSummary => ({
      uploadId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
      status: 'processed',
      fileName: `${n}.jpg`,
      contentType: 'image/jpeg',
      size: 100 + n,
      metadata: { n: String(n) },
      issuedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, 60 - n)).toISOString(),
    });
    /** Seven uploads, newest first, served in pages with an opaque cursor. */
    const serveSeven = () => {
      const all = Array.from({ length: 7 }, (_, i) => summary(i));
      api.onList = (query) => {
        const limit = Number(query.get('limit') ?? 20);
        const start = query.has('cursor') ? Number(atob(query.get('cursor')!)) : 0;
        const end = start + limit;
        return {
          status: 200,
          json: {
            uploads: all.slice(start, end),
            ...(end < all.length ? { nextCursor: btoa(String(end)) } : {}),
          },
        };
      };
      return all;
    };

    it('iterates every upload across pages, in the server’s order, and by page', async function () {
      const all = serveSeven();
      const seen: string[] = [];
      for await (const u of listUploads({ apiBaseUrl: api.baseUrl, token: 't', pageSize: 3 })) {
        seen.push(u.uploadId);
      }
      expect(seen).to.deep.equal(all.map((u) => u.uploadId));
      expect(api.requests.map((r) => r.headers.authorization)).to.deep.equal([
        'Bearer t',
        'Bearer t',
        'Bearer t',
      ]);

      const sizes: number[] = [];
      for await (const page of listUploads({ apiBaseUrl: api.baseUrl }).byPage({ limit: 5 })) {
        sizes.push(page.uploads.length);
      }
      expect(sizes).to.deep.equal([5, 2]);
    });

    it('fetches one page with a cursor', async function () {
      serveSeven();
      const first = await listUploadsPage({ apiBaseUrl: api.baseUrl }, { limit: 2 });
      expect(first.uploads.map((u) => u.fileName)).to.deep.equal(['0.jpg', '1.jpg']);
      const second = await listUploadsPage(
        { apiBaseUrl: api.baseUrl },
        { limit: 2, cursor: first.nextCursor },
      );
      expect(second.uploads.map((u) => u.fileName)).to.deep.equal(['2.jpg', '3.jpg']);
    });

    it('passes the server’s refusal of a listing through', async function () {
      api.onList = () => ({
        status: 403,
        json: { error: { code: 'listing-unavailable', message: 'Anonymous callers cannot list.' } },
      });
      const error = await clientRejection(listUploadsPage({ apiBaseUrl: api.baseUrl }));
      expect(error).to.include({ code: 'listing-unavailable', status: 403 });
      api.onList = () => ({ status: 200, json: { items: [] } });
      expect(await clientRejection(listUploadsPage({ apiBaseUrl: api.baseUrl }))).to.include({
        code: 'invalid-response',
      });
    });

    it('deletes an upload (204) and reports an unknown one as upload-not-found', async function () {
      const uploadId = randomUUID();
      await deleteUpload(uploadId, { apiBaseUrl: api.baseUrl, functionsKey: 'k' });
      expect(api.requests[0]).to.include({ method: 'DELETE', path: `/api/uploads/${uploadId}` });
      expect(api.requests[0].headers['x-functions-key']).to.equal('k');

      api.onDelete = () => ({
        status: 404,
        json: { error: { code: 'upload-not-found', message: 'No such upload.' } },
      });
      const error = await clientRejection(deleteUpload(uploadId, { apiBaseUrl: api.baseUrl }));
      expect(error).to.include({ code: 'upload-not-found', status: 404, uploadId });
    });
    it('deletes by ticket with its statusUrl’s capability, under the API it was given', async function () {
      const uploadId = randomUUID();
      await deleteUpload(
        {
          uploadId,
          statusUrl: `https://elsewhere.example/api/uploads/${uploadId}?statusToken=cap`,
        },
        { apiBaseUrl: api.baseUrl },
      );
      expect(api.requests[0]).to.include({
        method: 'DELETE',
        path: `/api/uploads/${uploadId}`,
        search: '?statusToken=cap',
      });
    });
  });

  describe('an upload the server knows before its bytes arrive', function () {
    const ticketFor = () => {
      const uploadId = randomUUID();
      return { uploadId, statusUrl: `${api.baseUrl}/uploads/${uploadId}` };
    };

    it('reports awaiting-upload, then scanning and processing, as pending stages', async function () {
      const ticket = ticketFor();
      const pending = (stage: string) => ({
        status: 200,
        json: { uploadId: ticket.uploadId, status: 'pending', stage },
      });
      api.statusReplies = [
        pending('awaiting-upload'),
        pending('scanning'),
        pending('processing'),
        processed(ticket.uploadId),
      ];
      const stages: string[] = [];
      await waitForProcessing(ticket, {
        apiBaseUrl: api.baseUrl,
        ...fast,
        onPendingStage: (stage) => stages.push(stage),
      });
      expect(stages).to.deep.equal(['awaiting-upload', 'scanning', 'processing']);
    });

    it('explains failed / not-uploaded: the URL expired with nothing received', async function () {
      const ticket = ticketFor();
      api.statusReplies = [
        {
          status: 200,
          json: { uploadId: ticket.uploadId, status: 'failed', reason: 'not-uploaded' },
        },
      ];
      const error = await clientRejection(
        waitForProcessing(ticket, { apiBaseUrl: api.baseUrl, ...fast }),
      );
      expect(error).to.include({
        code: 'processing-failed',
        reason: 'not-uploaded',
        retryable: true,
        message: 'The upload URL expired before any file arrived. Start a new upload.',
      });
    });

    it('does not take a refused PUT for an earlier landing while the status awaits the upload', async function () {
      // A read-only SAS stands in for a URL storage refuses; the record exists from issuance.
      const ticket = api.ticket(randomUUID(), 'a.jpg', 'image/jpeg', 'r');
      api.statusReplies = [
        {
          status: 200,
          json: { uploadId: ticket.uploadId, status: 'pending', stage: 'awaiting-upload' },
        },
      ];
      const error = await clientRejection(
        sendToStorage(
          ticket,
          { name: 'a.jpg', size: 10, type: 'image/jpeg', body: new Uint8Array(10) },
          'image/jpeg',
          { apiBaseUrl: api.baseUrl },
        ),
      );
      expect(error).to.include({ code: 'upload-forbidden', status: 403 });
      expect(api.requests.map((r) => r.method)).to.deep.equal(['GET']);
    });
  });
});
