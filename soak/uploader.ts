/**
 * One upload the way a patient real client does it, with the client library: ask for
 * an upload URL, PUT the bytes, poll for the outcome, and retry whatever is transient
 * (a host being restarted, storage going away) until a deadline. It records when the
 * bytes were committed and when the outcome was seen, for the fault tests and the soak.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DirectdropError,
  type ProcessedOutput,
  type UploadOptions,
  type UploadTicket,
  requestUpload,
  sendToStorage,
  waitForProcessing,
} from '../client/src/node';

export type Outcome = 'processed' | 'rejected' | 'failed';

export interface UploadFile {
  name: string;
  contentType: string;
  bytes: Buffer;
}

export interface UploadRecord {
  fileName: string;
  uploadId?: string;
  /** Set once storage has the bytes (our clock, performance.now()). */
  committedAt?: number;
  /** When the terminal status was first seen. */
  settledAt?: number;
  outcome?: Outcome;
  reason?: string;
  /** What the status endpoint served for a processed upload. */
  outputs?: ProcessedOutput[];
  /** Why the upload never reached a terminal status, if it did not. */
  problem?: string;
  /** Transient failures retried on the way. */
  retries: number;
}

export interface UploaderOptions {
  apiBaseUrl: string;
  /** Give up on the whole upload after this long. */
  deadlineMs: number;
  pollIntervalMs?: number;
  maxPollIntervalMs?: number;
  /** Called once storage has the bytes. */
  onCommitted?: () => void;
}

const RETRY_DELAY_MS = 250;

function isTransient(error: unknown): boolean {
  return error instanceof DirectdropError && (error.code === 'network-error' || error.retryable);
}

export async function uploadPatiently(
  file: UploadFile,
  options: UploaderOptions,
): Promise<UploadRecord> {
  const record: UploadRecord = { fileName: file.name, retries: 0 };
  const deadline = performance.now() + options.deadlineMs;
  const clientOptions: UploadOptions = {
    apiBaseUrl: options.apiBaseUrl,
    fileName: file.name,
    contentType: file.contentType,
    pollIntervalMs: options.pollIntervalMs ?? 250,
    maxPollIntervalMs: options.maxPollIntervalMs ?? 1_000,
    // A host restart can leave an upload unknown for longer than the usual grace.
    notFoundGraceMs: options.deadlineMs,
  };
  /** Runs `step` until it succeeds, fails for good, or the deadline passes. */
  async function patiently<T>(step: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await step();
      } catch (error) {
        if (!isTransient(error) || performance.now() > deadline) throw error;
        record.retries++;
        await sleep(RETRY_DELAY_MS);
      }
    }
  }

  try {
    const { ticket, source, contentType } = await patiently(() =>
      requestUpload(file.bytes, clientOptions),
    );
    record.uploadId = ticket.uploadId;
    await patiently(() => sendToStorage(ticket, source, contentType, clientOptions));
    record.committedAt = performance.now();
    options.onCommitted?.();
    await settle(ticket, record, clientOptions, deadline);
  } catch (error) {
    record.problem = error instanceof Error ? error.message : String(error);
  }
  return record;
}

async function settle(
  ticket: UploadTicket,
  record: UploadRecord,
  clientOptions: UploadOptions,
  deadline: number,
): Promise<void> {
  const pollTimeoutMs = Math.max(1, deadline - performance.now());
  try {
    const status = await waitForProcessing(ticket, { ...clientOptions, pollTimeoutMs });
    record.outcome = 'processed';
    record.outputs = status.outputs;
  } catch (error) {
    if (!(error instanceof DirectdropError)) throw error;
    if (error.code === 'rejected') record.outcome = 'rejected';
    else if (error.code === 'processing-failed') record.outcome = 'failed';
    else throw error;
    record.reason = error.reason;
  }
  record.settledAt = performance.now();
}
