/**
 * What a burst of uploads would have cost the proxy design (bench/upload-proxy.ts): each
 * upload keeps a function execution busy while its bytes pass through, for a time the
 * proxy baseline measured per MiB in the same run. Pure arithmetic, so it is unit tested:
 * a least-squares fit of busy time to size, the most executions overlapping, and GB-s.
 */

export interface BusySample {
  bytes: number;
  busyMs: number;
}

/** busyMs ≈ fixedMs + perMibMs × MiB, fitted by least squares (one size: through the origin). */
export interface BusyModel {
  fixedMs: number;
  perMibMs: number;
}

const MIB = 1024 * 1024;

export function fitBusyModel(samples: readonly BusySample[]): BusyModel {
  if (samples.length === 0) throw new Error('no proxy samples to fit');
  const xs = samples.map((s) => s.bytes / MIB);
  const ys = samples.map((s) => s.busyMs);
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  const sxx = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  if (sxx === 0) return { fixedMs: 0, perMibMs: my / mx };
  const sxy = xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0);
  const perMibMs = sxy / sxx;
  // A negative intercept is noise around zero fixed cost; keep the model physical.
  const fixedMs = my - perMibMs * mx;
  return fixedMs >= 0 ? { fixedMs, perMibMs } : { fixedMs: 0, perMibMs: my / mx };
}

export function busyMsFor(model: BusyModel, bytes: number): number {
  return model.fixedMs + (model.perMibMs * bytes) / MIB;
}

export interface BurstUpload {
  /** When the upload's bytes started to flow, ms from any fixed origin. */
  startMs: number;
  bytes: number;
}

export interface ProxyBurstCost {
  /** Most proxy executions busy at the same moment. */
  peakConcurrent: number;
  /** Sum of every execution's busy time, s. */
  busySeconds: number;
  /** busySeconds × memory per execution, GB-s (1 GB = 1,024 MiB, as Azure bills memory). */
  gbSeconds: number;
}

/** The burst replayed through the proxy: each upload busy for the model's time from its start. */
export function proxyBurstCost(
  uploads: readonly BurstUpload[],
  model: BusyModel,
  memoryMib: number,
): ProxyBurstCost {
  const edges: Array<[at: number, delta: number]> = [];
  let busyMs = 0;
  for (const upload of uploads) {
    const duration = busyMsFor(model, upload.bytes);
    busyMs += duration;
    edges.push([upload.startMs, 1], [upload.startMs + duration, -1]);
  }
  // Ends before starts at the same instant: back-to-back executions do not overlap.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let peak = 0;
  for (const [, delta] of edges) {
    now += delta;
    peak = Math.max(peak, now);
  }
  const busySeconds = busyMs / 1000;
  return { peakConcurrent: peak, busySeconds, gbSeconds: busySeconds * (memoryMib / 1024) };
}
