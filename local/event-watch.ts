/**
 * `npx directdrop events`: reads the local topic's Server-Sent Events stream (`GET
 * /events`) and says what each outcome event and delivery was, one line each. Waits for
 * local mode when it is not running yet, and reconnects when it restarts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeliveryNotice } from './webhook-subscriber';

export type FrameKind = 'cloudevent' | 'delivery';

export interface WatchOptions {
  signal: AbortSignal;
  onFrame(kind: FrameKind, payload: unknown): void;
  onConnected?(): void;
  /** Said once per outage, not on every retry. */
  onWaiting?(reason: string): void;
  retryMs?: number;
}

/** Splits an SSE byte stream into `event:` / `data:` frames (data lines joined by newlines). */
export function parseSseFrames(buffer: string): {
  frames: Array<{ event: string; data: string }>;
  rest: string;
} {
  const frames: Array<{ event: string; data: string }> = [];
  const blocks = buffer.split(/\r?\n\r?\n/);
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(':')) continue;
      const [field, ...value] = line.split(':');
      const text = value.join(':').replace(/^ /, '');
      if (field === 'event') event = text;
      else if (field === 'data') data.push(text);
    }
    if (data.length > 0) frames.push({ event, data: data.join('\n') });
  }
  return { frames, rest };
}

/** Runs until `signal` aborts. */
export async function watchEventStream(url: string, options: WatchOptions): Promise<void> {
  const retryMs = options.retryMs ?? 1_000;
  let waiting = false;
  while (!options.signal.aborted) {
    try {
      const response = await fetch(url, {
        signal: options.signal,
        headers: { accept: 'text/event-stream' },
      });
      if (response.status !== 200 || !response.body) {
        await response.body?.cancel();
        throw new Error(`it answered ${response.status}`);
      }
      waiting = false;
      options.onConnected?.();
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        const { frames, rest } = parseSseFrames(buffer);
        buffer = rest;
        for (const frame of frames) {
          if (frame.event !== 'cloudevent' && frame.event !== 'delivery') continue;
          options.onFrame(frame.event, JSON.parse(frame.data));
          if (options.signal.aborted) return;
        }
      }
      throw new Error('local mode stopped');
    } catch (error) {
      if (options.signal.aborted) return;
      if (!waiting) {
        const cause = (error as { cause?: { code?: string } }).cause?.code;
        options.onWaiting?.(
          cause === 'ECONNREFUSED' ? 'nothing listens there' : (error as Error).message,
        );
      }
      waiting = true;
      await sleep(retryMs, undefined, { signal: options.signal }).catch(() => undefined);
    }
  }
}

interface OutcomeLike {
  type?: string;
  subject?: string;
  time?: string;
  data?: { status?: string; reason?: string; metadata?: Record<string, string> };
}

/** `time  type  subject  status  reason  metadata {…}`, leaving out what the event lacks. */
export function describeOutcomeEvent(payload: unknown): string {
  const event = payload as OutcomeLike;
  const data = event.data ?? {};
  const metadata =
    data.metadata && Object.keys(data.metadata).length > 0
      ? `metadata ${JSON.stringify(data.metadata)}`
      : '';
  return [
    event.time ?? '',
    event.type ?? '',
    event.subject ?? '',
    data.status ?? '',
    data.reason ?? '',
    metadata,
  ]
    .filter((part) => part !== '')
    .join('  ');
}

export function describeDeliveryNotice(payload: unknown): string {
  const notice = payload as DeliveryNotice;
  const what =
    notice.outcome === 'delivered'
      ? `delivered (attempt ${notice.attempt})`
      : notice.outcome === 'retrying'
        ? `attempt ${notice.attempt} failed (${notice.result}${notice.status ? ` ${notice.status}` : ''}), retrying`
        : `dead-lettered after ${notice.attempt} attempt(s) (${notice.result}) → ${notice.deadLetter}`;
  return `  → ${notice.url}: ${notice.type} ${notice.id} ${what}`;
}
