/**
 * Sign-in through the real createUpload and getUploadStatus handlers against Azurite, with
 * tokens in the claim shapes of Entra ID, Auth0, Firebase, Cognito and Google, signed by
 * test keys a local discovery + JWKS server publishes, and every way a token can be wrong.
 */
import { createHmac } from 'node:crypto';
import type { HttpResponseInit } from '@azure/functions';
import { expect } from 'chai';
import { type Runtime, createRuntime } from '../../functions/adapters/runtime';
import { OWNER_KEY_SETTING, SETTING_KEYS } from '../../functions/core/settings';
import { createUploadHandler } from '../../functions/handlers/create-upload';
import { getUploadStatusHandler } from '../../functions/handlers/get-upload-status';
import { DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME } from '../../local/azurite';
import { type AzuriteSandbox, startAzuriteSandbox } from '../../local/azurite-sandbox';
import { startCountingProxy } from '../helpers/counting-proxy';
import {
  type LoggedLine,
  bodyOf,
  getStatus,
  invocationContext,
  postJson,
} from '../helpers/functions';
import {
  type LocalProviders,
  type TestKey,
  signToken,
  startLocalProviders,
  testKey,
} from '../helpers/identity-providers';

const OWNER_KEY = 'test-owner-key-0123456789abcdef0123456789';
const BODY = JSON.stringify({ fileName: 'cat.jpg', contentType: 'image/jpeg', size: 1234 });

