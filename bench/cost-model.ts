/**
 * Benchmark 5, cost model: compute cost per 1,000 uploads of 5 MiB on Azure Functions
 * Flex Consumption (on demand), direct SAS upload versus a proxy, from the busy times
 * measured in this run. Flex bills the instance's memory for the time it is executing
 * plus a charge per execution; CPU is not billed separately, so wall time is what costs.
 *
 * Prices, US dollars, East US, pay-as-you-go, free grants ignored (marginal cost):
 * - On-demand execution time $0.000026 per GB-second: modal.com, "Azure Functions pricing:
 *   Consumption vs. Flex Consumption", dated 22 May 2025. Azure's own pricing page
 *   (azure.microsoft.com/pricing/details/functions) renders its prices in the browser, and
 *   the stored copy we could search shows none, so this is a secondary source.
 * - Executions $0.40 per million: ASSUMPTION, not found in any source we could read.
 * - Billing model (instance memory × active time, per instance): learn.microsoft.com,
 *   Azure Functions Flex Consumption billing table (ms.date 2024-11-05).
 * - Instance memory 2,048 MB, the Flex default (2,048 or 4,096 MB are offered).
 */
import { fmt, times } from './lib/measure';
import type { Row } from './lib/report';

export const PRICES = {
  usdPerGbSecond: 0.000026,
  usdPerMillionExecutions: 0.4,
  instanceGb: 2,
} as const;

export interface UploadBusyTimes {
  /** Our function's busy time per upload (issuing the URL), ms. */
  directMs: number;
  /** The proxy's busy time for a 5 MiB upload from a fast client, ms. */
  proxyFastMs: number;
  /** The proxy's busy time for a 5 MiB upload at 1 MiB/s, ms. */
  proxySlowMs: number;
}

/**
 * Bounds, because Flex bills per instance: executions overlapping on one instance share
 * its GB-seconds. One at a time is low traffic; 16 at a time assumes a busy instance
 * running 16 concurrent HTTP requests (an assumption, not a measured figure).
 */
export function usdPerThousand(busyMs: number, sharedBy: number): number {
  const gbSeconds = (PRICES.instanceGb * (busyMs / 1000)) / sharedBy;
  const perUpload = gbSeconds * PRICES.usdPerGbSecond + PRICES.usdPerMillionExecutions / 1e6;
  return perUpload * 1000;
}

const usd = (value: number) => `$${fmt(value, 2)}`;

export function costRows(busy: UploadBusyTimes): Row[] {
  return ([1, 16] as const).flatMap((sharedBy) => {
    const direct = usdPerThousand(busy.directMs, sharedBy);
    const fast = usdPerThousand(busy.proxyFastMs, sharedBy);
    const slow = usdPerThousand(busy.proxySlowMs, sharedBy);
    const per = sharedBy === 1 ? 'one upload per instance' : '16 uploads share an instance';
    return [
      {
        benchmark: 'cost model',
        case: `1,000 × 5 MiB, fast client, ${per}: USD (direct | proxy)`,
        ours: usd(direct),
        baseline: usd(fast),
        ratio: `proxy ${times(fast, direct)}`,
      },
      {
        benchmark: 'cost model',
        case: `1,000 × 5 MiB, client at 1 MiB/s, ${per}: USD (direct | proxy)`,
        ours: usd(direct),
        baseline: usd(slow),
        ratio: `proxy ${times(slow, direct)}`,
      },
    ];
  });
}
