/**
 * Reads back what the pipeline left in storage and in the hosts' logs, to prove the
 * outcome of every upload was recorded exactly once and nothing else was written:
 * one manifest per upload, outputs only in the folder that manifest names (beside the scan
 * gate's records for the same version), every output
 * decodable at the size it claims, and no upload's outcome logged twice across hosts.
 */
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import sharp from 'sharp';
import { readManifest } from '../functions/adapters/manifest-store';
import { STORAGE_NAMES, manifestBlobName } from '../functions/core/definitions';
import type { UploadManifest } from '../functions/core/manifest';
import { gateRecordNames } from '../functions/core/scan-gate';
import { devStorageEndpoints } from '../local/azurite';
import type { LocalModePorts } from '../local/local-mode-process';

export interface UploadAudit {
  uploadId: string;
  manifest?: UploadManifest;
  /** Blobs under the upload's prefix that its manifest does not account for. */
  strayBlobs: string[];
  /** Outputs the manifest names that are missing or do not decode as described. */
  brokenOutputs: string[];
}

/** Uploads read back at once: enough to hide round trips, few enough for Azurite. */
const AUDIT_CONCURRENCY = 8;

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

/** The processed container of the local mode listening on these ports. */
export function processedContainerOf(ports: LocalModePorts): ContainerClient {
  const { connectionString } = devStorageEndpoints('127.0.0.1', ports.blobPort, ports.queuePort);
  return BlobServiceClient.fromConnectionString(connectionString).getContainerClient(
    STORAGE_NAMES.processedContainer,
  );
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
 * Audits the given uploads, or every upload with anything in the processed container,
 * with one listing of it; every output a manifest names is downloaded and decoded.
 */
export async function auditUploads(
  processed: ContainerClient,
  uploadIds?: readonly string[],
): Promise<Map<string, UploadAudit>> {
  const blobsByUpload = new Map<string, string[]>();
  for await (const blob of processed.listBlobsFlat()) {
    const uploadId = blob.name.split('/')[0];
    const list = blobsByUpload.get(uploadId) ?? [];
    list.push(blob.name);
    blobsByUpload.set(uploadId, list);
  }
  const audits = new Map<string, UploadAudit>();
  const queue = [...(uploadIds ?? blobsByUpload.keys())];
  const worker = async () => {
    for (let uploadId = queue.shift(); uploadId; uploadId = queue.shift()) {
      const manifest = (await readManifest(processed, uploadId))?.manifest;
      const expected = new Set([manifestBlobName(uploadId)]);
      // The scan gate's own records for the version the manifest describes.
      if (manifest) {
        const gate = gateRecordNames(uploadId, manifest.source.eTag);
        expected.add(gate.verdict).add(gate.pending);
      }
      if (manifest?.status === 'processed') {
        for (const output of manifest.outputs) expected.add(output.blobName);
      }
      audits.set(uploadId, {
        uploadId,
        manifest,
        strayBlobs: (blobsByUpload.get(uploadId) ?? []).filter((name) => !expected.has(name)),
        brokenOutputs: manifest ? await brokenOutputsOf(processed, manifest) : [],
      });
    }
  };
  await Promise.all(Array.from({ length: AUDIT_CONCURRENCY }, worker));
  return audits;
}
