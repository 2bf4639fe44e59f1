/**
 * Node additions to the client library: upload a file by path. The SDK's `uploadFile`
 * streams from disk in 64 KiB chunks, which gives byte-level progress; a Buffer
 * handed to `uploadData` reports once, when it is all written.
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { contentTypeForName } from './media-types';
import { type UploadOptions, type UploadResult, type UploadSource, upload } from './upload';

export * from './upload';

/** A file on disk as an upload source; only its size is read until it is sent. */
export async function fileSource(path: string): Promise<UploadSource> {
  const info = await stat(path);
  if (!info.isFile()) throw new Error(`${path} is not a file.`);
  const name = basename(path);
  return {
    name,
    size: info.size,
    type: contentTypeForName(name),
    send: (client, options) => client.uploadFile(path, options),
  };
}

export async function uploadFile(path: string, options: UploadOptions): Promise<UploadResult> {
  return upload(await fileSource(path), options);
}
