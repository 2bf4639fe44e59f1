/**
 * Proves a deployment works, through its public API only, with nothing but the caller's
 * credentials (a function key or a bearer token; no storage keys, no Azure SDK):
 *
 *   limits    GET /limits answers the upload rules
 *   openapi   GET /openapi.json is the contract, with the upload routes
 *   unsigned  POST /uploads without credentials is refused
 *   photo     a generated photo goes through the whole pipeline: processed, and every
 *             variant the limits promise is readable at its read URL, at its stated size
 *   malware   with scanning on, the EICAR test file ends rejected / malware
 *
 * Each step reports what it saw and how long it took; `ops/verify-command.ts` is the CLI.
 */
import sharp from 'sharp';
import {
  DirectdropError,
  type ProcessedOutput,
  type UploadLimits,
  getLimits,
  upload,
} from '../client/src/node';
import { EICAR_TEST_STRING } from '../local/malware-scanner';

export interface VerifyTarget {
  /** e.g. https://<app>.azurewebsites.net/api */
  apiBaseUrl: string;
  functionsKey?: string;
  token?: string;
  /** Whether the malware gate must stop EICAR; undefined skips that step. */
  malwareScanning?: boolean;
  /** The longest wait for one upload's outcome. */
  timeoutMs: number;
}

export const STEP_NAMES = ['limits', 'openapi', 'unsigned', 'photo', 'malware'] as const;
export type StepName = (typeof STEP_NAMES)[number];

export interface StepResult {
  step: StepName;
  /** 'skip' when the step does not apply to this target, with the reason in `detail`. */
  result: 'ok' | 'fail' | 'skip';
  ms: number;
  detail: string;
}

/** A step's failure, with the sentence to print. */
class StepFailure extends Error {}

/** The routes every directdrop API has, as the OpenAPI document names them. */
export const REQUIRED_PATHS = ['/uploads', '/uploads/{uploadId}', '/limits'];

/**
 * A photo-like JPEG (smooth gradients and detail, not noise), larger than the widest
 * variant so every variant is a real downscale.
 */
export async function verificationPhoto(limits: Pick<UploadLimits, 'variants'>): Promise<Buffer> {
  const widest = Math.max(640, ...limits.variants.map((variant) => variant.width));
  const width = Math.min(4000, Math.round(widest * 1.25));
  const height = Math.round((width * 2) / 3);
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      pixels[i] = (x * 255) / width;
      pixels[i + 1] = (y * 255) / height;
      pixels[i + 2] = 128 + 100 * Math.sin(x / 23) * Math.cos(y / 17);
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

/** EICAR behind a JPEG's first bytes, declared as a JPEG: only a malware scan stops it as malware. */
export function eicarAsJpeg(): Buffer {
  return Buffer.concat([
    Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]),
    Buffer.from(EICAR_TEST_STRING, 'latin1'),
  ]);
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function apiUrl(target: VerifyTarget, path: string): URL {
  return new URL(
    path,
    target.apiBaseUrl.endsWith('/') ? target.apiBaseUrl : `${target.apiBaseUrl}/`,
  );
}

async function getJson(url: URL, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new StepFailure(`GET ${url.href} got no answer (${networkProblem(error)})`);
  }
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch {
    return { status: response.status, body: undefined };
  }
}

function networkProblem(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause;
  return cause?.code ?? (error as Error).message;
}

/** Why an upload went wrong, in words that say where to look. */
function uploadProblem(error: unknown, target: VerifyTarget): string {
  if (!(error instanceof DirectdropError)) return (error as Error).message;
  if (error.status === 401 || error.status === 403) {
    return `the API refused the credentials (${error.status} ${error.code}): pass --key <function key> or --token <JWT> for this stack`;
  }
  if (error.code === 'timeout') {
    return `it had no outcome after ${target.timeoutMs / 1000} s (upload ${error.uploadId}, still pending). Is processing running? Check the processUploadEvent function's invocations and the upload-events queue (messages waiting but no invocations means the trigger stopped)`;
  }
  if (error.code === 'rejected' || error.code === 'processing-failed') {
    return `it ended ${error.code === 'rejected' ? 'rejected' : 'failed'} / ${error.reason ?? 'no reason'}: ${error.message}`;
  }
  return `${error.code}${error.status ? ` (${error.status})` : ''}: ${error.message}${
    error.code === 'network-error' ? ` Is ${target.apiBaseUrl} reachable?` : ''
  }`;
}

