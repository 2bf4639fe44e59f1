/** What a failed storage call means for the caller, from the SDK's RestError. */
import { RestError } from '@azure/storage-blob';

export function isStatus(error: unknown, ...statuses: number[]): boolean {
  return (
    error instanceof RestError &&
    error.statusCode !== undefined &&
    statuses.includes(error.statusCode)
  );
}

/** Statuses that mean "storage is busy or briefly down", not "this request is wrong". */
const UNAVAILABLE_STATUSES = [408, 429, 500, 502, 503, 504];

/**
 * Storage could not be reached or could not answer right now (connection refused or
 * reset, timeout, throttling, a 5xx) after the SDK's own retries: trying again later helps.
 */
export function isStorageUnavailable(error: unknown): boolean {
  if (!(error instanceof RestError)) return false;
  return error.statusCode === undefined || UNAVAILABLE_STATUSES.includes(error.statusCode);
}

/** A loggable description that carries no URL, header or message text (SAS tokens live there). */
export function describeStorageError(error: unknown): string {
  if (!(error instanceof RestError)) return 'unknown error';
  return [error.statusCode, error.code].filter((part) => part !== undefined).join(' ') || 'error';
}
