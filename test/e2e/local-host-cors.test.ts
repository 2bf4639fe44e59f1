/**
 * What a page on another origin can read from local mode's API in a real browser (issue 22):
 * the quota's RateLimit headers and Retry-After, and the API's error shape from the local
 * host's own answers.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { launchChromium, serveOtherOrigin } from '../helpers/browser';
import { type LocalMode, startLocalMode } from '../integration/client-local-mode';

describe('local host CORS in headless Chromium (local mode)', function () {
  this.timeout(120_000);
  let local: LocalMode;
  let browser: Browser;
  let page: string;
  let server: Server;
  let root: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'directdrop-cors-page-'));
    await writeFile(join(root, 'index.html'), '<!doctype html><title>elsewhere</title>');
    const [started, launched, served] = await Promise.all([
      startLocalMode(),
      launchChromium(),
      serveOtherOrigin(root),
    ]);
    [local, browser, server, page] = [started, launched, served.server, served.origin];
  });
  after(async () => {
    await browser?.close();
    server?.close();
    await local?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('lets cross-origin JavaScript read RateLimit-* on a 201, and the error shape of the host’s own 404 and 405', async () => {
    const tab = await browser.newPage();
    try {
      await tab.goto(`${page}/`);
      expect(new URL(local.apiBaseUrl).origin).to.not.equal(page);
      const seen = await tab.evaluate(async (api) => {
        const created = await fetch(`${api}/uploads`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ fileName: 'cat.jpg', contentType: 'image/jpeg', size: 1234 }),
        });
        const unknown = await fetch(`${api}/nothing-here`);
        // A simple request (no preflight), so the browser sends it and shows the answer.
        const wrongMethod = await fetch(`${api}/limits`, { method: 'POST' });
        return {
          status: created.status,
          limit: created.headers.get('RateLimit-Limit'),
          remaining: created.headers.get('RateLimit-Remaining'),
          reset: created.headers.get('RateLimit-Reset'),
          unknown: [unknown.status, await unknown.json()],
          wrongMethod: [wrongMethod.status, await wrongMethod.json()],
        };
      }, local.apiBaseUrl);
      expect(seen.status).to.equal(201);
      expect(Number(seen.limit)).to.be.greaterThan(0);
      expect(seen.remaining).to.match(/^\d+$/);
      expect(seen.reset).to.match(/^\d+$/);
      expect(seen.unknown[0]).to.equal(404);
      expect((seen.unknown[1] as { error: { code: string } }).error.code).to.equal('not-found');
      expect(seen.wrongMethod[0]).to.equal(405);
      expect((seen.wrongMethod[1] as { error: { code: string } }).error.code).to.equal(
        'method-not-allowed',
      );
    } finally {
      await tab.close();
    }
  });
});
