/**
 * Quota arithmetic, pure: given a caller's stored state, the limits and the clock, either
 * the next state (the reservation) or the limit that refuses it and when it resets. The
 * store (adapters/upload-table.ts) applies these with optimistic concurrency.
 */

export interface QuotaLimits {
  urlsPerMinute: number;
  urlBurst: number;
  outstandingUploads: number;
  bytesPerDay: number;
}

/** One caller's counters, stored as one entity so a reservation is one conditional write. */
export interface CallerQuotaState {
  /** Token bucket of upload URLs: `urlBurst` deep, refilled at `urlsPerMinute`. */
  tokens: number;
  refilledAtMs: number;
  /**
   * Outstanding uploads counted by the minute their slot lapses (see slotKey) → how many, so
   * the entity and the work on it stay as small with 500 held as with one. Which upload holds
   * a slot is said by its own record, changed in the same transaction.
   */
  slots: Record<string, number>;
  /** UTC day (YYYY-MM-DD) `bytes` counts. */
  day: string;
  bytes: number;
}

/** Every caller together: one fixed minute window per shard. */
export interface GlobalQuotaState {
  windowStartMs: number;
  /** Tokens leased to instances in this window. */
  count: number;
}

export type QuotaLimitName =
  'urls-per-minute' | 'outstanding-uploads' | 'bytes-per-day' | 'global-urls-per-minute';

export interface QuotaExceeded {
  limit: QuotaLimitName;
  /** The configured maximum. */
  max: number;
  resetsAt: Date;
}

export interface Reservation {
  uploadId: string;
  size: number;
  /** When the upload URL expires; the outstanding slot lapses a grace period later. */
  urlExpiresAtMs: number;
}

export type Reserved<T> = { ok: true; state: T } | { ok: false; exceeded: QuotaExceeded };

/**
 * An issued upload that never produces an outcome (the URL was never used) stops counting
 * this long after its URL expires: time enough for an upload started just before expiry
 * to be processed from a backed-up queue.
 */
export const OUTSTANDING_GRACE_MS = 60 * 60_000;
const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

export function utcDay(nowMs: number): string {
  return new Date(nowMs).toISOString().slice(0, 10);
}

function nextUtcMidnight(nowMs: number): number {
  return Math.floor(nowMs / DAY_MS) * DAY_MS + DAY_MS;
}

function refilled(state: CallerQuotaState | undefined, limits: QuotaLimits, nowMs: number) {
  if (!state) return limits.urlBurst;
  const elapsed = Math.max(0, nowMs - state.refilledAtMs);
  return Math.min(limits.urlBurst, state.tokens + (elapsed * limits.urlsPerMinute) / MINUTE_MS);
}

/**
 * The slot an upload whose URL expires at `urlExpiresAtMs` holds: the end of the minute in
 * which it lapses, so a slot counts at most a minute longer than its grace period.
 */
export function slotKey(urlExpiresAtMs: number): string {
  return lapseMinute(urlExpiresAtMs + OUTSTANDING_GRACE_MS);
}

/** The end of the minute in which a slot lapses at `lapsesAtMs`, as a slot key. */
function lapseMinute(lapsesAtMs: number): string {
  return String(Math.ceil(lapsesAtMs / MINUTE_MS) * MINUTE_MS);
}

/** The slots still held at `nowMs`; lapsed minutes are dropped. */
function liveSlots(slots: Record<string, number>, nowMs: number): Record<string, number> {
  const live: Record<string, number> = {};
  for (const key in slots) if (Number(key) > nowMs && slots[key] > 0) live[key] = slots[key];
  return live;
}

function total(slots: Record<string, number>): number {
  let held = 0;
  for (const key in slots) held += slots[key];
  return held;
}

/** How many outstanding uploads a caller holds at `nowMs`. */
export function heldSlots(state: CallerQuotaState | undefined, nowMs: number): number {
  return total(liveSlots(state?.slots ?? {}, nowMs));
}

/** Takes one URL, one outstanding slot and `size` bytes from the caller, or names the limit hit. */
export function reserveForCaller(
  state: CallerQuotaState | undefined,
  limits: QuotaLimits,
  reservation: Reservation,
  nowMs: number,
): Reserved<CallerQuotaState> {
  const tokens = refilled(state, limits, nowMs);
  if (tokens < 1) {
    const waitMs = Math.ceil(((1 - tokens) * MINUTE_MS) / limits.urlsPerMinute);
    return {
      ok: false,
      exceeded: {
        limit: 'urls-per-minute',
        max: limits.urlsPerMinute,
        resetsAt: new Date(nowMs + waitMs),
      },
    };
  }
  const slots = liveSlots(state?.slots ?? {}, nowMs);
  if (total(slots) >= limits.outstandingUploads) {
    return {
      ok: false,
      exceeded: {
        limit: 'outstanding-uploads',
        max: limits.outstandingUploads,
        resetsAt: new Date(Math.min(...Object.keys(slots).map(Number))),
      },
    };
  }
  const day = utcDay(nowMs);
  const bytes = state?.day === day ? state.bytes : 0;
  if (bytes + reservation.size > limits.bytesPerDay) {
    return {
      ok: false,
      exceeded: {
        limit: 'bytes-per-day',
        max: limits.bytesPerDay,
        resetsAt: new Date(nextUtcMidnight(nowMs)),
      },
    };
  }
  const slot = slotKey(reservation.urlExpiresAtMs);
  slots[slot] = (slots[slot] ?? 0) + 1;
  return {
    ok: true,
    state: { tokens: tokens - 1, refilledAtMs: nowMs, slots, day, bytes: bytes + reservation.size },
  };
}

