/**
 * Runs libheif's synchronous WebAssembly decode in a worker thread, one worker per image:
 * the event loop stays free (queue leases, other messages), the time limit can actually
 * stop a decode (terminating the worker), and the worker's wasm memory is returned as soon
 * as the image is decoded rather than staying at its peak for the life of the process.
 */
import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { type HeicDecodeLimits, type HeicDecodeResult, compileLibheif } from './libheif';

export type { DecodedHeic, HeicColour, HeicDecodeResult } from './libheif';

export interface HeicDecodeOptions extends HeicDecodeLimits {
  /** Wall-clock limit for one decode; the worker is terminated when it passes. */
  timeoutMs: number;
}

/**
 * The worker beside this module, in its form: TypeScript under tsx, the esbuild output
 * (dist/heic-decode-worker.js) in the function package.
 */
const WORKER_FILE = join(__dirname, `heic-decode-worker${extname(__filename)}`);

let compiled: Promise<WebAssembly.Module> | undefined;

export async function decodeHeicInWorker(
  input: Uint8Array,
  { timeoutMs, ...limits }: HeicDecodeOptions,
): Promise<HeicDecodeResult> {
  const wasm = await (compiled ??= compileLibheif());
  // Cloning a view copies its whole ArrayBuffer (a pool slab, a grown download buffer).
  const exact =
    input.byteOffset === 0 && input.byteLength === input.buffer.byteLength
      ? input
      : new Uint8Array(input);
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_FILE, { workerData: { input: exact, limits, wasm } });
    let settled = false;
    const settle = (finish: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      finish();
      void worker.terminate();
    };
    const timer = setTimeout(
      () =>
        settle(() =>
          resolve({
            ok: false,
            reason: 'corrupt',
            message: `The image took longer than ${timeoutMs / 1000} s to decode.`,
          }),
        ),
      timeoutMs,
    );
    worker.once('message', (result: HeicDecodeResult) => settle(() => resolve(result)));
    worker.once('error', (error) => settle(() => reject(error)));
    worker.once('exit', (code) =>
      settle(() =>
        reject(new Error(`The HEIC decode worker exited (code ${code}) without a result.`)),
      ),
    );
  });
}
