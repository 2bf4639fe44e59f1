import { expect } from 'chai';
import { redactSecrets } from '../../local/log';

describe('log', () => {
  it('redacts SAS signatures and account keys from log text', () => {
    const line =
      'PUT http://h/c/b?sv=1&sig=abc%2Bdef&se=2 failed; AccountKey=Zm9v==;BlobEndpoint=x';
    const redacted = redactSecrets(line);
    expect(redacted).to.not.match(/abc%2Bdef|Zm9v/);
    expect(redacted).to.contain('sig=[redacted]&se=2');
    expect(redacted).to.contain('AccountKey=[redacted];BlobEndpoint=x');
  });
});
