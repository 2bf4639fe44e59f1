/**
 * One webhook subscription of local mode's Event Grid topic: the events published to it
 * wait in an Azurite queue of their own, so they survive a restart, and are delivered one
 * per POST, retried and dead-lettered as Event Grid does (see webhook-delivery.ts).
 *
 * Each message is leased while its attempt runs; a failure writes the attempt count and
 * outcome back into the message and hides it for the next retry delay (held in process
 * for the sub-second steps, which queue visibility cannot express). A crash mid-attempt
 * leaves the message to reappear after its lease: delivered at least once, never lost.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerClient } from '@azure/storage-blob';
import type { DequeuedMessageItem, QueueClient } from '@azure/storage-queue';
import type { PublishedCloudEvent } from './event-topic-publish';
import { type Logger, describeError } from './log';
import {
  type AttemptResult,
  type DeliveryPolicy,
  type WebhookSubscription,
  deadLetterBlobName,
  deadLetterRecord,
  decideAfterAttempt,
  deliveryHeaders,
  deliveryOutcome,
  handshakeHeaders,
  handshakeVerdict,
} from './webhook-delivery';

/** What a delivery came to, for `GET /events` watchers and the console. */
export interface DeliveryNotice {
  subscription: string;
  url: string;
  id: string;
  type: string;
  attempt: number;
  outcome: 'delivered' | 'retrying' | 'dead-lettered';
  result: string;
  status?: number;
  deadLetter?: string;
}

export interface WebhookSubscriberOptions {
  subscription: WebhookSubscription;
  queue: QueueClient;
  /** Holds events too large for a queue message while they wait. */
  spill: ContainerClient;
  deadLetters: ContainerClient;
  secret: string;
  policy: DeliveryPolicy;
  log: Logger;
  onNotice?: (notice: DeliveryNotice) => void;
  /** Attempts in flight at once (Event Grid delivers in parallel too). */
  concurrency?: number;
  /** Longest wait between polls of an empty queue. */
  maxIdleMs?: number;
}

export interface WebhookSubscriber {
  readonly subscription: WebhookSubscription;
  /** True once the handshake succeeded in this run. */
  readonly validated: boolean;
  /** Durable once it resolves. */
  enqueue(events: readonly PublishedCloudEvent[], publishTime: Date): Promise<void>;
  stop(): Promise<void>;
}

/** One pending delivery as its queue message holds it. */
interface PendingDelivery {
  v: 1;
  event?: PublishedCloudEvent;
  /** Name of the spill blob when the event did not fit in the message. */
  eventBlob?: string;
  publishTime: string;
  attempts: number;
  lastResult?: AttemptResult;
  lastAttemptTime?: string;
}

/** Storage queue messages hold at most 64 KiB of text. */
const MAX_MESSAGE_CHARS = 64 * 1024;
const encode = (pending: PendingDelivery) =>
  Buffer.from(JSON.stringify(pending), 'utf8').toString('base64');
const decode = (text: string) =>
  JSON.parse(Buffer.from(text, 'base64').toString('utf8')) as PendingDelivery;

class StopRequested extends Error {}

