/** Headless Debian Chromium for the browser tests, and pages served from another origin. */
import { type Server, createServer } from 'node:http';
import { type Browser, chromium } from 'playwright-core';
import { freePort } from '../../local/azurite-sandbox';
import { serveStatic } from '../../local/static-files';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Serves `root` on its own origin, http://127.0.0.1:<port>, apart from the API's localhost one. */
export async function serveOtherOrigin(root: string): Promise<{ origin: string; server: Server }> {
  const port = await freePort();
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    serveStatic(root, request, response, path).then(
      (served) => {
        if (!served) response.writeHead(404).end();
      },
      () => response.destroy(),
    );
  });
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
  return { origin: `http://127.0.0.1:${port}`, server };
}
