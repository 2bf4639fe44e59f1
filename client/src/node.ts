/**
 * `@directdrop/client` in Node: everything the browser entry has, sent over node:http
 * with byte-level progress, plus files by path. The storage SDK path is
 * `@directdrop/client/sdk`.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { contentTypeForName } from './media-types.js';
import { nodeTransport } from './node-transport.js';
import * as core from './upload.js';
import {
  DirectdropError,
  type UploadData,
  type UploadItem,
  type UploadManyOptions,
  type UploadOptions,
  type UploadOutcome,
  type UploadResult,
  type UploadSource,
  type UploadTask,
  type UploadTicket,
} from './upload.js';

export * from './upload.js';
export { nodeTransport } from './node-transport.js';

function withNodeTransport<T extends { transport?: UploadOptions['transport'] }>(options: T): T {
  return { ...options, transport: options.transport ?? nodeTransport };
}

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

export function upload(data: UploadData, options: UploadOptions): Promise<UploadResult> {
  return core.upload(data, withNodeTransport(options));
}

export function startUpload(data: UploadData, options: UploadOptions): UploadTask {
  return core.startUpload(data, withNodeTransport(options));
}

export function uploadMany(
  items: readonly UploadItem[],
  options: UploadManyOptions,
): Promise<UploadOutcome[]> {
  return core.uploadMany(items, withNodeTransport(options));
}

export function sendToStorage(
  ticket: UploadTicket,
  source: UploadSource,
  contentType: string,
  options: UploadOptions,
): Promise<{ alreadyUploaded: boolean }> {
  return core.sendToStorage(ticket, source, contentType, withNodeTransport(options));
}

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
