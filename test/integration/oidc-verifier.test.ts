/** The OIDC verifier's key handling against a real local discovery + JWKS server. */
import { expect } from 'chai';
import {
  IdentityProviderUnavailableError,
  InvalidTokenError,
  OidcVerifier,
  discoveryUrl,
} from '../../functions/adapters/oidc-verifier';
import {
  type LocalProviders,
  type TestKey,
  signToken,
  startLocalProviders,
  testKey,
} from '../helpers/identity-providers';

describe('oidc-verifier (local discovery and JWKS)', () => {
  let idp: LocalProviders;
  let key: TestKey;
  let issuer: string;
  const claims = { sub: 'alice', aud: 'api' };

  before(async () => {
    [idp, key] = await Promise.all([startLocalProviders(), testKey('k1')]);
    idp.keys = [key];
    issuer = `${idp.origin}/tenant`;
  });
  after(() => idp.close());

  const verifier = (cooldownMs = 0) =>
    new OidcVerifier({ issuer, audiences: ['api'], algorithms: ['RS256', 'ES256'], cooldownMs });

  it('finds the discovery document under the issuer, trailing slash or not', () => {
    expect(discoveryUrl('https://x.auth0.com/').href).to.equal(
      'https://x.auth0.com/.well-known/openid-configuration',
    );
    expect(discoveryUrl('https://securetoken.google.com/proj').href).to.equal(
      'https://securetoken.google.com/proj/.well-known/openid-configuration',
    );
  });

  it('caches keys: many verifications, one JWKS fetch', async () => {
    const v = verifier(30_000);
    const before = idp.jwksFetches;
    for (let i = 0; i < 5; i++) {
      const { principal } = await v.verify(await signToken({ key, issuer, claims }));
      expect(principal).to.deep.equal({ issuer, subject: 'alice' });
    }
    expect(idp.jwksFetches - before).to.equal(1);
  });

  it('an unknown kid makes it fetch the JWKS again, then refuses the token', async () => {
    const v = verifier();
    await v.verify(await signToken({ key, issuer, claims }));
    const before = idp.jwksFetches;
    const stranger = await testKey('unpublished');
    let caught: unknown;
    await v.verify(await signToken({ key: stranger, issuer, claims })).catch((e) => (caught = e));
    expect(caught).to.be.instanceOf(InvalidTokenError);
    expect(idp.jwksFetches - before).to.equal(1);
  });

  it('a key rotated in after the first fetch is found by refetching on its kid', async () => {
    const v = verifier();
    await v.verify(await signToken({ key, issuer, claims }));
    const next = await testKey('k2', 'ES256');
    idp.keys = [key, next];
    try {
      const { principal } = await v.verify(await signToken({ key: next, issuer, claims }));
      expect(principal.subject).to.equal('alice');
    } finally {
      idp.keys = [key];
    }
  });

  it('within the cooldown an unknown kid does not refetch (no JWKS flood from forged kids)', async () => {
    const v = verifier(30_000);
    await v.verify(await signToken({ key, issuer, claims }));
    const before = idp.jwksFetches;
    const stranger = await testKey('forged');
    for (let i = 0; i < 3; i++) {
      await v.verify(await signToken({ key: stranger, issuer, claims })).catch(() => undefined);
    }
    expect(idp.jwksFetches).to.equal(before);
  });

  it('a discovery document naming another issuer is refused as a provider fault', async () => {
    const v = new OidcVerifier({
      issuer: `${idp.origin}/auth0`,
      audiences: ['api'],
      algorithms: ['RS256'],
    });
    // The server names `<origin>/auth0/` (with the slash) as the issuer there.
    let caught: unknown;
    await v
      .verify(await signToken({ key, issuer: `${idp.origin}/auth0`, claims }))
      .catch((e) => (caught = e));
    expect(caught).to.be.instanceOf(IdentityProviderUnavailableError);
  });

  it('an unreachable provider is unavailable, not an invalid token', async () => {
    const v = new OidcVerifier({
      issuer: 'http://127.0.0.1:9/nothing',
      audiences: ['api'],
      algorithms: ['RS256'],
      timeoutMs: 1000,
    });
    let caught: unknown;
    await v.verify(await signToken({ key, issuer, claims })).catch((e) => (caught = e));
    expect(caught).to.be.instanceOf(IdentityProviderUnavailableError);
  });
});
