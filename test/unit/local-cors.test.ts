import { expect } from 'chai';
import {
  blobCorsOriginLists,
  corsOriginAllowed,
  mergeExposedHeaders,
  parseCorsOrigin,
} from '../../local/cors';

describe('local mode CORS origins', () => {
  it('allows every loopback page by default, and only the extra origins besides', () => {
    for (const origin of [
      'http://localhost:5173',
      'http://127.0.0.1:8080',
      'http://localhost',
      'http://localhost:7071',
    ]) {
      expect(corsOriginAllowed(origin, []), origin).to.equal(true);
    }
    for (const origin of [
      'https://localhost:5173',
      'http://localhost.evil.test',
      'http://localhost:5173.evil.test',
      'http://127.0.0.2:80',
      'https://app.example.com',
      'null',
    ]) {
      expect(corsOriginAllowed(origin, []), origin).to.equal(false);
    }
    expect(corsOriginAllowed('https://app.example.com', ['https://app.example.com'])).to.equal(
      true,
    );
  });

  it('gives Azurite one rule per port wildcard, since it stops at the first pattern of a rule', () => {
    expect(blobCorsOriginLists([])).to.deep.equal([['http://localhost:*'], ['http://127.0.0.1:*']]);
    expect(blobCorsOriginLists(['https://a.test', 'https://b.test'])).to.deep.equal([
      ['http://localhost:*'],
      ['http://127.0.0.1:*'],
      ['https://a.test', 'https://b.test'],
    ]);
  });

  it('accepts only bare origins', () => {
    expect(parseCorsOrigin('https://app.example.com:8443', 'x')).to.equal(
      'https://app.example.com:8443',
    );
    expect(() => parseCorsOrigin('https://app.example.com/path', 'x')).to.throw(/scheme, host/);
  });

  it('merges exposed header lists, case-insensitively, first spelling kept', () => {
    expect(
      mergeExposedHeaders('RateLimit-Limit, Retry-After', 'retry-after, X-Own', undefined),
    ).to.equal('RateLimit-Limit, Retry-After, X-Own');
    expect(mergeExposedHeaders('', undefined)).to.equal('');
  });
});
