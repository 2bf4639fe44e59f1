/**
 * The client package ships without the server, so it copies the server's lists: rejection
 * and failure reasons (checked at compile time against functions/core/manifest.ts) and the
 * API's error codes (checked against the OpenAPI document the API serves).
 */
import { expect } from 'chai';
import {
  type ApiErrorCode,
  FAIL_REASON_MESSAGES,
  type FailReason,
  REJECT_REASON_MESSAGES,
  type RejectReason,
} from '../../client/src/errors';
import type {
  FailReason as ServerFailReason,
  RejectReason as ServerRejectReason,
} from '../../functions/core/manifest';
import { OPENAPI_DOCUMENT } from '../../functions/core/openapi';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// `npm run typecheck` fails here when the lists differ.
const sameReasons: Same<RejectReason, ServerRejectReason> = true;
const sameFailReasons: Same<FailReason, ServerFailReason> = true;

/** Every ApiErrorCode once, by construction: a missing or extra key does not compile. */
const CLIENT_API_CODES = Object.keys({
  'invalid-json': true,
  'invalid-body': true,
  'invalid-file-name': true,
  'invalid-content-type': true,
  'invalid-size': true,
  'invalid-metadata': true,
  'invalid-upload-id': true,
  'invalid-query': true,
  unauthorized: true,
  'invalid-token': true,
  'insufficient-scope': true,
  'listing-unavailable': true,
  'upload-not-found': true,
  'file-too-large': true,
  'body-too-large': true,
  'unsupported-media-type': true,
  'content-type-not-allowed': true,
  'quota-exceeded': true,
  'storage-unavailable': true,
  'identity-provider-unavailable': true,
  'quota-busy': true,
} satisfies Record<ApiErrorCode, true>);

/** The values any `code` property's schema allows (`enum` or `const`), anywhere in the document. */
function documentedCodes(node: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(node)) {
    for (const item of node) documentedCodes(item, found);
  } else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      const schema = value as { enum?: unknown[]; const?: unknown };
      if (key === 'code' && schema && typeof schema === 'object') {
        for (const code of [...(schema.enum ?? []), ...('const' in schema ? [schema.const] : [])])
          found.add(String(code));
      }
      documentedCodes(value, found);
    }
  }
  return found;
}

describe('client errors', () => {
  it('know every rejection and failure reason the server records, with a sentence for each', () => {
    expect(sameReasons && sameFailReasons).to.equal(true);
    for (const message of [
      ...Object.values(REJECT_REASON_MESSAGES),
      ...Object.values(FAIL_REASON_MESSAGES),
    ]) {
      expect(message).to.match(/\.$/);
    }
  });

  it('know exactly the error codes the OpenAPI document lists', () => {
    const documented = documentedCodes(OPENAPI_DOCUMENT);
    expect([...CLIENT_API_CODES].sort()).to.deep.equal([...documented].sort());
  });
});
