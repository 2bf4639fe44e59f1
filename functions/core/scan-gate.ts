/**
 * The malware-scan gate, pure half: an upload is processed only once both its BlobCreated
 * event and a clean verdict for the same blob version have arrived, in either order.
 * Verdicts are Defender for Storage's `Microsoft.Security.MalwareScanningResult` events
 * (Event Grid schema), which are claims like any queue message: only the configured topic,
 * the watched containers of this account and a well-formed body are believed, and the
 * adapter still checks the blob exists at the verdict's eTag before recording it.
 *
 * Schema source: learn.microsoft.com/azure/defender-for-cloud/defender-for-storage-configure-malware-scan
 * ("Event message structure"); result types from introduction-malware-scanning.
 */
import { type BlobCommit, quotedETag } from './blob-events';
import { MALWARE_SCANNING_RESULT_EVENT_TYPE } from './definitions';
import { type FailReason, type RejectReason, versionSegment } from './manifest';
import type { ScanUnverifiedPolicy } from './settings';

/** `clean` is "No threats found"; `unverified` is Error, Not scanned, or a type we do not know. */
export type VerdictResult = 'clean' | 'malicious' | 'unverified';

export interface ScanVerdict {
  eventId: string;
  /** The watched container the blob is in: the landing container or a drop zone's. */
  container: string;
  blobName: string;
  /** Always quoted, like BlobCommit.eTag. */
  eTag: string;
  result: VerdictResult;
  /** As Defender wrote it, e.g. "No threats found". */
  resultType: string;
  /** For the log only: never shown to the uploader. */
  malwareNames: string[];
  /** Upper-case hex, when Defender reports it. */
  sha256?: string;
  /** Defender's reason for Not scanned (a SAM code and text), when given. */
  notScannedReason?: string;
  scanFinishedTimeUtc: string;
  correlationId: string;
}

/** What the gate keeps per blob version, in the processed container; created once. */
export interface VerdictRecord {
  version: 1;
  blobName: string;
  eTag: string;
  result: VerdictResult;
  resultType: string;
  sha256?: string;
  correlationId: string;
  scanFinishedTimeUtc: string;
  recordedAt: string;
}

/** A BlobCreated event that arrived before its verdict, kept so the verdict can resume it. */
export interface PendingScanRecord {
  version: 1;
  commit: BlobCommit;
  /** When the wait began; the timeout counts from here, not from any message's claim. */
  waitingSince: string;
}

/** The delayed message that ends a wait that no verdict ends; directdrop's own, not Event Grid's. */
export const SCAN_TIMEOUT_CHECK_TYPE = 'directdrop.ScanVerdictTimeoutCheck';

export interface ScanTimeoutCheck {
  type: typeof SCAN_TIMEOUT_CHECK_TYPE;
  uploadId: string;
  eTag: string;
}

export type GateMessage =
  | { kind: 'verdict'; verdict: ScanVerdict }
  | { kind: 'timeout-check'; check: ScanTimeoutCheck }
  | { kind: 'ignored'; reason: string }
  | { kind: 'malformed'; reason: string };