describe('caller (sign-in modes against a local JWKS and Azurite)', function () {
  this.timeout(30_000);
  let storage: AzuriteSandbox;
  let idp: LocalProviders;
  let rsa: TestKey;
  let ec: TestKey;
  const log: LoggedLine[] = [];

  before(async () => {
    [storage, idp, rsa, ec] = await Promise.all([
      startAzuriteSandbox(),
      startLocalProviders(),
      testKey('rsa-1', 'RS256'),
      testKey('ec-1', 'ES256'),
    ]);
    idp.keys = [rsa, ec];
  });
  after(() => Promise.all([storage?.stop(), idp?.close()]));

  function oidcRuntime(issuer: string, audience: string, extra: Record<string, string> = {}) {
    return createRuntime({
      ...storage.env,
      [SETTING_KEYS.authMode]: 'oidc',
      [SETTING_KEYS.authIssuer]: issuer,
      [SETTING_KEYS.authAudiences]: audience,
      [OWNER_KEY_SETTING]: OWNER_KEY,
      ...extra,
    });
  }

  async function post(
    runtime: Runtime,
    headers: Record<string, string>,
  ): Promise<HttpResponseInit> {
    return createUploadHandler(() => runtime)(
      postJson(BODY, headers),
      invocationContext('createUpload', log),
    );
  }
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  const providers = (origin: string) => [
    {
      name: 'Microsoft Entra ID (v2 access token, scp)',
      issuer: `${origin}/entra/ab1f708d-50f6-404c-a006-d71b2ac7a606/v2.0`,
      audience: '6e74172b-be56-4843-9ff4-e66a39bb12e3',
      claims: {
        sub: 'AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ',
        aud: '6e74172b-be56-4843-9ff4-e66a39bb12e3',
        oid: '00000000-0000-0000-66f3-3332eca7ea81',
        tid: 'ab1f708d-50f6-404c-a006-d71b2ac7a606',
        scp: 'Uploads.Write User.Read',
        ver: '2.0',
      },
      scope: 'Uploads.Write',
    },
    {
      name: 'Microsoft Entra ID (app-only token, roles)',
      issuer: `${origin}/entra/ab1f708d-50f6-404c-a006-d71b2ac7a606/v2.0`,
      audience: 'api://directdrop',
      claims: {
        sub: 'c7d1f9a0-app',
        aud: 'api://directdrop',
        roles: ['Uploads.Write'],
        idtyp: 'app',
      },
      scope: 'Uploads.Write',
    },
    {
      name: 'Auth0 (issuer with a trailing slash, aud list, scope and permissions)',
      issuer: `${origin}/auth0/`,
      audience: 'https://api.directdrop.example',
      claims: {
        sub: 'auth0|64f1c2d3e4a5b6c7d8e9f0a1',
        aud: ['https://api.directdrop.example', `${origin}/auth0/userinfo`],
        azp: 'kPq9w8e7r6t5y4u3i2o1',
        scope: 'openid profile',
        permissions: ['upload:create'],
      },
      scope: 'upload:create',
    },
    {
      name: 'Firebase Auth (ID token)',
      issuer: `${origin}/securetoken/directdrop-demo`,
      audience: 'directdrop-demo',
      claims: {
        sub: 'Xy1kq9RzN3b0ZyvA4zQ8uT2mPp42',
        user_id: 'Xy1kq9RzN3b0ZyvA4zQ8uT2mPp42',
        aud: 'directdrop-demo',
        auth_time: Math.floor(Date.now() / 1000) - 60,
        firebase: { identities: { email: ['a@example.com'] }, sign_in_provider: 'password' },
      },
      scope: '',
    },
    {
      name: 'Amazon Cognito (access token: client_id, token_use, no aud)',
      issuer: `${origin}/cognito/us-east-1_Ab12Cd34E`,
      audience: '3n4b5urk1ft4fl3mg5e62d9ado',
      claims: {
        sub: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
        client_id: '3n4b5urk1ft4fl3mg5e62d9ado',
        token_use: 'access',
        scope: 'directdrop/uploads aws.cognito.signin.user.admin',
        username: 'alice',
      },
      scope: 'directdrop/uploads',
    },
    {
      name: 'Google (ID token)',
      issuer: `${origin}/google`,
      audience: '1234567890-abc.apps.googleusercontent.com',
      claims: {
        sub: '110169484474386276334',
        aud: '1234567890-abc.apps.googleusercontent.com',
        azp: '1234567890-abc.apps.googleusercontent.com',
        email: 'alice@example.com',
        email_verified: true,
      },
      scope: '',
    },
  ];

  describe('accepts each provider configured by issuer and audience alone', () => {
    for (const index of [0, 1, 2, 3, 4, 5]) {
      it(`provider ${index + 1}`, async () => {
        const p = providers(idp.origin)[index];
        const runtime = oidcRuntime(p.issuer, p.audience, {
          [SETTING_KEYS.authRequiredScope]: p.scope,
        });
        const token = await signToken({
          key: index % 2 ? ec : rsa,
          issuer: p.issuer,
          claims: p.claims,
        });
        const response = await post(runtime, bearer(token));
        expect(response.status, p.name).to.equal(201);
        const blobName = new URL(bodyOf(response).uploadUrl as string).pathname.split('/')[3];
        expect(blobName, 'the owner hash, never the subject').to.match(/^[0-9a-f]{32}$/);
        expect(JSON.stringify(log)).not.to.contain(token);
      });
    }
  });

  describe('refuses with 401 invalid_token, saying nothing about which check failed', () => {
    const issuerPath = '/entra/t1/v2.0';
    const audience = 'api://directdrop';
    let runtime: Runtime;
    let issuer: string;
    const good = { sub: 'alice', aud: audience };
    before(() => {
      issuer = `${idp.origin}${issuerPath}`;
      runtime = oidcRuntime(issuer, audience);
    });

    async function expectInvalid(token: string) {
      const response = await post(runtime, bearer(token));
      expect(response.status).to.equal(401);
      expect(response.headers).to.deep.include({
        'WWW-Authenticate': 'Bearer realm="directdrop", error="invalid_token"',
      });
      expect(response.jsonBody).to.deep.equal({
        error: {
          code: 'invalid-token',
          message: 'The bearer token is not valid. Sign in again and retry.',
        },
      });
      expect(JSON.stringify(log)).not.to.contain(token.split('.')[2] || token);
    }

    it('a valid token is accepted (the baseline the cases below break)', async () => {
      const response = await post(
        runtime,
        bearer(await signToken({ key: rsa, issuer, claims: good })),
      );
      expect(response.status).to.equal(201);
    });
    it('expired', async () => {
      await expectInvalid(await signToken({ key: rsa, issuer, claims: good, expiresIn: -120 }));
    });
    it('not yet valid (nbf beyond the clock skew)', async () => {
      await expectInvalid(await signToken({ key: rsa, issuer, claims: good, notBefore: 600 }));
    });
    it('wrong issuer (another provider on the same keys)', async () => {
      await expectInvalid(
        await signToken({ key: rsa, issuer: `${idp.origin}/other`, claims: good }),
      );
    });
    it('wrong audience', async () => {
      await expectInvalid(
        await signToken({ key: rsa, issuer, claims: { ...good, aud: 'api://someone-else' } }),
      );
    });
    it('no audience and no Cognito-style client_id', async () => {
      await expectInvalid(
        await signToken({ key: rsa, issuer, claims: { sub: 'alice', client_id: audience } }),
      );
    });
    it('no subject', async () => {
      await expectInvalid(await signToken({ key: rsa, issuer, claims: { aud: audience } }));
    });
    it('unknown kid (the verifier test covers the refetch itself)', async () => {
      const stranger = await testKey('not-published');
      await expectInvalid(await signToken({ key: stranger, issuer, claims: good }));
    });
    it('alg none', async () => {
      const encode = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
      const now = Math.floor(Date.now() / 1000);
      await expectInvalid(
        `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ ...good, iss: issuer, iat: now, exp: now + 600 })}.`,
      );
    });
    it('HS256 signed with the public key as the HMAC secret', async () => {
      const encode = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
      const now = Math.floor(Date.now() / 1000);
      const input = `${encode({ alg: 'HS256', typ: 'JWT', kid: rsa.kid })}.${encode({ ...good, iss: issuer, iat: now, exp: now + 600 })}`;
      for (const secret of [JSON.stringify(rsa.publicJwk), rsa.publicJwk.n as string]) {
        const signature = createHmac('sha256', secret).update(input).digest('base64url');
        await expectInvalid(`${input}.${signature}`);
      }
    });
    it('tampered payload (subject changed after signing)', async () => {
      const [header, , signature] = (await signToken({ key: rsa, issuer, claims: good })).split(
        '.',
      );
      const now = Math.floor(Date.now() / 1000);
      const payload = Buffer.from(
        JSON.stringify({ ...good, sub: 'mallory', iss: issuer, iat: now, exp: now + 600 }),
      ).toString('base64url');
      await expectInvalid(`${header}.${payload}.${signature}`);
    });
    it('a malformed Authorization header', async () => {
      for (const value of [
        'Bearer',
        'Bearer not a jwt',
        'Basic YWxpY2U6c2VjcmV0',
        'Bearer a.b.c.d',
      ]) {
        const response = await post(runtime, { authorization: value });
        expect(response.status, value).to.equal(401);
      }
    });
  });

  it('a missing token answers 401 with a bare Bearer challenge', async () => {
    const runtime = oidcRuntime(`${idp.origin}/google`, 'x');
    const response = await post(runtime, {});
    expect(response.status).to.equal(401);
    expect(response.headers).to.deep.include({ 'WWW-Authenticate': 'Bearer realm="directdrop"' });
    expect(bodyOf(response).error).to.deep.include({ code: 'unauthorized' });
  });

  it('a valid token without the required scope answers 403 insufficient_scope', async () => {
    const issuer = `${idp.origin}/auth0/`;
    const runtime = oidcRuntime(issuer, 'api', {
      [SETTING_KEYS.authRequiredScope]: 'upload:create',
    });
    const token = await signToken({
      key: rsa,
      issuer,
      claims: { sub: 'bob', aud: 'api', scope: 'openid', permissions: ['read'] },
    });
    const response = await post(runtime, bearer(token));
    expect(response.status).to.equal(403);
    expect(response.headers).to.deep.include({
      'WWW-Authenticate':
        'Bearer realm="directdrop", error="insufficient_scope", scope="upload:create"',
    });
    expect(bodyOf(response).error).to.deep.include({ code: 'insufficient-scope' });
  });

  it('an identity provider that is down answers 503 with Retry-After, not 401', async () => {
    const issuer = `${idp.origin}/down`;
    const runtime = oidcRuntime(issuer, 'api');
    idp.failWith = 500;
    try {
      const token = await signToken({ key: rsa, issuer, claims: { sub: 'x', aud: 'api' } });
      const response = await post(runtime, bearer(token));
      expect(response.status).to.equal(503);
      expect(response.headers).to.deep.include({ 'Retry-After': '5' });
    } finally {
      idp.failWith = undefined;
    }
  });

  describe('ownership', () => {
    it("another user's upload id answers 404 with the body of an unknown id, before and after processing", async () => {
      const issuer = `${idp.origin}/google`;
      const runtime = oidcRuntime(issuer, 'web');
      const token = (sub: string) => signToken({ key: rsa, issuer, claims: { sub, aud: 'web' } });
      const [alice, bob] = await Promise.all([token('alice'), token('bob')]);
      const issued = bodyOf(await post(runtime, bearer(alice)));
      const uploadId = issued.uploadId as string;
      await fetch(issued.uploadUrl as string, {
        method: 'PUT',
        headers: issued.headers as Record<string, string>,
        body: new Uint8Array(1234),
      });
      const status = getUploadStatusHandler(() => runtime);
      const ask = async (who: string, id = uploadId) => {
        const request = getStatus(id);
        request.headers.set('authorization', `Bearer ${who}`);
        return status(request, invocationContext('getUploadStatus', log));
      };
      expect(bodyOf(await ask(alice))).to.deep.include({ status: 'pending' });
      const stranger = await ask(bob);
      const unknown = await ask(bob, '3f2b8c1e-9d4a-4b6f-8e2a-1c3d5e7f9a0b');
      expect(stranger.status).to.equal(404);
      expect(stranger.jsonBody).to.deep.equal(unknown.jsonBody);
      expect(
        (await status(getStatus(uploadId), invocationContext('getUploadStatus', log))).status,
      ).to.equal(401);
    });

    it('an unknown id and another caller’s id do exactly the same storage work: one point read in the caller’s partition', async () => {
      const issuer = `${idp.origin}/google`;
      const [blob, table] = await Promise.all([
        startCountingProxy(storage.azurite.blobEndpoint),
        startCountingProxy(storage.azurite.tableEndpoint),
      ]);
      try {
        const connection =
          `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT_NAME};AccountKey=${DEV_ACCOUNT_KEY};` +
          `BlobEndpoint=${blob.endpoint};QueueEndpoint=${storage.azurite.queueEndpoint};TableEndpoint=${table.endpoint};`;
        const runtime = oidcRuntime(issuer, 'web', { DirectdropStorage: connection });
        const token = (sub: string) => signToken({ key: rsa, issuer, claims: { sub, aud: 'web' } });
        const [alice, bob] = await Promise.all([token('alice'), token('bob')]);
        const issued = bodyOf(await post(runtime, bearer(alice)));
        // Processed, as in the review that found the 404s apart (~0.9 ms quicker for an existing id).
        const aliceOwner = new URL(issued.uploadUrl as string).pathname.split('/')[3];
        await runtime.uploads.recordOutcome(aliceOwner, issued.uploadId as string, {
          status: 'processed',
          completedAt: new Date().toISOString(),
          original: { format: 'jpeg', width: 1, height: 1, size: 1234 },
          outputs: [],
        });
        const status = getUploadStatusHandler(() => runtime);
        const ask = async (id: string) => {
          const request = getStatus(id);
          request.headers.set('authorization', `Bearer ${bob}`);
          blob.reset();
          table.reset();
          const response = await status(request, invocationContext('getUploadStatus', log));
          return { response, work: [...blob.requests, ...table.requests] };
        };
        await ask('3f2b8c1e-9d4a-4b6f-8e2a-1c3d5e7f9a0b'); // the token check, once
        const stranger = await ask(issued.uploadId as string);
        const unknown = await ask('0d8c5a1e-2b4f-4c6d-8e9f-a1b2c3d4e5f6');
        expect(stranger.response.status).to.equal(404);
        expect(stranger.response.jsonBody).to.deep.equal(unknown.response.jsonBody);
        expect(stranger.work).to.have.length(1);
        expect(stranger.work[0]).to.match(/^GET \/devstoreaccount1\/directdropuploads\(/);
        // The same request, but for another row key: the partition is Bob's in both.
        const shape = (line: string) => line.replace(/RowKey='upload-[0-9a-f-]+'/, "RowKey='…'");
        expect(stranger.work.map(shape)).to.deep.equal(unknown.work.map(shape));
      } finally {
        await Promise.all([blob.close(), table.close()]);
      }
    });
  });

  describe('anonymous mode', () => {
    it('tells callers apart by the last X-Forwarded-For hop, as App Service appends it', async () => {
      const runtime = createRuntime({
        ...storage.env,
        [SETTING_KEYS.authMode]: 'anonymous',
        [OWNER_KEY_SETTING]: OWNER_KEY,
      });
      const ownerOf = async (xff: string) => {
        const response = await post(runtime, { 'x-forwarded-for': xff });
        expect(response.status).to.equal(201);
        return new URL(bodyOf(response).uploadUrl as string).pathname.split('/')[3];
      };
      const direct = await ownerOf('203.0.113.7:51234');
      expect(
        await ownerOf('198.51.100.1, 203.0.113.7:40000'),
        'a forged first hop changes nothing',
      ).to.equal(direct);
      expect(await ownerOf('203.0.113.8:51234')).not.to.equal(direct);
    });
  });
});