async function checkLimits(target: VerifyTarget, state: { limits?: UploadLimits }) {
  let limits: UploadLimits;
  try {
    limits = await getLimits({
      apiBaseUrl: target.apiBaseUrl,
      signal: AbortSignal.timeout(60_000),
    });
  } catch (error) {
    throw new StepFailure(`GET /limits failed: ${uploadProblem(error, target)}`);
  }
  if (!Array.isArray(limits.variants) || limits.variants.length === 0) {
    throw new StepFailure('GET /limits names no variants');
  }
  state.limits = limits;
  return `${(limits.maxBytes / 1024 / 1024).toFixed(1)} MiB at most, ${limits.allowedContentTypes.length} types, variants ${limits.variants
    .map((variant) => `${variant.name} ${variant.width} px ${variant.format}`)
    .join(', ')}`;
}

async function checkOpenApi(target: VerifyTarget) {
  const url = apiUrl(target, 'openapi.json');
  const { status, body } = await getJson(url, 60_000);
  const document = body as { openapi?: unknown; paths?: Record<string, unknown> } | undefined;
  if (status !== 200 || typeof document?.openapi !== 'string' || !document.paths) {
    throw new StepFailure(`GET /openapi.json answered ${status}, not an OpenAPI document`);
  }
  const missing = REQUIRED_PATHS.filter((path) => !(path in (document.paths ?? {})));
  if (missing.length > 0) {
    throw new StepFailure(`the OpenAPI document lacks ${missing.join(', ')}`);
  }
  return `OpenAPI ${document.openapi}, ${Object.keys(document.paths).length} paths`;
}

async function checkUnsigned(target: VerifyTarget) {
  const url = apiUrl(target, 'uploads');
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ fileName: 'unsigned.jpg', contentType: 'image/jpeg', size: 1024 }),
      signal: AbortSignal.timeout(60_000),
    });
    await response.body?.cancel();
  } catch (error) {
    throw new StepFailure(`POST /uploads got no answer (${networkProblem(error)})`);
  }
  if (response.status === 401 || response.status === 403) {
    return `POST /uploads without credentials: ${response.status}`;
  }
  throw new StepFailure(
    response.status === 201
      ? 'POST /uploads without credentials got an upload URL: anyone can upload (is authMode anonymous?)'
      : `POST /uploads without credentials answered ${response.status}, not 401`,
  );
}

/** Downloads each output at its read URL and checks it is the image the status describes. */
async function checkOutputs(outputs: ProcessedOutput[], limits: UploadLimits): Promise<string[]> {
  const seen: string[] = [];
  for (const variant of limits.variants) {
    const output = outputs.find((candidate) => candidate.name === variant.name);
    if (!output) throw new StepFailure(`processed, but without the ${variant.name} variant`);
    let response: Response;
    try {
      response = await fetch(output.url, { signal: AbortSignal.timeout(60_000) });
    } catch (error) {
      throw new StepFailure(
        `the ${variant.name} read URL got no answer (${networkProblem(error)})`,
      );
    }
    if (response.status !== 200) {
      throw new StepFailure(`the ${variant.name} read URL answered ${response.status}, not 200`);
    }
    const bytes = Buffer.from(await response.arrayBuffer());
    const metadata = await sharp(bytes)
      .metadata()
      .catch(() => undefined);
    const type = response.headers.get('content-type');
    if (
      type !== output.contentType ||
      bytes.byteLength !== output.size ||
      metadata?.width !== output.width ||
      metadata.height !== output.height ||
      output.width > variant.width
    ) {
      throw new StepFailure(
        `the ${variant.name} variant read back as ${type}, ${bytes.byteLength} bytes, ${metadata?.width}×${metadata?.height}; its status said ${output.contentType}, ${output.size} bytes, ${output.width}×${output.height} (at most ${variant.width} wide)`,
      );
    }
    seen.push(`${variant.name} ${output.width}×${output.height}`);
  }
  return seen;
}

