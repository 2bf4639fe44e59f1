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

  describe('verified tokens are remembered until shortly before they expire', () => {
    it('a token presented again is not checked again: the very same result comes back', async () => {
      const v = verifier(30_000);
      const token = await signToken({ key, issuer, claims });
      const first = await v.verify(token);
      const again = await v.verify(token);
      expect(again).to.equal(first);
      expect(Object.isFrozen(first.claims)).to.equal(true);
      // Another token of the same subject is its own entry, checked on its own.
      const other = await v.verify(await signToken({ key, issuer, claims: { ...claims, n: 1 } }));
      expect(other).to.not.equal(first);
    });

    it('an expired token is never accepted from memory, whatever the clock tolerance', async () => {
      let nowMs = Date.now();
      const v = new OidcVerifier({
        issuer,
        audiences: ['api'],
        algorithms: ['RS256'],
        now: () => nowMs,
      });
      const token = await signToken({ key, issuer, claims, expiresIn: 120 });
      const first = await v.verify(token);
      expect(await v.verify(token)).to.equal(first);
      // Past exp by more than the tolerance: a fresh check refuses it, and memory must not answer.
      nowMs += (120 + 31) * 1000;
      let caught: unknown;
      await v.verify(token).catch((e) => (caught = e));
      expect(caught).to.be.instanceOf(InvalidTokenError);
      // Just before exp it is checked afresh (and still valid then): memory stopped serving it.
      nowMs -= 40_000;
      const fresh = await v.verify(token);
      expect(fresh).to.not.equal(first);
    });

    it('a token verified within the tolerance after its exp is not remembered at all', async () => {
      let nowMs = Date.now() + 70_000;
      const v = new OidcVerifier({
        issuer,
        audiences: ['api'],
        algorithms: ['RS256'],
        now: () => nowMs,
      });
      const token = await signToken({ key, issuer, claims, expiresIn: 60 });
      const first = await v.verify(token);
      expect(await v.verify(token)).to.not.equal(first);
      nowMs += 30_000;
      let caught: unknown;
      await v.verify(token).catch((e) => (caught = e));
      expect(caught).to.be.instanceOf(InvalidTokenError);
    });

    it('remembers a bounded number of tokens, the oldest leaving first', async () => {
      const v = new OidcVerifier({
        issuer,
        audiences: ['api'],
        algorithms: ['RS256'],
        maxCachedTokens: 2,
      });
      const tokens = await Promise.all(
        [1, 2, 3].map((n) => signToken({ key, issuer, claims: { ...claims, n } })),
      );
      const results = [];
      for (const token of tokens) results.push(await v.verify(token));
      expect(await v.verify(tokens[2])).to.equal(results[2]);
      expect(await v.verify(tokens[1])).to.equal(results[1]);
      expect(await v.verify(tokens[0]), 'evicted: checked again').to.not.equal(results[0]);
    });
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