export interface VerdictExpectations {
  /** ARM ID of the results topic; compared case-insensitively, as ARM IDs are. */
  topic: string;
  /**
   * The containers whose blobs the gate waits on (the landing container, then each drop
   * zone's), with their URLs, e.g. https://acct.blob.core.windows.net/uploads.
   */
  containers: ReadonlyArray<{ name: string; url: string }>;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Defender's spellings vary in case ("Not scanned", "Not Scanned"). */
function resultOf(resultType: string): VerdictResult {
  const normalised = resultType.trim().toLowerCase();
  if (normalised === 'no threats found') return 'clean';
  if (normalised === 'malicious') return 'malicious';
  return 'unverified';
}

function blobNameFromUri(blobUri: string, containerUrl: string): string | undefined {
  const prefix = `${containerUrl.replace(/\/+$/, '')}/`;
  if (blobUri.slice(0, prefix.length).toLowerCase() !== prefix.toLowerCase()) return undefined;
  const encoded = blobUri.slice(prefix.length);
  try {
    return decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
}

function parseVerdict(event: Json, expect: VerdictExpectations): GateMessage {
  const { id, topic, data } = event;
  if (typeof id !== 'string' || typeof topic !== 'string' || !isObject(data))
    return { kind: 'malformed', reason: 'scan result lacks id, topic or data' };
  if (expect.topic === '' || topic.toLowerCase() !== expect.topic.toLowerCase())
    return { kind: 'ignored', reason: 'scan result from a topic other than the configured one' };
  const { blobUri, eTag, scanResultType, correlationId, scanFinishedTimeUtc } = data;
  if (typeof blobUri !== 'string' || typeof eTag !== 'string' || eTag === '')
    return { kind: 'malformed', reason: 'scan result lacks data.blobUri or data.eTag' };
  if (typeof scanResultType !== 'string')
    return { kind: 'malformed', reason: 'scan result lacks data.scanResultType' };
  const watched = expect.containers
    .map(({ name, url }) => ({ container: name, blobName: blobNameFromUri(blobUri, url) }))
    .find((candidate) => candidate.blobName);
  if (!watched?.blobName)
    return {
      kind: 'ignored',
      reason: 'scan result for a blob outside the landing container and drop zones',
    };
  const { container, blobName } = watched;
  const details = isObject(data.scanResultDetails) ? data.scanResultDetails : {};
  const names = Array.isArray(details.malwareNamesFound) ? details.malwareNamesFound : [];
  return {
    kind: 'verdict',
    verdict: {
      eventId: id,
      container,
      blobName,
      eTag: quotedETag(eTag),
      result: resultOf(scanResultType),
      resultType: scanResultType.slice(0, 80),
      malwareNames: names
        .filter((n): n is string => typeof n === 'string')
        .map((n) => n.slice(0, 200)),
      sha256: typeof details.sha256 === 'string' ? details.sha256 : undefined,
      notScannedReason:
        typeof details.notScannedReason === 'string'
          ? details.notScannedReason.slice(0, 300)
          : undefined,
      scanFinishedTimeUtc: typeof scanFinishedTimeUtc === 'string' ? scanFinishedTimeUtc : '',
      correlationId: typeof correlationId === 'string' ? correlationId : '',
    },
  };
}

function parseCheck(event: Json): GateMessage {
  const { uploadId, eTag } = event;
  if (typeof uploadId !== 'string' || !UPLOAD_ID.test(uploadId) || typeof eTag !== 'string')
    return { kind: 'malformed', reason: 'timeout check lacks uploadId or eTag' };
  return {
    kind: 'timeout-check',
    check: { type: SCAN_TIMEOUT_CHECK_TYPE, uploadId, eTag: quotedETag(eTag) },
  };
}

/**
 * The gate's messages in one queue message, or undefined when the message holds none
 * (BlobCreated events go on to the processing path unchanged).
 */
export function parseGateMessages(
  message: unknown,
  expect: VerdictExpectations,
): GateMessage[] | undefined {
  let payload = message;
  if (typeof payload === 'string' || Buffer.isBuffer(payload)) {
    try {
      payload = JSON.parse(payload.toString());
    } catch {
      return undefined;
    }
  }
  const events = Array.isArray(payload) ? payload : [payload];
  const ours = (e: unknown) =>
    isObject(e) &&
    ((e.eventType ?? e.type) === MALWARE_SCANNING_RESULT_EVENT_TYPE ||
      e.type === SCAN_TIMEOUT_CHECK_TYPE);
  if (events.length === 0 || !events.every(ours)) return undefined;
  return (events as Json[]).map((e) =>
    e.type === SCAN_TIMEOUT_CHECK_TYPE ? parseCheck(e) : parseVerdict(e, expect),
  );
}

export function timeoutCheckMessage(uploadId: string, eTag: string): ScanTimeoutCheck {
  return { type: SCAN_TIMEOUT_CHECK_TYPE, uploadId, eTag };
}

export function verdictRecord(verdict: ScanVerdict, now: Date): VerdictRecord {
  const { blobName, eTag, result, resultType, sha256, correlationId, scanFinishedTimeUtc } =
    verdict;
  return {
    version: 1,
    blobName,
    eTag,
    result,
    resultType,
    sha256,
    correlationId,
    scanFinishedTimeUtc,
    recordedAt: now.toISOString(),
  };
}

export function isVerdictRecord(value: unknown): value is VerdictRecord {
  return (
    isObject(value) &&
    value.version === 1 &&
    typeof value.eTag === 'string' &&
    (value.result === 'clean' || value.result === 'malicious' || value.result === 'unverified')
  );
}

export function isPendingScanRecord(value: unknown): value is PendingScanRecord {
  return (
    isObject(value) &&
    value.version === 1 &&
    isObject(value.commit) &&
    typeof value.commit.blobName === 'string' &&
    typeof value.commit.eTag === 'string' &&
    typeof value.waitingSince === 'string' &&
    !Number.isNaN(Date.parse(value.waitingSince))
  );
}

/** The gate's records for one blob version, beside (never inside) its output folder. */
export function gateRecordNames(uploadId: string, eTag: string) {
  const folder = `${uploadId}/gate/${versionSegment(eTag)}`;
  return { verdict: `${folder}/verdict.json`, pending: `${folder}/pending.json` };
}

export type GateDecision =
  | { action: 'wait' }
  | { action: 'process' }
  | { action: 'reject'; reason: Extract<RejectReason, 'malware' | 'not-scanned'>; message: string }
  | {
      action: 'fail';
      reason: Extract<FailReason, 'scan-failed' | 'scan-timeout'>;
      message: string;
    };

/** What a blob version's verdict (or its absence) means for processing it. */
export function decideGate(
  verdict: Pick<VerdictRecord, 'result'> | undefined,
  policy: ScanUnverifiedPolicy,
): GateDecision {
  if (!verdict) return { action: 'wait' };
  if (verdict.result === 'clean') return { action: 'process' };
  if (verdict.result === 'malicious') {
    return {
      action: 'reject',
      reason: 'malware',
      message: 'The upload was refused because the malware scan found a threat in it.',
    };
  }
  if (policy === 'process') return { action: 'process' };
  return policy === 'reject'
    ? {
        action: 'reject',
        reason: 'not-scanned',
        message: 'The upload was refused because the malware scan could not check it.',
      }
    : {
        action: 'fail',
        reason: 'scan-failed',
        message: 'The malware scan could not check the upload; try again later.',
      };
}

export const SCAN_TIMEOUT_DECISION = {
  action: 'fail',
  reason: 'scan-timeout',
  message: 'No malware-scan result arrived in time; the upload was not processed.',
} as const satisfies GateDecision;

/** Milliseconds still to wait for a verdict; 0 or less means the wait is over. */
export function remainingWaitMs(waitingSince: string, now: Date, timeoutSeconds: number): number {
  return Date.parse(waitingSince) + timeoutSeconds * 1000 - now.getTime();
}
