/** Which page `npm run screenshot` opens, read from local mode's banner. */
import { expect } from 'chai';
import { signedInPageUrl } from '../../scripts/screenshot';

describe('screenshot script: the page it opens', function () {
  it('takes the banner’s first link that carries a token', function () {
    const banner = [
      'Web page    http://localhost:4100/  (served from client/web when it exists)',
      '  TOKEN=eyJ.a.b',
      '  the upload page signed in: http://localhost:4100/#token=eyJ.a.b',
      '  another: http://localhost:4100/?x=1#token=later',
    ].join('\n');
    expect(signedInPageUrl(banner, 4100)).to.equal('http://localhost:4100/#token=eyJ.a.b');
  });

  it('builds the signed-in link from TOKEN= when the banner has no such link', function () {
    expect(signedInPageUrl('Sign-in on\n  TOKEN=eyJ.c.d\n', 4200)).to.equal(
      'http://localhost:4200/#token=eyJ.c.d',
    );
  });

  it('opens the page itself when local mode runs without sign-in', function () {
    expect(signedInPageUrl('Web page    http://localhost:4300/\n', 4300)).to.equal(
      'http://localhost:4300/',
    );
  });
});
