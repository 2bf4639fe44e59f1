/**
 * Storage outages seen by the HTTP API: the real handlers and storage clients, pointed
 * at a port where nothing listens, answer a quick 503 with Retry-After and the usual
 * error body, and log nothing secret.
 */
import { TableClient } from '@azure/data-tables';
import { HttpRequest, type HttpResponseInit } from '@azure/functions';
import { BlobServiceClient } from '@azure/storage-blob';
import { expect } from 'chai';
import {
  STORAGE_PIPELINE_OPTIONS,
  createRuntime,
  type Runtime,
} from '../../functions/adapters/runtime';
import { UserDelegationSasSigner } from '../../functions/adapters/sas-signer';
import { SETTING_KEYS } from '../../functions/core/settings';
import { createUploadHandler } from '../../functions/handlers/create-upload';
import { getUploadStatusHandler } from '../../functions/handlers/get-upload-status';
import { answeringStorageOutages } from '../../functions/handlers/http-responses';
import { DEV_ACCOUNT_KEY, devStorageEndpoints } from '../../local/azurite';
import { UnsignedEntraCredential, freePort } from '../../local/azurite-sandbox';
import { type LoggedLine, getStatus, invocationContext, postJson } from '../helpers/functions';
import { apiContract } from '../helpers/openapi';
import { rejection } from '../helpers/rejection';

/** The SDK's default retries would take about 30 s against a dead endpoint. */
const QUICK_MS = 5_000;

async function expectStorageUnavailable(
  response: HttpResponseInit,
  log: LoggedLine[],
  operation: [string, string],
): Promise<void> {
  expect(response.status).to.equal(503);
  const headers = Object.fromEntries(
    Object.entries(response.headers as Record<string, string>).map(([k, v]) => [
      k.toLowerCase(),
      v,
    ]),
  );
  expect(
    (await apiContract()).problems(...operation, {
      status: 503,
      headers,
      body: response.jsonBody,
    }),
    'against the OpenAPI document',
  ).to.deep.equal([]);
  expect(response.jsonBody).to.deep.include({
    error: {
      code: 'storage-unavailable',
      message: 'Storage is briefly unavailable; retry in a few seconds.',
    },
  });
  expect(response.headers).to.deep.include({
    'Retry-After': '2',
    'Cache-Control': 'no-store',
    // Readable by pages on other origins: the platform's CORS cannot expose headers itself.
    'Access-Control-Expose-Headers':
      'RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After',
  });
  const logged = log.map((l) => l.text).join('\n');
  expect(logged).to.match(/Storage unavailable \(ECONNREFUSED\); answered 503/);
  expect(logged).to.not.match(/AccountKey|sig=|127\.0\.0\.1/);
  expect(logged).to.not.contain(DEV_ACCOUNT_KEY);
}

const PUBLIC = { [SETTING_KEYS.publicBaseUrl]: 'http://localhost:7071/api' };

describe('http-responses: storage outages answer 503 (real clients, dead endpoint)', function () {
  this.timeout(30_000);
  let deadPort: number;

  before(async () => {
    deadPort = await freePort();
  });

  it('GET status: connection refused answers 503 with Retry-After, within seconds', async () => {
    const { connectionString } = devStorageEndpoints('127.0.0.1', deadPort, deadPort);
    const runtime = createRuntime({ DirectdropStorage: connectionString, ...PUBLIC });
    const log: LoggedLine[] = [];
    const started = performance.now();
    const response = await getUploadStatusHandler(() => runtime)(
      getStatus('3f2b8c1e-9d4a-4b6f-8e2a-1c3d5e7f9a0b'),
      invocationContext('getUploadStatus', log),
    );
    expect(performance.now() - started).to.be.below(QUICK_MS);
    await expectStorageUnavailable(response, log, ['GET', '/uploads/{uploadId}']);
  });

  it('POST uploads: an unreachable account (quota table, user delegation key) answers 503', async () => {
    const service = new BlobServiceClient(
      `https://127.0.0.1:${deadPort}/devstoreaccount1`,
      new UnsignedEntraCredential(),
      STORAGE_PIPELINE_OPTIONS,
    );
    const runtime: Runtime = createRuntime(
      {
        DirectdropStorage__blobServiceUri: service.url,
        DirectdropStorage__queueServiceUri: service.url.replace(/\/devstoreaccount1$/, '/q'),
        ...PUBLIC,
      },
      {
        service,
        signer: new UserDelegationSasSigner(service),
        table: (name) =>
          TableClient.fromConnectionString(
            devStorageEndpoints('127.0.0.1', deadPort, deadPort).connectionString,
            name,
            { allowInsecureConnection: true, retryOptions: STORAGE_PIPELINE_OPTIONS.retryOptions },
          ),
      },
    );
    const log: LoggedLine[] = [];
    const started = performance.now();
    const response = await createUploadHandler(() => runtime)(
      postJson(JSON.stringify({ fileName: 'cat.jpg', contentType: 'image/jpeg', size: 1234 })),
      invocationContext('createUpload', log),
    );
    expect(performance.now() - started).to.be.below(QUICK_MS);
    await expectStorageUnavailable(response, log, ['POST', '/uploads']);
  });

  it('lets any other error through, for the host to report as the bug it is', async () => {
    const failing = answeringStorageOutages(async () => {
      throw new TypeError('a bug, not an outage');
    });
    const request = new HttpRequest({ method: 'GET', url: 'http://localhost/api/x' });
    await rejection(failing(request, invocationContext('x')), TypeError);
  });
});
