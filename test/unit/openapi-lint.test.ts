/**
 * The OpenAPI document against a mainstream linter: Redocly's `recommended` rules
 * (@redocly/openapi-core, the library under `redocly lint`), every warning included.
 */
import { expect } from 'chai';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { OPENAPI_DOCUMENT } from '../../functions/core/openapi';

async function lint(document: object): Promise<string[]> {
  const config = await createConfig({ extends: ['recommended'] });
  const problems = await lintFromString({
    source: JSON.stringify(document, null, 2),
    absoluteRef: 'openapi.json',
    config,
  });
  return problems.map(
    (p) =>
      `${p.severity} ${p.ruleId}: ${p.message} (${p.location.map((l) => l.pointer).join(', ')})`,
  );
}

describe('OpenAPI document, linted', function () {
  this.timeout(20_000);

  it('passes Redocly’s recommended rules without an error or a warning', async function () {
    expect(await lint(OPENAPI_DOCUMENT)).to.deep.equal([]);
  });

  it('is linted for real: an operation without a 4XX is reported', async function () {
    const broken = structuredClone(OPENAPI_DOCUMENT) as unknown as {
      paths: Record<string, Record<string, { responses: Record<string, object> }>>;
    };
    delete broken.paths['/limits'].get.responses['4XX'];
    expect(await lint(broken))
      .to.have.length(1)
      .and.satisfy((p: string[]) => p[0].includes('operation-4xx-response'));
  });
});
