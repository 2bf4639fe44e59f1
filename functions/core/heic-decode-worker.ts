/**
 * Worker-thread entry of heic-decode.ts: decodes one HEIC and posts the result back,
 * handing over the pixel buffer rather than copying it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type HeicDecodeLimits, type HeicDecodeResult, decodeHeic } from './libheif';

const { input, limits, wasm } = workerData as {
  input: Uint8Array;
  limits: HeicDecodeLimits;
  /** libheif compiled by the parent (absent: compiled here from the file). */
  wasm?: WebAssembly.Module;
};
let result: HeicDecodeResult;
try {
  result = decodeHeic(input, limits, wasm);
} catch (error) {
  // A trap in the decoder (an abort, a failed memory growth) is about these bytes; anything
  // else is a fault of this deployment and surfaces as the worker's error.
  if (!(error instanceof WebAssembly.RuntimeError)) throw error;
  result = {
    ok: false,
    reason: 'corrupt',
    message: `The image could not be decoded; it may be truncated or damaged (${error.message}).`,
  };
}
parentPort!.postMessage(result, result.ok ? [result.image.pixels.buffer as ArrayBuffer] : []);