/**
 * The state without one slot of minute `slot` (from the upload's record, undefined when it
 * holds none), or undefined when there is nothing to free, the slot having lapsed already.
 */
export function releaseSlot(
  state: CallerQuotaState | undefined,
  slot: string | undefined,
  nowMs: number,
): CallerQuotaState | undefined {
  if (!state || slot === undefined || Number(slot) <= nowMs || !(state.slots[slot] > 0))
    return undefined;
  const slots = liveSlots(state.slots, nowMs);
  if (slots[slot] > 1) slots[slot]--;
  else delete slots[slot];
  return { ...state, slots };
}

/**
 * Gives back what a reservation took, when the URL could not be issued after all: the
 * token, the bytes and, when the upload's record still holds it, the slot.
 */
export function refundCaller(
  state: CallerQuotaState,
  limits: QuotaLimits,
  reservation: Reservation,
  slot: string | undefined,
  nowMs: number,
): CallerQuotaState {
  const day = utcDay(nowMs);
  return {
    tokens: Math.min(limits.urlBurst, refilled(state, limits, nowMs) + 1),
    refilledAtMs: nowMs,
    slots: releaseSlot(state, slot, nowMs)?.slots ?? state.slots,
    day,
    bytes: state.day === day ? Math.max(0, state.bytes - reservation.size) : 0,
  };
}

/** What one caller may still take now, for RateLimit headers on a 201. */
export function remainingUrls(state: CallerQuotaState, limits: QuotaLimits, nowMs: number) {
  const tokens = refilled(state, limits, nowMs);
  return {
    remaining: Math.floor(tokens),
    /** Seconds until the bucket is full again. */
    resetSeconds: Math.ceil(((limits.urlBurst - tokens) * 60) / limits.urlsPerMinute),
  };
}

/**
 * The global cap is split over shards so that callers arriving at once do not all contend
 * for one entity; each shard allows its share per minute. A shard can refuse while others
 * still have room, so the cap is reached slightly early, never exceeded.
 */
export function globalShards(globalPerMinute: number): {
  shards: number;
  perShard: number;
  /** Tokens an instance leases from a shard at once (see leaseGlobal). */
  block: number;
} {
  // Up to 8 shards of at least 100 each: a small cap stays one exact counter.
  const shards = Math.max(1, Math.min(8, Math.floor(globalPerMinute / 100)));
  const perShard = Math.floor(globalPerMinute / shards);
  // A twentieth of a shard per lease: one write serves many URLs, and leases that lapse
  // unused (an instance going quiet) cost the others little of the minute's cap.
  return { shards, perShard, block: Math.max(1, Math.min(50, Math.floor(perShard / 20))) };
}

export function minuteWindow(nowMs: number): number {
  return Math.floor(nowMs / MINUTE_MS) * MINUTE_MS;
}

/**
 * Leases up to `block` of a shard's tokens for the current minute to one instance, which
 * then issues URLs against its lease without asking storage. Tokens leased are counted as
 * spent, whether used or not, so the URLs issued in a minute never exceed the cap; a lease
 * is only good in its own minute.
 */
export function leaseGlobal(
  state: GlobalQuotaState | undefined,
  perShard: number,
  globalPerMinute: number,
  block: number,
  nowMs: number,
): { ok: true; state: GlobalQuotaState; granted: number } | { ok: false; exceeded: QuotaExceeded } {
  const windowStartMs = minuteWindow(nowMs);
  const count = state?.windowStartMs === windowStartMs ? state.count : 0;
  const granted = Math.min(block, perShard - count);
  if (granted <= 0) return { ok: false, exceeded: globalExceeded(globalPerMinute, nowMs) };
  return { ok: true, state: { windowStartMs, count: count + granted }, granted };
}

export function globalExceeded(globalPerMinute: number, nowMs: number): QuotaExceeded {
  return {
    limit: 'global-urls-per-minute',
    max: globalPerMinute,
    resetsAt: new Date(minuteWindow(nowMs) + MINUTE_MS),
  };
}

/** Whole seconds from now until `resetsAt`, at least 1: what Retry-After says. */
export function retryAfterSeconds(exceeded: QuotaExceeded, nowMs: number): number {
  return Math.max(1, Math.ceil((exceeded.resetsAt.getTime() - nowMs) / 1000));
}

function isCountMap(value: unknown): value is Record<string, number> {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.values(value).every((v) => typeof v === 'number')
  );
}

/**
 * Parses stored state, tolerating nothing it did not write. State written before slots were
 * counted per minute (`outstanding`: upload id → lapse ms) is counted into minutes; those
 * uploads' records name no slot, so theirs lapse rather than being freed by an outcome.
 */
export function parseCallerState(text: string | undefined): CallerQuotaState | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as Partial<CallerQuotaState> & { outstanding?: unknown };
    if (
      typeof v.tokens !== 'number' ||
      typeof v.refilledAtMs !== 'number' ||
      typeof v.day !== 'string' ||
      typeof v.bytes !== 'number'
    )
      return undefined;
    let slots = v.slots;
    if (slots === undefined && isCountMap(v.outstanding)) {
      slots = {};
      for (const lapsesAtMs of Object.values(v.outstanding)) {
        const key = lapseMinute(lapsesAtMs);
        slots[key] = (slots[key] ?? 0) + 1;
      }
    }
    if (!isCountMap(slots)) return undefined;
    return { tokens: v.tokens, refilledAtMs: v.refilledAtMs, slots, day: v.day, bytes: v.bytes };
  } catch {
    return undefined;
  }
}

export function parseGlobalState(text: string | undefined): GlobalQuotaState | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as GlobalQuotaState;
    return typeof v.windowStartMs === 'number' && typeof v.count === 'number' ? v : undefined;
  } catch {
    return undefined;
  }
}
