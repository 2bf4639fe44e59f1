/**
 * Console output for local mode. Every line passes through `redactSecrets`, because
 * handler errors and storage URLs can carry SAS signatures or account keys.
 */
import { format } from 'node:util';

export interface Logger {
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

const SECRET_PATTERNS: Array<[RegExp, string]> = [
  // SAS query parameters: the signature is the secret, the rest is harmless but noisy.
  [/([?&](?:amp;)?sig=)[^&\s"'<>]+/gi, '$1[redacted]'],
  [/(AccountKey=)[^;\s"']+/gi, '$1[redacted]'],
  [/(SharedAccessSignature=)[^;\s"']+/gi, '$1[redacted]'],
];

export function redactSecrets(text: string): string {
  return SECRET_PATTERNS.reduce(
    (out, [pattern, replacement]) => out.replace(pattern, replacement),
    text,
  );
}

function timestamp(): string {
  return new Date().toISOString().slice(11, 23);
}

/** Writes `[hh:mm:ss.mmm] message` lines; warnings and errors go to stderr. */
export function consoleLogger(
  stdout: NodeJS.WritableStream = process.stdout,
  stderr: NodeJS.WritableStream = process.stderr,
): Logger {
  const line = (stream: NodeJS.WritableStream, level: string, args: unknown[]) =>
    stream.write(`[${timestamp()}]${level} ${redactSecrets(format(...args))}\n`);
  return {
    info: (...args) => line(stdout, '', args),
    warn: (...args) => line(stderr, ' warning:', args),
    error: (...args) => line(stderr, ' error:', args),
  };
}

/** Describes an error for a log line: its stack when it has one, else its text. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}
