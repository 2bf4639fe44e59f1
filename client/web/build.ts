/**
 * Bundles the page's TypeScript (app.ts plus the client library's browser entry) into
 * client/web/app.js. The bundle is built, not committed, so it never goes stale:
 * `npm start` runs this first (prestart), and the browser test calls it. ~0.5 s.
 */
import { build } from 'esbuild';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// client/ is an ES module package, so this file is one too.
export const WEB_ROOT = import.meta.dirname;

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

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  buildWebClient().then(
    ({ outfile, bytes }) => console.log(`Built ${outfile} (${Math.round(bytes / 1024)} KiB)`),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
