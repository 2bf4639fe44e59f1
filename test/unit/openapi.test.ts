import { expect } from 'chai';
import { validate, compileErrors } from '@readme/openapi-parser';
import { OPENAPI_DOCUMENT } from '../../functions/core/openapi';
import { type HttpRegistration, registrations } from '../../functions/registrations';
import { apiContract } from '../helpers/openapi';

describe('OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document (@readme/openapi-parser)', async () => {
    const result = await validate(structuredClone(OPENAPI_DOCUMENT) as never);
    expect(result.valid, result.valid ? '' : compileErrors(result)).to.equal(true);
    expect(OPENAPI_DOCUMENT.openapi).to.equal('3.1.0');
    // And the parser does refuse a broken one: a response without its description.
    const broken = structuredClone(OPENAPI_DOCUMENT) as unknown as {
      paths: Record<string, Record<string, { responses: Record<string, object> }>>;
    };
    broken.paths['/limits'].get.responses['200'] = { content: {} };
    expect((await validate(broken as never)).valid).to.equal(false);
  });

  it('says what local mode checks: tokens of its development provider, no function keys', () => {
    const text = OPENAPI_DOCUMENT.info.description;
    // Issue 20: it used to say local mode checks neither a key nor a token.
    expect(text).to.not.match(/checks neither/i);
    expect(text).to.match(/local mode checks tokens of its built-in development provider/);
    expect(text).to.match(/local mode checks no keys/);
  });

  it('describes exactly the registered HTTP routes and methods', () => {
    const registered = registrations
      .filter((r): r is HttpRegistration => r.kind === 'http')
      .flatMap((r) => r.methods.map((m) => `${m.toLowerCase()} /${r.route}`))
      .sort();
    const documented = Object.entries(OPENAPI_DOCUMENT.paths)
      .flatMap(([path, operations]) => Object.keys(operations).map((m) => `${m} ${path}`))
      .sort();
    expect(documented).to.deep.equal(registered);
  });

  it('describes the errors of the upload routes with their headers', async () => {
    const contract = await apiContract();
    const error = (code: string) => ({ error: { code, message: 'm' } });
    expect(
      contract.problems('POST', '/uploads', {
        status: 503,
        headers: {},
        body: error('storage-unavailable'),
      }),
    ).to.deep.equal(['header Retry-After is missing']);
    expect(
      contract.problems('GET', '/uploads/{uploadId}', {
        status: 401,
        headers: { 'www-authenticate': 'Bearer realm="directdrop"' },
        body: error('unauthorized'),
      }),
    ).to.deep.equal([]);
    expect(
      contract.problems('POST', '/uploads', {
        status: 429,
        headers: { 'retry-after': '30' },
        body: error('quota-exceeded'),
      }),
    ).to.have.length(1);
    expect(
      contract.problems('POST', '/uploads', {
        status: 413,
        headers: {},
        body: error('invalid-json'),
      }),
    ).to.have.length(1);
    expect(
      contract.problems('POST', '/uploads', { status: 500, headers: {}, body: {} }),
    ).to.deep.equal(['POST /uploads documents no 500']);
  });
});
