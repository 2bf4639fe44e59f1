/**
 * `@directdrop/client` in Node: everything the browser entry has, sent over node:http
 * with byte-level progress, plus files by path. The storage SDK path is
 * `@directdrop/client/sdk`.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { DirectdropError } from './errors.js';
import { contentTypeForName } from './media-types.js';
import type { UploadOptions, UploadResult, UploadSource } from './models.js';
import { nodeTransport } from './node-transport.js';
import { setRuntimeTransport } from './transport.js';
import { type UploadManyOptions, type UploadOutcome, upload, uploadMany } from './upload.js';

// Loading this entry makes node:http the default PUT (package.json lists it in sideEffects).
setRuntimeTransport(nodeTransport);

export * from './upload.js';
export { nodeTransport } from './node-transport.js';

/** A file on disk as an upload source; only its size is read until it is sent. */
export async function fileSource(path: string): Promise<UploadSource> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new DirectdropError({
      code: 'file-not-found',
      stage: 'validate',
      message: `${path}: no such file.`,
    });
  }
  if (!info.isFile()) {
    throw new DirectdropError({
      code: 'not-a-file',
      stage: 'validate',
      message: `${path} is not a file.`,
    });
  }
  const name = basename(path);
  return {
    name,
    size: info.size,
    type: contentTypeForName(name),
    path,
    body: () => createReadStream(path, { highWaterMark: 64 * 1024 }),
  };
}

/** One file by path: `upload(await fileSource(path), options)`. */
export async function uploadFile(path: string, options: UploadOptions): Promise<UploadResult> {
  return upload(await fileSource(path), options);
}

/** Several files by path, `concurrency` at a time, one outcome each (see uploadMany). */
export function uploadFiles(
  paths: readonly string[],
  options: UploadManyOptions,
): Promise<UploadOutcome[]> {
  return uploadMany(
    paths.map((path) => () => fileSource(path)),
    options,
  );
}
