import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { BlobServiceClient, type StoragePipelineOptions } from '@azure/storage-blob';
import { expect } from 'chai';
import { UserDelegationSasSigner } from '../../functions/adapters/sas-signer';
import { uploadSasPolicy } from '../../functions/core/sas-policy';
import { type RunningAzurite, startAzurite } from '../../local/azurite';
import { freePort } from '../helpers/azurite-fixture';

/**
 * Azurite's `--oauth basic` checks a bearer token's issuer, audience and lifetime but
 * not its signature, which lets this test stand in for Entra ID with a real token shape.
 */
class AzuriteBasicOAuthCredential implements TokenCredential {
  async getToken(): Promise<AccessToken> {
    const now = Math.floor(Date.now() / 1000);
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const claims = {
      iss: 'https://sts.windows.net/ab1f708d-50f6-404c-a006-d71b2ac7a606/',
      aud: 'https://storage.azure.com',
      nbf: now - 60,
      iat: now - 60,
      exp: now + 3600,
      oid: '23657296-5cd5-45b0-a809-d972a7f4dfe1',
      tid: 'ab1f708d-50f6-404c-a006-d71b2ac7a606',
    };
    return {
      token: `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims)}.sig`,
      expiresOnTimestamp: (now + 3600) * 1000,
    };
  }
}

function httpsRequest(
  url: string,
  method: string,
  ca: Buffer,
  body?: string,
  headers: Record<string, string> = {},
) {
  return new Promise<number>((resolve, reject) => {
    const req = request(url, { method, ca, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('sas-signer: user delegation key over HTTPS + OAuth (Azurite)', function () {
  this.timeout(60_000);
  let folder: string;
  let azurite: RunningAzurite;
  let ca: Buffer;
  let service: BlobServiceClient;

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'directdrop-oauth-'));
    const [cert, key] = [join(folder, 'cert.pem'), join(folder, 'key.pem')];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    ca = await readFile(cert);
    azurite = await startAzurite({
      location: join(folder, 'data'),
      blobPort: await freePort(),
      queuePort: await freePort(),
      cert,
      key,
      oauth: true,
    });
    // The self-signed certificate is trusted for this client only.
    const options = { tlsOptions: { ca } } as StoragePipelineOptions;
    service = new BlobServiceClient(
      azurite.blobEndpoint,
      new AzuriteBasicOAuthCredential(),
      options,
    );
    await service.getContainerClient('uploads').createIfNotExists();
  });
  after(async () => {
    await azurite?.stop();
    await rm(folder, { recursive: true, force: true });
  });

  // Azurite only accepts user delegation SAS up to its own service version.
  const newSigner = () => new UserDelegationSasSigner(service, { sasVersion: '2025-11-05' });

  it('signs an HTTPS-only, create-only URL that uploads once and refuses reads and overwrites', async () => {
    const signer = newSigner();
    const url = await signer.signBlobUrl('uploads', 'a/b.jpg', uploadSasPolicy(new Date(), 600));
    const params = new URL(url).searchParams;
    expect(params.get('spr')).to.equal('https');
    expect(params.get('sp')).to.equal('c');
    expect(params.get('skoid'), 'a user delegation SAS names the key owner').to.equal(
      '23657296-5cd5-45b0-a809-d972a7f4dfe1',
    );
    const headers = { 'x-ms-blob-type': 'BlockBlob', 'content-type': 'image/jpeg' };
    expect(await httpsRequest(url, 'PUT', ca, 'abc', headers)).to.equal(201);
    expect(await httpsRequest(url, 'GET', ca)).to.equal(403);
    expect(await httpsRequest(url, 'PUT', ca, 'evil', headers)).to.be.oneOf([403, 409]);
  });

  it('fetches the delegation key once and reuses it, also under concurrent first use', async () => {
    const signer = newSigner();
    const policy = uploadSasPolicy(new Date(), 600);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => signer.signBlobUrl('uploads', `c/${i}.jpg`, policy)),
    );
    for (let i = 0; i < 50; i++) await signer.signBlobUrl('uploads', `d/${i}.jpg`, policy);
    expect(signer.keyFetches).to.equal(1);
  });

  it('refreshes the key well before it expires', async () => {
    let clock = Date.now();
    const signer = new UserDelegationSasSigner(service, {
      sasVersion: '2025-11-05',
      keyLifetimeMs: 3 * 3600_000,
      refreshMarginMs: 3600_000,
      now: () => new Date(clock),
    });
    const sign = () =>
      signer.signBlobUrl('uploads', 'e.jpg', uploadSasPolicy(new Date(clock), 600));
    await sign();
    clock += 90 * 60_000; // 1.5 h left: still fresh
    await sign();
    expect(signer.keyFetches).to.equal(1);
    clock += 45 * 60_000; // 45 min left: inside the refresh margin
    await sign();
    expect(signer.keyFetches).to.equal(2);
  });
});
