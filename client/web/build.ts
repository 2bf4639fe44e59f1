/**
 * Bundles the page's TypeScript (app.ts plus the client library and the storage SDK)
 * into client/web/app.js. The bundle is built, not committed, so it never goes stale:
 * `npm start` runs this first (prestart), and the browser test calls it. ~0.5 s.
 */
import { build } from 'esbuild';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';

export const WEB_ROOT = __dirname;

export async function buildWebClient(): Promise<{ outfile: string; bytes: number }> {
  const outfile = join(WEB_ROOT, 'app.js');
  await build({
    entryPoints: [join(WEB_ROOT, 'app.ts')],
    outfile,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  return { outfile, bytes: (await stat(outfile)).size };
}

if (require.main === module) {
  buildWebClient().then(
    ({ outfile, bytes }) => console.log(`Built ${outfile} (${Math.round(bytes / 1024)} KiB)`),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
