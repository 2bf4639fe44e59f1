/**
 * The sweep, pure half: how long each kind of leftover may stay, and what a blob in the
 * processed container is. Nothing the worker leaves behind stays for good: tombstones and
 * unfinished blobs in the landing container and drop zones, output folders no manifest
 * names, the scan gate's records of finished uploads, and upload URLs that expired unused.
 */
import { PENDING_DEADLINE_MS } from './definitions';
import { SETTING_LIMITS, type DropZone } from './settings';

/** Every five minutes, on the minute (NCRONTAB, seconds first). */
export const SWEEP_SCHEDULE = '0 */5 * * * *';

/** Room for clock skew, a PUT that began just before its URL expired, and a slow event. */
export const SWEEP_MARGIN_MS = 15 * 60_000;

/** At most this many blobs (or uploads, or records) looked at per container per run. */
export const SWEEP_BATCH = 250;

/**
 * How old a landing blob must be before the sweep acts on it: older than the longest
 * upload URL the settings allow, so no URL that could still create the blob outlives its
 * tombstone.
 */
export const LANDING_SWEEP_AGE_MS = SETTING_LIMITS.uploadUrlTtlSeconds.max * 1000 + SWEEP_MARGIN_MS;

/** A zone's URLs live up to its maxSasHours, and so do its tombstones. */
export function zoneSweepAgeMs(zone: DropZone): number {
  return zone.maxSasHours * 3600_000 + SWEEP_MARGIN_MS;
}

export type LandedAction =
  /** A tombstone past every URL that could write the name: deleted, snapshots included. */
  | 'delete'
  /** An upload whose outcome is recorded but whose tombstone never came: finished now. */
  | 'finish'
  /** No outcome long past the pending deadline: recorded `failed` like a poisoned event. */
  | 'give-up'
  | 'keep';

export function landedAction(blob: {
  ageMs: number;
  sweepAgeMs: number;
  tombstone: boolean;
  /** The name is one directdrop gives its uploads (a landing name, or any name in a zone). */
  attributable: boolean;
  hasOutcome: boolean;
}): LandedAction {
  if (blob.ageMs <= blob.sweepAgeMs) return 'keep';
  if (blob.tombstone || !blob.attributable) return 'delete';
  if (blob.hasOutcome) return 'finish';
  return blob.ageMs > PENDING_DEADLINE_MS ? 'give-up' : 'keep';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const FOLDER = /^[0-9a-f]{32}$/;

/** What one blob under an upload's prefix in the processed container is. */
export type UploadEntry =
  | { kind: 'manifest' }
  | { kind: 'folder-pointer'; folder: string }
  | { kind: 'gate-record' }
  | { kind: 'other' };

export function isUploadPrefix(prefix: string): boolean {
  return UUID.test(prefix.replace(/\/$/, ''));
}

export function uploadEntry(uploadId: string, blobName: string): UploadEntry {
  const rest = blobName.slice(uploadId.length + 1);
  if (rest === 'manifest.json') return { kind: 'manifest' };
  const pointer = /^folders\/(.+)$/.exec(rest);
  if (pointer && FOLDER.test(pointer[1])) return { kind: 'folder-pointer', folder: pointer[1] };
  if (rest.startsWith('gate/')) return { kind: 'gate-record' };
  return { kind: 'other' };
}

/**
 * Whether a folder's pointer (and so the folder) is a leftover: the manifest names another
 * folder (one a switch replaced, or a lost race's), or no manifest came long after it.
 * A young pointer may be a folder being written right now.
 */
export function folderIsLeftover(
  folder: string,
  pointerAgeMs: number,
  currentFolder: string | undefined,
  hasManifest: boolean,
): boolean {
  if (hasManifest) return folder !== currentFolder && pointerAgeMs > SWEEP_MARGIN_MS;
  return pointerAgeMs > PENDING_DEADLINE_MS;
}

/** The gate's records are needed only until the outcome: afterwards they go. */
export function gateRecordIsLeftover(recordAgeMs: number, hasManifest: boolean): boolean {
  return hasManifest ? recordAgeMs > SWEEP_MARGIN_MS : recordAgeMs > 2 * PENDING_DEADLINE_MS;
}
