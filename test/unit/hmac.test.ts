/**
 * The prepared-key HMACs (functions/core/hmac.ts) and what signs with them must give the
 * very bytes the plain calls and the SDKs give: a signature that differs is a refused URL
 * or a refused table request.
 */
import { createHmac } from 'node:crypto';
import { AzureNamedKeyCredential, TableClient } from '@azure/data-tables';
import {
  type HttpClient,
  type PipelineRequest,
  createHttpHeaders,
  createPipelineRequest,
} from '@azure/core-rest-pipeline';
import {
  BlobSASPermissions,
  type BlobSASSignatureValues,
  SASProtocol,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
} from '@azure/storage-blob';
import { expect } from 'chai';
import {
  AccountKeySasSigner,
  PreparedSharedKeyCredential,
  SAS_SERVICE_VERSION,
  userDelegationSas,
} from '../../functions/adapters/sas-signer';
import { trimmedPipeline } from '../../functions/adapters/table-batch';
import { ownerHash } from '../../functions/core/auth';
import { hmacSha256, preparedKey } from '../../functions/core/hmac';
import { uploadSasPolicy } from '../../functions/core/sas-policy';
import { DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME } from '../../local/azurite';

const TEXTS = ['', 'a', 'PUT\n\n\n/blob/acct/c/é ✓ "quoted"\n2025-11-05', 'x'.repeat(10_000)];

describe('hmac: prepared keys', () => {
  it('gives the bytes createHmac gives with the key as a string, UTF-8 or base64', () => {
    for (const text of TEXTS) {
      for (const key of ['k'.repeat(32), 'clé ✓', DEV_ACCOUNT_KEY]) {
        expect(hmacSha256(preparedKey(key), text, 'hex')).to.equal(
          createHmac('sha256', key).update(text, 'utf8').digest('hex'),
        );
      }
      expect(hmacSha256(preparedKey(DEV_ACCOUNT_KEY, 'base64'), text, 'base64')).to.equal(
        createHmac('sha256', Buffer.from(DEV_ACCOUNT_KEY, 'base64'))
          .update(text, 'utf8')
          .digest('base64'),
      );
    }
  });

  it('prepares a key once, tells encodings apart, and stays bounded as keys come and go', () => {
    expect(preparedKey('same')).to.equal(preparedKey('same'));
    expect(preparedKey('c2FtZQ==', 'base64')).not.to.equal(preparedKey('c2FtZQ=='));
    for (let i = 0; i < 100; i++) preparedKey(`key ${i}`);
    // An evicted key is prepared again, to the same bytes.
    const text = 'after eviction';
    expect(hmacSha256(preparedKey('key 0'), text, 'hex')).to.equal(
      createHmac('sha256', 'key 0').update(text).digest('hex'),
    );
  });

  it('leaves the owner hash exactly what it was', () => {
    const principal = { issuer: 'https://login.example/tenant/v2.0', subject: 'alice' };
    const input = `${principal.issuer.length}:${principal.issuer}|${principal.subject}`;
    // undefined: a function-key stack's fixed key (core/auth.ts).
    for (const key of ['k'.repeat(32), undefined]) {
      expect(ownerHash(key, principal)).to.equal(
        createHmac('sha256', key ?? 'directdrop-function-key-stack-has-a-single-caller')
          .update(input)
          .digest('hex')
          .slice(0, 32),
      );
    }
  });
});

describe('PreparedSharedKeyCredential', () => {
  const sdk = new StorageSharedKeyCredential(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY);
  const prepared = new PreparedSharedKeyCredential(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY);

  it('computes the SDK credential’s HMAC byte for byte', () => {
    for (const text of TEXTS)
      expect(prepared.computeHMACSHA256(text)).to.equal(sdk.computeHMACSHA256(text));
  });

  it('signs the SAS the SDK signs, for upload and read policies alike', () => {
    const startsOn = new Date('2026-12-06T12:00:00Z');
    for (const [permissions, blobName] of [
      ['c', 'owner/3f0c/photo é ✓.jpg'],
      ['r', 'owner/3f0c/out/display.webp'],
    ] as const) {
      const values = {
        containerName: 'landing',
        blobName,
        permissions: BlobSASPermissions.parse(permissions),
        startsOn,
        expiresOn: new Date(startsOn.getTime() + 600_000),
        protocol: SASProtocol.HttpsAndHttp,
        version: '2025-11-05',
        contentType: 'image/jpeg',
      };
      expect(generateBlobSASQueryParameters(values, prepared).toString()).to.equal(
        generateBlobSASQueryParameters(values, sdk).toString(),
      );
    }
  });

  it('makes AccountKeySasSigner sign the URL the SDK credential would', async () => {
    const url = 'http://127.0.0.1:10000/devstoreaccount1';
    const policy = uploadSasPolicy(new Date('2026-12-06T12:00:00Z'), 600);
    const name = 'owner/3f0c/photo.jpg';
    expect(
      await new AccountKeySasSigner(url, prepared).signBlobUrl('landing', name, policy),
    ).to.equal(await new AccountKeySasSigner(url, sdk).signBlobUrl('landing', name, policy));
  });
});

