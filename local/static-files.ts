/**
 * Serves the browser page from a folder (client/web) beside the functions, so the page
 * and `/api` share an origin locally. The folder is looked up per request: it may appear
 * or change while local mode runs.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

/** The file `urlPath` names inside `root`, or undefined when it escapes root or is not a file. */
async function resolveFile(root: string, urlPath: string): Promise<string | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const base = resolve(root);
  let path = resolve(base, `.${decoded}`);
  if (path !== base && !path.startsWith(base + sep)) return undefined;
  const info = await stat(path).catch(() => undefined);
  if (info?.isDirectory()) {
    path = join(path, 'index.html');
    return (await stat(path).catch(() => undefined))?.isFile() ? path : undefined;
  }
  return info?.isFile() ? path : undefined;
}

/** Answers GET/HEAD for a file under `root`; false when there is none, so the caller can 404. */
export async function serveStatic(
  root: string,
  request: IncomingMessage,
  response: ServerResponse,
  urlPath: string,
): Promise<boolean> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const file = await resolveFile(root, urlPath);
  if (!file) return false;
  const { size } = await stat(file);
  response.writeHead(200, {
    'content-type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'content-length': size,
    // Edits to the page show up on reload.
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  if (request.method === 'HEAD') {
    response.end();
    return true;
  }
  await new Promise<void>((done, fail) => {
    createReadStream(file).on('error', fail).pipe(response).on('finish', done).on('error', fail);
  });
  return true;
}
