/**
 * A queue trigger with the Functions queue extension's semantics, ported from
 * QueueListener.cs and QueueProcessor.cs (Microsoft.Azure.WebJobs.Extensions.Storage):
 * - fetch `batchSize` messages under a 10-minute lease, renewed at half-life while running;
 * - fetch again once in-flight invocations drop to `newBatchThreshold`, so at most
 *   batchSize + newBatchThreshold run at once;
 * - empty polls back off exponentially (randomised) from 100 ms to `maxPollingInterval`;
 * - success deletes; failure makes the message visible again after `visibilityTimeout`;
 *   the `maxDequeueCount`th failure copies it to `<queue>-poison` and deletes it;
 * - with Base64 encoding, a message that is not Base64 goes straight to the poison queue;
 * - queues named `*-poison` have no poison queue: failures stay invisible until the lease ends.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DequeuedMessageItem, QueueClient } from '@azure/storage-queue';
import type { QueueTriggerOptions } from './host-config';
import { MIN_POLLING_INTERVAL_MS } from './host-config';
import { type Logger, describeError } from './log';

/** The lease QueueListener takes on each message, renewed at half-life while it runs. */
export const MESSAGE_LEASE_MS = 10 * 60_000;
/** Azure Storage rejects queue names longer than this, so no poison queue exists for them. */
const MAX_QUEUE_NAME_LENGTH = 63;

/** Trigger metadata the Functions host passes along, camel-cased as @azure/functions exposes it. */
export interface QueueTriggerMetadata {
  id: string;
  dequeueCount: number;
  insertionTime: string;
  expirationTime: string;
  nextVisibleTime: string;
  popReceipt: string;
  queueTrigger: string;
}

/** Runs the function; resolves on success, rejects on failure (a throw or a timeout). */
export type QueueInvoker = (payload: unknown, metadata: QueueTriggerMetadata) => Promise<void>;

export interface QueueListenerOptions {
  queue: QueueClient;
  /** Undefined for queues that have none (named `*-poison` or too long). */
  poisonQueue: QueueClient | undefined;
  options: QueueTriggerOptions;
  invoke: QueueInvoker;
  log: Logger;
  /** Called after a message lands in the poison queue, so its listener can look right away. */
  onPoisoned?: (poisonQueueName: string) => void;
  leaseMs?: number;
}

export interface QueueListener {
  readonly queueName: string;
  /** Invocations currently running. */
  readonly inFlight: number;
  /** Cut the current back-off short: a message was just added. */
  notify(): void;
  /**
   * Stops fetching, waits up to `drainMs` for running invocations, then releases the
   * leases of those still running so another start picks them up at once.
   */
  stop(drainMs: number): Promise<void>;
}

export function poisonQueueNameFor(queueName: string): string | undefined {
  const name = `${queueName}-poison`;
  return queueName.endsWith('-poison') || name.length > MAX_QUEUE_NAME_LENGTH ? undefined : name;
}

function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number } | null)?.statusCode;
}