describe('userDelegationSas', () => {
  const key = {
    signedObjectId: '6d0f3c3e-1b7a-4c8e-9d61-2f5b8f0e9a11',
    signedTenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    signedStartsOn: new Date('2026-12-06T06:00:00Z'),
    signedExpiresOn: new Date('2026-12-07T06:00:00Z'),
    signedService: 'b',
    signedVersion: '2025-11-05',
    value: Buffer.from('a user delegation key, 32 bytes!').toString('base64'),
  };
  const values = (over: Partial<BlobSASSignatureValues>): BlobSASSignatureValues => ({
    containerName: 'landing',
    blobName: 'owner/3f0c/photo é ✓ (1).jpg',
    permissions: BlobSASPermissions.parse('c'),
    startsOn: new Date('2026-12-06T11:55:00.123Z'),
    expiresOn: new Date('2026-12-06T12:10:00.456Z'),
    protocol: SASProtocol.Https,
    version: SAS_SERVICE_VERSION,
    ...over,
  });

  it('signs what the SDK signs, for every shape of value our signers pass', () => {
    for (const v of [
      values({}),
      values({ permissions: BlobSASPermissions.parse('r'), protocol: SASProtocol.HttpsAndHttp }),
      values({ startsOn: undefined }),
      values({ blobName: 'a/b/c.webp' }),
    ]) {
      for (const k of [key, { ...key, signedDelegatedUserTenantId: 'another-tenant' }]) {
        expect(userDelegationSas(v, k, 'acct').toString()).to.equal(
          generateBlobSASQueryParameters(v, k, 'acct').toString(),
        );
      }
    }
  });

  it('refuses what it was not written for: another version, no blob, no expiry', () => {
    expect(() => userDelegationSas(values({ version: '2026-04-06' }), key, 'acct')).to.throw();
    expect(() => userDelegationSas(values({ blobName: undefined }), key, 'acct')).to.throw();
    expect(() => userDelegationSas(values({ expiresOn: undefined }), key, 'acct')).to.throw();
  });
});

describe('table-batch: the trimmed pipeline', () => {
  /** Sends nothing: keeps each request as the pipeline left it. */
  function recorder(): HttpClient & { sent: PipelineRequest[] } {
    const sent: PipelineRequest[] = [];
    return {
      sent,
      sendRequest: async (request) => {
        sent.push(request);
        return { request, status: 204, headers: createHttpHeaders() };
      },
    };
  }
  const request = (url: string) =>
    createPipelineRequest({
      url,
      method: 'POST',
      // A fixed date, so both pipelines sign the same string.
      headers: createHttpHeaders({ 'x-ms-date': 'Sun, 06 Dec 2026 12:00:00 GMT' }),
      body: '{}',
      allowInsecureConnection: true,
    });

  for (const [label, client] of [
    [
      'Azurite (account in the path)',
      TableClient.fromConnectionString(
        `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT_NAME};AccountKey=${DEV_ACCOUNT_KEY};TableEndpoint=http://127.0.0.1:10002/${DEV_ACCOUNT_NAME};`,
        'uploads',
        { allowInsecureConnection: true },
      ),
    ],
    [
      'an Azure-shaped endpoint',
      new TableClient(
        'https://acct.table.core.windows.net',
        'uploads',
        new AzureNamedKeyCredential('acct', DEV_ACCOUNT_KEY),
      ),
    ],
  ] as const) {
    it(`signs Shared Key Lite as the SDK's policy does: ${label}`, async () => {
      for (const path of ['$batch', "uploads(PartitionKey='o',RowKey='r%3Aé')"]) {
        const url = `${client.url.replace(/\/+$/, '')}/${path}`;
        const ours = recorder();
        const theirs = recorder();
        await trimmedPipeline(client).sendRequest(ours, request(url));
        await client.pipeline.sendRequest(theirs, request(url));
        const auth = (r: { sent: PipelineRequest[] }) => r.sent[0]?.headers.get('authorization');
        expect(auth(ours)).to.match(/^SharedKeyLite /);
        expect(auth(ours)).to.equal(auth(theirs));
      }
    });
  }

  it('follows a key rotated in place, as the SDK does', async () => {
    const credential = new AzureNamedKeyCredential('acct', DEV_ACCOUNT_KEY);
    const client = new TableClient('https://acct.table.core.windows.net', 'uploads', credential);
    const pipeline = trimmedPipeline(client);
    const url = 'https://acct.table.core.windows.net/$batch';
    credential.update('acct', Buffer.from('another key').toString('base64'));
    const ours = recorder();
    const theirs = recorder();
    await pipeline.sendRequest(ours, request(url));
    await client.pipeline.sendRequest(theirs, request(url));
    expect(ours.sent[0].headers.get('authorization')).to.equal(
      theirs.sent[0].headers.get('authorization'),
    );
  });

  it('keeps the SDK’s own authentication for any other credential', () => {
    const token = {
      getToken: async () => ({ token: 't', expiresOnTimestamp: Date.now() + 3600_000 }),
    };
    const client = new TableClient('https://acct.table.core.windows.net', 'uploads', token);
    const names = (p: ReturnType<typeof trimmedPipeline>) =>
      p.getOrderedPolicies().map((x) => x.name);
    const trimmed = names(trimmedPipeline(client));
    expect(trimmed).not.to.include('directdropSharedKeyLite');
    const auth = trimmed.filter((n) => /bearer|token|auth/i.test(n));
    expect(auth).to.deep.equal(names(client.pipeline).filter((n) => /bearer|token|auth/i.test(n)));
    expect(auth).to.have.lengthOf(1);
    expect(trimmed).to.include('defaultRetryPolicy');
  });
});
