import { expect } from 'chai';
import {
  ANONYMOUS_ISSUER,
  audienceMatches,
  bearerToken,
  clientAddress,
  hasScope,
  ownerHash,
} from '../../functions/core/auth';

describe('auth', () => {
  it('owner hashes are keyed, 32 hex digits, and differ by issuer, subject and key', () => {
    const alice = { issuer: 'https://idp.example/', subject: 'alice' };
    const hash = ownerHash('k'.repeat(32), alice);
    expect(hash).to.match(/^[0-9a-f]{32}$/);
    expect(hash).not.to.contain('alice');
    expect(ownerHash('k'.repeat(32), alice)).to.equal(hash);
    expect(ownerHash('j'.repeat(32), alice)).not.to.equal(hash);
    expect(ownerHash('k'.repeat(32), { ...alice, issuer: 'https://other/' })).not.to.equal(hash);
    // Length-prefixing keeps issuer and subject apart.
    expect(ownerHash('k'.repeat(32), { issuer: 'a|b', subject: 'c' })).not.to.equal(
      ownerHash('k'.repeat(32), { issuer: 'a', subject: 'b|c' }),
    );
  });

  it('reads RFC 6750 bearer tokens and nothing else', () => {
    expect(bearerToken(undefined)).to.deep.equal({ kind: 'missing' });
    expect(bearerToken('  ')).to.deep.equal({ kind: 'missing' });
    expect(bearerToken('bearer a.b.c')).to.deep.equal({ kind: 'token', token: 'a.b.c' });
    for (const bad of [
      'Basic abc',
      'Bearer',
      'Bearer a b',
      'Bearer a.b',
      `Bearer ${'a'.repeat(20000)}.b.c`,
    ])
      expect(bearerToken(bad), bad).to.deep.equal({ kind: 'malformed' });
  });

  it('matches audiences as each provider sends them', () => {
    expect(audienceMatches({ aud: 'api' }, ['api'])).to.equal(true);
    expect(audienceMatches({ aud: ['x', 'api'] }, ['api'])).to.equal(true);
    expect(audienceMatches({ aud: 'x' }, ['api'])).to.equal(false);
    expect(audienceMatches({ client_id: 'api', token_use: 'access' }, ['api'])).to.equal(true);
    expect(audienceMatches({ client_id: 'api' }, ['api'])).to.equal(false);
    expect(audienceMatches({ aud: 'x', client_id: 'api', token_use: 'access' }, ['api'])).to.equal(
      false,
    );
  });

  it('finds a required scope or role in scp, scope, permissions or roles', () => {
    expect(hasScope({}, '')).to.equal(true);
    expect(hasScope({ scp: 'a Uploads.Write' }, 'Uploads.Write')).to.equal(true);
    expect(hasScope({ scope: 'openid upload' }, 'upload')).to.equal(true);
    expect(hasScope({ permissions: ['upload'] }, 'upload')).to.equal(true);
    expect(hasScope({ roles: ['Uploader'] }, 'Uploader')).to.equal(true);
    expect(hasScope({ scope: 'uploads' }, 'upload')).to.equal(false);
    expect(hasScope({ sub: 'upload' }, 'upload')).to.equal(false);
  });

  it('takes the client address from the hop App Service appends last', () => {
    expect(clientAddress('203.0.113.7:51234')).to.equal('203.0.113.7');
    expect(clientAddress('1.2.3.4, 203.0.113.7:51234')).to.equal('203.0.113.7');
    expect(clientAddress('[2001:db8::1]:443')).to.equal('2001:db8::1');
    expect(clientAddress('2001:db8::1')).to.equal('2001:db8::1');
    expect(clientAddress('nonsense')).to.equal(undefined);
    expect(clientAddress(null)).to.equal(undefined);
    expect(ANONYMOUS_ISSUER).to.match(/^urn:/);
  });
});
