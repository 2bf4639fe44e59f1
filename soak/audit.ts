/**
 * Reads back what the pipeline left in storage and in the hosts' logs, to prove the
 * outcome of every upload was recorded exactly once and nothing else was written:
 * one manifest per upload, outputs only in the folder that manifest names, every output
 * decodable at the size it claims, and no upload's outcome logged twice across hosts.
 */
import type { ContainerClient } from '@azure/storage-blob';
import sharp from 'sharp';
import { manifestBlobName } from '../functions/core/definitions';
import { type UploadManifest, isUploadManifest } from '../functions/core/manifest';

export interface UploadAudit {
  uploadId: string;
  manifest?: UploadManifest;
  /** Blobs under the upload's prefix that its manifest does not account for. */
  strayBlobs: string[];
  /** Outputs the manifest names that are missing or do not decode as described. */
  brokenOutputs: string[];
}

const OUTCOME_LINE =
  /Upload ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}): (processed|rejected|recorded as failed)/;

/**
 * Outcome lines per upload id, from every host's log. More than one means an outcome was
 * recorded twice; none is possible for a host killed between the manifest and its log line.
 */
export function countOutcomeLines(logs: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const log of logs) {
    for (const line of log.split('\n')) {
      const match = OUTCOME_LINE.exec(line);
      if (match) counts.set(match[1], (counts.get(match[1]) ?? 0) + 1);
    }
  }
  return counts;
}

async function readManifestBlob(
  processed: ContainerClient,
  uploadId: string,
): Promise<UploadManifest | undefined> {
  const blob = processed.getBlobClient(manifestBlobName(uploadId));
  if (!(await blob.exists())) return undefined;
  const parsed: unknown = JSON.parse((await blob.downloadToBuffer()).toString('utf8'));
  if (!isUploadManifest(parsed)) throw new Error(`manifest of ${uploadId} has an unknown shape`);
  return parsed;
}

/** Downloads and decodes each output the manifest names; returns those that fail. */
export async function brokenOutputsOf(
  processed: ContainerClient,
  manifest: UploadManifest,
): Promise<string[]> {
  if (manifest.status !== 'processed') return [];
  const broken: string[] = [];
  for (const output of manifest.outputs) {
    try {
      const bytes = await processed.getBlobClient(output.blobName).downloadToBuffer();
      const metadata = await sharp(bytes).metadata();
      const ok =
        `image/${metadata.format}` === output.contentType &&
        metadata.width === output.width &&
        metadata.height === output.height &&
        bytes.length === output.size;
      if (!ok) broken.push(`${output.blobName} (does not match its manifest entry)`);
    } catch (error) {
      broken.push(`${output.blobName} (${(error as Error).message})`);
    }
  }
  return broken;
}

/**
 * Audits the given uploads with one listing of the processed container. With
 * `decodeOutputs`, every output is downloaded and decoded too.
 */
export async function auditUploads(
  processed: ContainerClient,
  uploadIds: readonly string[],
  options: { decodeOutputs: boolean; concurrency?: number } = { decodeOutputs: true },
): Promise<Map<string, UploadAudit>> {
  const blobsByUpload = new Map<string, string[]>();
  for await (const blob of processed.listBlobsFlat()) {
    const uploadId = blob.name.split('/')[0];
    const list = blobsByUpload.get(uploadId) ?? [];
    list.push(blob.name);
    blobsByUpload.set(uploadId, list);
  }
  const audits = new Map<string, UploadAudit>();
  const queue = [...uploadIds];
  const worker = async () => {
    for (let uploadId = queue.shift(); uploadId; uploadId = queue.shift()) {
      const manifest = await readManifestBlob(processed, uploadId);
      const expected = new Set([manifestBlobName(uploadId)]);
      if (manifest?.status === 'processed') {
        for (const output of manifest.outputs) expected.add(output.blobName);
      }
      audits.set(uploadId, {
        uploadId,
        manifest,
        strayBlobs: (blobsByUpload.get(uploadId) ?? []).filter((name) => !expected.has(name)),
        brokenOutputs:
          manifest && options.decodeOutputs ? await brokenOutputsOf(processed, manifest) : [],
      });
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
  return audits;
}