export async function startWebhookSubscriber(
  options: WebhookSubscriberOptions,
): Promise<WebhookSubscriber> {
  const { subscription, queue, spill, deadLetters, secret, policy, log } = options;
  const concurrency = options.concurrency ?? 8;
  const maxIdleMs = options.maxIdleMs ?? 1_000;
  // A message stays leased while its attempt may still be answered, plus a margin.
  const leaseSeconds = Math.ceil(policy.timeoutMs / 1000) + 5;
  await queue.createIfNotExists();
  await Promise.all([spill.createIfNotExists(), deadLetters.createIfNotExists()]);

  let stopping = false;
  let validated = false;
  const stopController = new AbortController();
  const inFlight = new Set<Promise<void>>();
  const notify = (notice: DeliveryNotice) => options.onNotice?.(notice);

  /** One HTTP exchange with the webhook, bounded by the response timeout and by stop(). */
  async function exchange(init: RequestInit): Promise<Response | AttemptResult> {
    const signal = AbortSignal.any([AbortSignal.timeout(policy.timeoutMs), stopController.signal]);
    try {
      const response = await fetch(subscription.url, { ...init, signal, redirect: 'manual' });
      await response.body?.cancel().catch(() => undefined);
      return response;
    } catch (error) {
      if (stopController.signal.aborted) throw new StopRequested();
      if ((error as Error).name === 'TimeoutError') return { kind: 'timeout' };
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      return { kind: 'network', detail: cause?.code ?? cause?.message ?? String(error) };
    }
  }

  async function handshake(): Promise<string | undefined> {
    const answer = await exchange({ method: 'OPTIONS', headers: handshakeHeaders() });
    if (!(answer instanceof Response)) {
      return answer.kind === 'timeout'
        ? `no answer to the OPTIONS request within ${policy.timeoutMs / 1000} s`
        : `the OPTIONS request failed (${answer.kind === 'network' ? answer.detail : ''})`;
    }
    const verdict = handshakeVerdict(answer.status, answer.headers.get('webhook-allowed-origin'));
    return verdict.accepted ? undefined : verdict.reason;
  }

  async function eventOf(pending: PendingDelivery): Promise<PublishedCloudEvent> {
    if (pending.event) return pending.event;
    const bytes = await spill.getBlobClient(pending.eventBlob as string).downloadToBuffer();
    return JSON.parse(bytes.toString('utf8')) as PublishedCloudEvent;
  }

  async function finish(message: DequeuedMessageItem, pending: PendingDelivery): Promise<void> {
    await queue.deleteMessage(message.messageId, message.popReceipt);
    if (pending.eventBlob) await spill.deleteBlob(pending.eventBlob).catch(() => undefined);
  }

  async function deadLetter(
    event: PublishedCloudEvent,
    pending: PendingDelivery,
    reason: string,
    result: AttemptResult,
    attemptTime: Date,
  ): Promise<string> {
    const name = deadLetterBlobName(subscription, attemptTime, randomUUID());
    const text = JSON.stringify([
      deadLetterRecord(event, {
        reason,
        attempts: pending.attempts,
        lastResult: result,
        publishTime: new Date(pending.publishTime),
        lastAttemptTime: attemptTime,
      }),
    ]);
    await deadLetters.getBlockBlobClient(name).upload(text, Buffer.byteLength(text), {
      blobHTTPHeaders: { blobContentType: 'application/json' },
    });
    return `${deadLetters.containerName}/${name}`;
  }

  /** Runs one message's attempts until it is delivered, dead-lettered or hidden for a later retry. */
  async function deliver(first: DequeuedMessageItem): Promise<void> {
    let message = first;
    let pending = decode(message.messageText);
    const event = await eventOf(pending);
    for (;;) {
      const attempt = pending.attempts + 1;
      let answer: Response | AttemptResult;
      try {
        answer = await exchange({
          method: 'POST',
          headers: deliveryHeaders(event, subscription, attempt, secret),
          body: JSON.stringify(event),
        });
      } catch (error) {
        if (!(error instanceof StopRequested)) throw error;
        // Stopping: hand the message back untouched, for the next start.
        await queue.updateMessage(message.messageId, message.popReceipt, message.messageText, 0);
        return;
      }
      const attemptTime = new Date();
      const result: AttemptResult =
        answer instanceof Response ? { kind: 'status', status: answer.status } : answer;
      const decision = decideAfterAttempt(result, attempt, policy);
      const base = {
        subscription: subscription.name,
        url: subscription.url,
        id: event.id,
        type: event.type,
        attempt,
        result: deliveryOutcome(result),
        ...(result.kind === 'status' ? { status: result.status } : {}),
      };
      pending = {
        ...pending,
        attempts: attempt,
        lastResult: result,
        lastAttemptTime: attemptTime.toISOString(),
      };
      if (decision.action === 'delivered') {
        await finish(message, pending);
        if (attempt > 1)
          log.info(
            `Events: ${event.type} ${event.id} delivered to ${subscription.url} on attempt ${attempt}`,
          );
        notify({ ...base, outcome: 'delivered', result: 'Succeeded' });
        return;
      }
      if (decision.action === 'dead-letter') {
        const where = await deadLetter(event, pending, decision.reason, result, attemptTime);
        await finish(message, pending);
        log.warn(
          `Events: ${event.type} ${event.id} dead-lettered for ${subscription.url} after ${attempt} attempt(s) ` +
            `(${decision.reason}, last: ${describeResult(result)}) → ${where}`,
        );
        notify({ ...base, outcome: 'dead-lettered', deadLetter: where });
        return;
      }
      notify({ ...base, outcome: 'retrying' });
      const held = decision.delayMs < 1_000;
      // Sub-second delays stay leased and wait here; longer ones free the slot and hide the message.
      const receipt = await queue.updateMessage(
        message.messageId,
        message.popReceipt,
        encode(pending),
        held ? leaseSeconds : Math.round(decision.delayMs / 1000),
      );
      if (!held) return;
      message = {
        ...message,
        popReceipt: receipt.popReceipt as string,
        messageText: encode(pending),
      };
      try {
        await sleep(decision.delayMs, undefined, { signal: stopController.signal });
      } catch {
        await queue.updateMessage(message.messageId, message.popReceipt, message.messageText, 0);
        return;
      }
    }
  }

  function describeResult(result: AttemptResult): string {
    if (result.kind === 'status') return `HTTP ${result.status}`;
    if (result.kind === 'timeout') return `no answer within ${policy.timeoutMs / 1000} s`;
    return `connection failed (${result.detail})`;
  }

  async function loop(): Promise<void> {
    let idleMs = 50;
    let handshakeWaitMs = 500;
    let lastProblem = '';
    while (!stopping) {
      try {
        if (!validated) {
          const problem = await handshake();
          if (problem) {
            if (problem !== lastProblem) {
              log.warn(
                `Events: webhook ${subscription.url} refused the CloudEvents handshake (${problem}); ` +
                  'its events wait in their queue and the handshake is retried',
              );
            }
            lastProblem = problem;
            await sleep(handshakeWaitMs, undefined, { signal: stopController.signal });
            handshakeWaitMs = Math.min(handshakeWaitMs * 2, 10_000);
            continue;
          }
          validated = true;
          log.info(`Events: webhook ${subscription.url} accepted the CloudEvents handshake`);
        }
        if (inFlight.size >= concurrency) {
          await Promise.race(inFlight);
          continue;
        }
        const { receivedMessageItems } = await queue.receiveMessages({
          numberOfMessages: Math.min(32, concurrency - inFlight.size),
          visibilityTimeout: leaseSeconds,
        });
        if (receivedMessageItems.length === 0) {
          await sleep(idleMs, undefined, { signal: stopController.signal });
          idleMs = Math.min(idleMs * 2, maxIdleMs);
          continue;
        }
        idleMs = 50;
        for (const message of receivedMessageItems) {
          const running: Promise<void> = deliver(message)
            .catch((error) => {
              // The message reappears after its lease and is tried again.
              log.warn(
                `Events: delivery to ${subscription.url} interrupted: ${describeError(error).split('\n')[0]}`,
              );
            })
            .finally(() => inFlight.delete(running));
          inFlight.add(running);
        }
      } catch (error) {
        if (stopping) break;
        log.warn(
          `Events: ${subscription.name} queue unreachable, retrying: ${describeError(error).split('\n')[0]}`,
        );
        await sleep(1_000, undefined, { signal: stopController.signal }).catch(() => undefined);
      }
    }
  }

  const running = loop().catch(() => undefined);
  return {
    subscription,
    get validated() {
      return validated;
    },
    async enqueue(events, publishTime) {
      await Promise.all(
        events.map(async (event) => {
          let text = encode({ v: 1, event, publishTime: publishTime.toISOString(), attempts: 0 });
          if (text.length > MAX_MESSAGE_CHARS) {
            const eventBlob = `${subscription.name}/${randomUUID()}.json`;
            const body = JSON.stringify(event);
            await spill.getBlockBlobClient(eventBlob).upload(body, Buffer.byteLength(body));
            text = encode({ v: 1, eventBlob, publishTime: publishTime.toISOString(), attempts: 0 });
          }
          // Event Grid keeps an event until its retries end; so does the queue (-1: no expiry).
          await queue.sendMessage(text, { messageTimeToLive: -1 });
        }),
      );
    },
    async stop() {
      stopping = true;
      stopController.abort();
      await running;
      await Promise.allSettled([...inFlight]);
    },
  };
}