/** Errors meaning "someone else owns or removed this message": nothing left to do. */
function isGoneOrTaken(error: unknown): boolean {
  const status = statusOf(error);
  return status === 404 || status === 400 || status === 409;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict Base64, like .NET's Convert.FromBase64String (which ignores whitespace). */
export function decodeBase64Message(text: string): string | undefined {
  const compact = text.replace(/\s+/g, '');
  return BASE64.test(compact) ? Buffer.from(compact, 'base64').toString('utf8') : undefined;
}

/** What @azure/functions hands a queue handler: parsed JSON, or the text when it is not JSON. */
export function toHandlerPayload(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** RandomizedExponentialBackoffStrategy: min, then min + ~min·2^(n-1) (±20 %), capped at max. */
class Backoff {
  private current = MIN_POLLING_INTERVAL_MS;
  private exponent = 1;

  constructor(private readonly maxMs: number) {}

  next(foundMessages: boolean): number {
    if (foundMessages) {
      this.current = MIN_POLLING_INTERVAL_MS;
      this.exponent = 1;
    } else if (this.current !== this.maxMs) {
      const factor = 0.8 + Math.random() * 0.4;
      const interval =
        MIN_POLLING_INTERVAL_MS + factor * 2 ** (this.exponent - 1) * MIN_POLLING_INTERVAL_MS;
      if (interval < this.maxMs) {
        this.current = interval;
        this.exponent++;
      } else {
        this.current = this.maxMs;
      }
    }
    return this.current;
  }
}

export function startQueueListener(config: QueueListenerOptions): QueueListener {
  const { queue, poisonQueue, options, invoke, log } = config;
  const leaseMs = config.leaseMs ?? MESSAGE_LEASE_MS;
  const backoff = new Backoff(options.maxPollingIntervalMs);
  const processing = new Set<Promise<void>>();
  /** Messages whose invocation is still running, for releasing at shutdown. */
  const leased = new Map<string, { popReceipt: string }>();
  let stopping = false;
  let wake: (() => void) | undefined;
  let queueExists: boolean | undefined;
  let foundSinceLastDelay = false;
  let lastError = '';

  async function waitFor(ms: number): Promise<void> {
    const controller = new AbortController();
    await Promise.race([
      sleep(ms, undefined, { signal: controller.signal }).catch(() => undefined),
      new Promise<void>((resolve) => (wake = resolve)),
    ]);
    controller.abort();
    wake = undefined;
  }

  function backOff(): Promise<void> {
    const delay = backoff.next(foundSinceLastDelay);
    foundSinceLastDelay = false;
    return waitFor(delay);
  }

  async function moveToPoison(
    message: DequeuedMessageItem,
    popReceipt: string,
    why: string,
  ): Promise<void> {
    if (!poisonQueue) return;
    log.warn(`${why}. Moving message ${message.messageId} to queue '${poisonQueue.name}'.`);
    await poisonQueue.createIfNotExists();
    // The body is copied as stored: still Base64, as the extension re-encodes the decoded bytes.
    await poisonQueue.sendMessage(message.messageText);
    await deleteMessage(message.messageId, popReceipt);
    config.onPoisoned?.(poisonQueue.name);
  }

  async function deleteMessage(messageId: string, popReceipt: string): Promise<void> {
    try {
      await queue.deleteMessage(messageId, popReceipt);
    } catch (error) {
      if (!isGoneOrTaken(error)) throw error;
    }
  }

  async function release(
    messageId: string,
    popReceipt: string,
    visibilityMs: number,
  ): Promise<void> {
    try {
      await queue.updateMessage(messageId, popReceipt, undefined, Math.ceil(visibilityMs / 1000));
    } catch (error) {
      if (!isGoneOrTaken(error)) throw error;
    }
  }

  /** Keeps the lease while the function runs, like UpdateQueueMessageVisibilityCommand. */
  function renewLease(messageId: string): NodeJS.Timeout {
    return setInterval(() => {
      const lease = leased.get(messageId);
      if (!lease) return;
      queue
        .updateMessage(messageId, lease.popReceipt, undefined, Math.ceil(leaseMs / 1000))
        .then((response) => {
          if (response.popReceipt) lease.popReceipt = response.popReceipt;
        })
        .catch((error) =>
          log.warn(`Could not renew the lease of message ${messageId}: ${describeError(error)}`),
        );
    }, leaseMs / 2);
  }

  async function processMessage(message: DequeuedMessageItem): Promise<void> {
    const { messageId, dequeueCount } = message;
    // A message whose lease ran out mid-run (a crash) can come back already over the limit.
    if (dequeueCount > options.maxDequeueCount) {
      await moveToPoison(
        message,
        message.popReceipt,
        `Message has reached MaxDequeueCount of ${options.maxDequeueCount}`,
      );
      return;
    }
    const text =
      options.messageEncoding === 'base64'
        ? decodeBase64Message(message.messageText)
        : message.messageText;
    if (text === undefined) {
      // The extension's MessageDecodingFailed handler poisons such messages without a run.
      await moveToPoison(
        message,
        message.popReceipt,
        'Message decoding has failed! Check MessageEncoding settings',
      );
      return;
    }
    const lease = { popReceipt: message.popReceipt };
    leased.set(messageId, lease);
    const timer = renewLease(messageId);
    let succeeded: boolean;
    try {
      await invoke(toHandlerPayload(text), {
        id: messageId,
        dequeueCount,
        insertionTime: message.insertedOn.toISOString(),
        expirationTime: message.expiresOn.toISOString(),
        nextVisibleTime: message.nextVisibleOn.toISOString(),
        popReceipt: message.popReceipt,
        queueTrigger: text,
      });
      succeeded = true;
    } catch {
      succeeded = false;
    } finally {
      clearInterval(timer);
      leased.delete(messageId);
    }
    if (succeeded) await deleteMessage(messageId, lease.popReceipt);
    else if (!poisonQueue)
      return; // Left invisible until the lease ends, so failures don't spin.
    else if (dequeueCount >= options.maxDequeueCount) {
      await moveToPoison(
        message,
        lease.popReceipt,
        `Message has reached MaxDequeueCount of ${options.maxDequeueCount}`,
      );
    } else await release(messageId, lease.popReceipt, options.visibilityTimeoutMs);
  }

  function track(message: DequeuedMessageItem): void {
    const task = processMessage(message)
      .catch((error) =>
        log.error(
          `Queue '${queue.name}': completing message ${message.messageId} failed: ${describeError(error)}`,
        ),
      )
      .finally(() => processing.delete(task));
    processing.add(task);
  }

  async function fetchBatch(): Promise<DequeuedMessageItem[] | undefined> {
    try {
      if (queueExists !== true) {
        queueExists = await queue.exists();
        if (!queueExists) return undefined;
      }
      const response = await queue.receiveMessages({
        numberOfMessages: options.batchSize,
        visibilityTimeout: Math.ceil(leaseMs / 1000),
      });
      if (lastError) log.info(`Queue '${queue.name}': reachable again`);
      lastError = '';
      return response.receivedMessageItems;
    } catch (error) {
      // Any error resets the existence check; the listener backs off and tries again.
      queueExists = undefined;
      const text = describeError(error).split('\n')[0];
      if (text !== lastError)
        log.warn(`Queue '${queue.name}': polling failed, backing off: ${text}`);
      lastError = text;
      return undefined;
    }
  }

  async function loop(): Promise<void> {
    while (!stopping) {
      const batch = await fetchBatch();
      if (stopping) {
        // Fetched while stopping: hand the messages straight back.
        await Promise.all(
          (batch ?? []).map((m) => release(m.messageId, m.popReceipt, 0).catch(() => undefined)),
        );
        break;
      }
      if (!batch || batch.length === 0) {
        await backOff();
        continue;
      }
      foundSinceLastDelay = true;
      batch.forEach(track);
      // WaitForNewBatchThreshold: the next fetch waits until few enough are still running.
      while (processing.size > options.newBatchThreshold && !stopping) {
        await Promise.race(processing);
      }
    }
  }

  const running = loop();
  return {
    queueName: queue.name,
    get inFlight() {
      return processing.size;
    },
    notify() {
      wake?.();
    },
    async stop(drainMs) {
      stopping = true;
      wake?.();
      await running;
      const drained = Promise.all(processing).then(() => true);
      const inTime = await Promise.race([drained, sleep(drainMs).then(() => false)]);
      if (!inTime) {
        log.warn(
          `Queue '${queue.name}': ${leased.size} invocation(s) still running; releasing their messages for the next start`,
        );
        await Promise.all(
          [...leased].map(([messageId, lease]) =>
            release(messageId, lease.popReceipt, 0).catch(() => undefined),
          ),
        );
      }
    },
  };
}