async function checkPhoto(target: VerifyTarget, state: { limits?: UploadLimits }) {
  if (!state.limits) throw new StepFailure('skipped for want of the limits (see the limits step)');
  const limits = state.limits;
  const photo = await verificationPhoto(limits);
  const stages: string[] = [];
  let result;
  try {
    result = await upload(photo, {
      apiBaseUrl: target.apiBaseUrl,
      functionsKey: target.functionsKey,
      token: target.token,
      fileName: 'directdrop-verify.jpg',
      contentType: 'image/jpeg',
      pollTimeoutMs: target.timeoutMs,
      onPendingStage: (stage) => stages.push(stage),
    });
  } catch (error) {
    throw new StepFailure(`the photo was not processed: ${uploadProblem(error, target)}`);
  }
  const variants = await checkOutputs(result.outputs, limits);
  const path = stages.length > 0 ? ` (${stages.join(', then ')})` : '';
  return `${(photo.byteLength / 1024).toFixed(0)} KiB photo processed in ${seconds(result.timings.totalMs)}${path}: ${variants.join(', ')}, each readable`;
}

async function checkMalware(target: VerifyTarget) {
  try {
    await upload(eicarAsJpeg(), {
      apiBaseUrl: target.apiBaseUrl,
      functionsKey: target.functionsKey,
      token: target.token,
      fileName: 'directdrop-verify-eicar.jpg',
      contentType: 'image/jpeg',
      pollTimeoutMs: target.timeoutMs,
    });
  } catch (error) {
    if (
      error instanceof DirectdropError &&
      error.code === 'rejected' &&
      error.reason === 'malware'
    ) {
      return 'the EICAR test file ended rejected / malware';
    }
    const gateOff =
      error instanceof DirectdropError && error.code === 'rejected'
        ? ' The scan gate did not see it: is malware scanning on for the upload account?'
        : '';
    throw new StepFailure(
      `the EICAR test file should end rejected / malware, but ${uploadProblem(error, target)}${gateOff}`,
    );
  }
  throw new StepFailure('the EICAR test file was processed: the malware scan gate is off');
}

/** Runs every step in order; `onStep` hears each result as it is known. */
export async function verifyDeployment(
  target: VerifyTarget,
  onStep: (result: StepResult) => void = () => undefined,
): Promise<StepResult[]> {
  const state: { limits?: UploadLimits } = {};
  const credentials = Boolean(target.functionsKey || target.token);
  const steps: Record<StepName, () => Promise<string>> = {
    limits: () => checkLimits(target, state),
    openapi: () => checkOpenApi(target),
    unsigned: () => checkUnsigned(target),
    photo: () => checkPhoto(target, state),
    malware: () => checkMalware(target),
  };
  const skip: Partial<Record<StepName, string>> = {
    ...(credentials
      ? {}
      : {
          unsigned:
            'no --key or --token given, so the API is taken to be open (authMode anonymous)',
        }),
    ...(target.malwareScanning === undefined
      ? { malware: 'whether the stack scans is unknown: pass --scanning on or --scanning off' }
      : target.malwareScanning
        ? {}
        : { malware: 'the stack does not scan for malware' }),
  };
  const results: StepResult[] = [];
  for (const step of STEP_NAMES) {
    const started = performance.now();
    let result: StepResult;
    const reason = skip[step];
    if (reason) {
      result = { step, result: 'skip', ms: 0, detail: reason };
    } else {
      try {
        const detail = await steps[step]();
        result = { step, result: 'ok', ms: Math.round(performance.now() - started), detail };
      } catch (error) {
        const detail =
          error instanceof StepFailure
            ? error.message
            : `unexpected error: ${error instanceof Error ? error.message : String(error)}`;
        result = { step, result: 'fail', ms: Math.round(performance.now() - started), detail };
      }
    }
    results.push(result);
    onStep(result);
  }
  return results;
}
