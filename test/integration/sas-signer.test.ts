import { request } from 'node:https';
import { expect } from 'chai';
import { SAS_SERVICE_VERSION, UserDelegationSasSigner } from '../../functions/adapters/sas-signer';
import { readSasPolicy, uploadSasPolicy } from '../../functions/core/sas-policy';
import { SETTING_LIMITS } from '../../functions/core/settings';
import {
  type AzuriteSandbox,
  UnsignedEntraCredential,
  startAzuriteSandbox,
} from '../../local/azurite-sandbox';

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
  let sandbox: AzuriteSandbox;
  let ca: Buffer;

  before(async () => {
    // HTTPS with a self-signed certificate and `--oauth basic`, standing in for Entra ID.
    sandbox = await startAzuriteSandbox({ oauth: true });
    ca = sandbox.ca!;
  });
  after(() => sandbox?.stop());

  const newSigner = () => new UserDelegationSasSigner(sandbox.service);

  it('signs an HTTPS-only, create-only URL that uploads once and refuses reads and overwrites', async () => {
    const signer = newSigner();
    const url = await signer.signBlobUrl('uploads', 'a/b.jpg', uploadSasPolicy(new Date(), 600));
    const params = new URL(url).searchParams;
    expect(params.get('spr')).to.equal('https');
    expect(params.get('sp')).to.equal('c');
    expect(params.get('skoid'), 'a user delegation SAS names the key owner').to.equal(
      UnsignedEntraCredential.objectId,
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
    const signer = new UserDelegationSasSigner(sandbox.service, {
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

  it('signs at the pinned service version, so a create-only URL cannot Put Block', async () => {
    const url = await newSigner().signBlobUrl('uploads', 'f.jpg', uploadSasPolicy(new Date(), 600));
    expect(new URL(url).searchParams.get('sv')).to.equal(SAS_SERVICE_VERSION);
    const block = Buffer.from('block-0').toString('base64');
    expect(
      await httpsRequest(
        `${url}&comp=block&blockid=${encodeURIComponent(block)}`,
        'PUT',
        ca,
        'abc',
      ),
    ).to.equal(403);
  });

  it('keeps one key for the longest signatures the settings allow, and every one ends before it', async () => {
    let clock = Date.now();
    const signer = new UserDelegationSasSigner(sandbox.service, { now: () => new Date(clock) });
    const longest = SETTING_LIMITS.readUrlTtlSeconds.max;
    for (let hour = 0; hour < 6; hour++) {
      const policy = readSasPolicy(new Date(clock), longest);
      const url = await signer.signBlobUrl('processed', 'g.webp', policy);
      const keyExpiry = new Date(new URL(url).searchParams.get('ske') ?? 0);
      expect(keyExpiry.getTime()).to.be.at.least(policy.expiresOn.getTime());
      clock += 3600_000;
    }
    expect(signer.keyFetches).to.equal(1);
  });
});
