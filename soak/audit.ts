/**
 * Reads back what the pipeline left in storage and in the hosts' logs, to prove the
 * outcome of every upload was recorded exactly once and nothing else was written:
 * one manifest per upload, outputs only in the folder that manifest names (beside the scan
 * gate's records for the same version and the folder's pointer), every output decodable at
 * the size it claims, no upload's outcome logged twice across hosts, and nothing of a
 * finished upload left in the landing container but its tombstone.
 */
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import sharp from 'sharp';
import { readManifest } from '../functions/adapters/manifest-store';
import {
  STORAGE_NAMES,
  manifestBlobName,
  outputFolderPointerName,
} from '../functions/core/definitions';
import { isTombstone } from '../functions/adapters/landing-blob';
import { isUploadId, uploadIdOfBlob } from '../functions/core/upload-request';
import type { UploadManifest } from '../functions/core/manifest';
import { gateRecordNames } from '../functions/core/scan-gate';
import { devStorageEndpoints } from '../local/azurite';
import type { LocalModePorts } from '../local/local-mode-process';

export interface UploadAudit {
  uploadId: string;
  manifest?: UploadManifest;
  /** Blobs under the upload's id or its output folder that its manifest does not account for. */
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

function containerOf(ports: LocalModePorts, name: string): ContainerClient {
  const { connectionString } = devStorageEndpoints('127.0.0.1', ports.blobPort, ports.queuePort);
  return BlobServiceClient.fromConnectionString(connectionString).getContainerClient(name);
}

/** The processed container of the local mode listening on these ports. */
export function processedContainerOf(ports: LocalModePorts): ContainerClient {
  return containerOf(ports, STORAGE_NAMES.processedContainer);
}

/** The landing container of the local mode listening on these ports. */
export function landingContainerOf(ports: LocalModePorts): ContainerClient {
  return containerOf(ports, STORAGE_NAMES.landingContainer);
}

/**
 * Landing blobs (snapshots included) of uploads whose outcome is recorded, other than
 * their tombstones: the worker replaces each upload with its tombstone once its outcome is
 * recorded, so at the end of a run there are none.
 */
export async function finishedUploadsInLanding(
  landing: ContainerClient,
  audits: ReadonlyMap<string, UploadAudit>,
): Promise<string[]> {
  const left: string[] = [];
  for await (const blob of landing.listBlobsFlat({
    includeSnapshots: true,
    includeMetadata: true,
  })) {
    const uploadId = uploadIdOfBlob(blob.name);
    const tombstone =
      !blob.snapshot &&
      isTombstone({ contentType: blob.properties.contentType, metadata: blob.metadata });
    if (uploadId && audits.get(uploadId)?.manifest && !tombstone)
      left.push(blob.snapshot ? `${blob.name} (snapshot ${blob.snapshot})` : blob.name);
  }
  return left;
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
  // Blob names by their first path segment: an upload id, or an output folder.
  const blobsByUpload = new Map<string, string[]>();
  for await (const blob of processed.listBlobsFlat()) {
    const folder = blob.name.split('/')[0];
    const list = blobsByUpload.get(folder) ?? [];
    list.push(blob.name);
    blobsByUpload.set(folder, list);
  }
  const audits = new Map<string, UploadAudit>();
  // Manifests live under upload ids; outputs under output folders that only manifests name.
  const queue = [...(uploadIds ?? [...blobsByUpload.keys()].filter(isUploadId))];
  const worker = async () => {
    for (let uploadId = queue.shift(); uploadId; uploadId = queue.shift()) {
      const manifest = (await readManifest(processed, uploadId))?.manifest;
      const expected = new Set([manifestBlobName(uploadId)]);
      // The scan gate's own records for the version the manifest describes.
      if (manifest) {
        const gate = gateRecordNames(uploadId, manifest.source.eTag);
        expected.add(gate.verdict).add(gate.pending);
      }
      const found = [...(blobsByUpload.get(uploadId) ?? [])];
      if (manifest?.status === 'processed') {
        expected.add(outputFolderPointerName(uploadId, manifest.outputPrefix));
        for (const output of manifest.outputs) expected.add(output.blobName);
        found.push(...(blobsByUpload.get(manifest.outputPrefix) ?? []));
      }
      audits.set(uploadId, {
        uploadId,
        manifest,
        strayBlobs: found.filter((name) => !expected.has(name)),
        brokenOutputs: manifest ? await brokenOutputsOf(processed, manifest) : [],
      });
    }
  };
  await Promise.all(Array.from({ length: AUDIT_CONCURRENCY }, worker));
  return audits;
}
