/**
 * docs/clients.md states lists and numbers the client produces; each is marked in the
 * Markdown (`<!-- name -->…<!-- /name -->`) and compared here with the code's own.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { FAIL_REASON_MESSAGES, REJECT_REASON_MESSAGES } from '../../client/src/errors';
import { DEFAULT_UPLOAD_ATTEMPTS } from '../../client/src/storage-put';

const CLIENTS_MD = readFileSync(resolve(__dirname, '../../docs/clients.md'), 'utf8');

function marked(name: string): string {
  const match = new RegExp(`<!-- ${name} -->([\\s\\S]*?)<!-- /${name} -->`).exec(CLIENTS_MD);
  if (!match) throw new Error(`docs/clients.md has no <!-- ${name} --> marker`);
  return match[1];
}
const codeList = (text: string) => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]).sort();

describe('docs/clients.md matches the client', () => {
  it('lists every rejection reason, and no other', () => {
    expect(codeList(marked('reject-reasons'))).to.deep.equal(
      Object.keys(REJECT_REASON_MESSAGES).sort(),
    );
  });

  it('lists every failure reason, and no other', () => {
    expect(codeList(marked('fail-reasons'))).to.deep.equal(
      Object.keys(FAIL_REASON_MESSAGES).sort(),
    );
  });

  it('states the default number of PUT attempts', () => {
    expect(Number(marked('upload-attempts'))).to.equal(DEFAULT_UPLOAD_ATTEMPTS);
    const row = CLIENTS_MD.split('\n').find((line) => line.startsWith('| `uploadAttempts`'));
    expect(row).to.contain(`| ${DEFAULT_UPLOAD_ATTEMPTS} `).and.contain('5xx and 429');
  });
});
