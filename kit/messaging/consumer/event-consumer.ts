import { fromBinary, type Message, type Registry } from "@bufbuild/protobuf";
import { trace } from "@opentelemetry/api";
import { backoffDelay } from "../backoff.js";
import { errorText } from "../error-text.js";
import { type Delivery, EventHeaders, type EventSubscriber, type Subscription } from "../bus/event-bus.js";
import type { DeadLetterSink } from "../dead-letter/dead-letter-store.js";
import { type Readiness } from "../readiness/readiness.js";
import { type EventConsumerOptions, type ResolvedConsumerOptions, resolveConsumerOptions } from "./consumer-options.js";

/** A decoded event as a handler sees it. */
export interface ReceivedEvent<T extends Message = Message> {
  /** Fully-qualified protobuf type name. */
  type: string;
  message: T;
  /**
   * The durable consumer this delivery came through, named once by the toolkit (the handler's
   * `durable`, else `defaultDurableName`). With `eventId` it is the inbox key: pass the event to
   * `applyOnce` or `withInbox`, never a name of your own.
   */
  consumer: string;
  /** The event id header, else the broker dedupe id, else stream:sequence. */
  eventId: string;
  subject: string;
  headers: Readonly<Record<string, string>>;
  /** 1 on first delivery. */
  deliveryCount: number;
  /** Marks the delivery in progress now (the consumer also does so on a timer). */
  working(): void;
}

/**
 * Handles one event. Resolve only after every effect is committed: the message is acked then.
 * A rejection naks it for a later redelivery (with growing delay) until MaxDeliver, after which
 * it goes to the dead letters.
 */
export type EventHandler = (event: ReceivedEvent) => Promise<void>;

export interface EventConsumerDeps {
  subscriber: EventSubscriber;
  /** Types the consumer can decode, e.g. `createRegistry(file_acme_items_v1_events)`. */
  registry: Registry;
  deadLetters: DeadLetterSink;
}

export interface EventConsumer {
  start(): Promise<void>;
  /** Stops pulling and waits for running handlers. */
  stop(): Promise<void>;
  /** Whether events reach this consumer now: its subscription's readiness; not ready unless started. */
  readiness(): Readiness;
}

/** Consumes one durable consumer: decode, run the handler, then ack, nak or dead-letter. */
export function createEventConsumer(deps: EventConsumerDeps, options: EventConsumerOptions, handler: EventHandler): EventConsumer {
  const opts = resolveConsumerOptions(options);
  let subscription: Subscription | undefined;
  return {
    async start() {
      if (subscription) return;
      subscription = await deps.subscriber.subscribe(
        {
          stream: opts.stream,
          durable: opts.durable,
          filterSubject: opts.filterSubject,
          // Unlimited at the broker: this consumer counts deliveries and dead-letters itself.
          maxDeliver: -1,
          ackWaitMs: opts.ackWaitMs,
          maxAckPending: opts.maxAckPending,
        },
        opts.concurrency,
        (delivery) => handleDelivery(deps, opts, handler, delivery),
      );
    },
    async stop() {
      const s = subscription;
      subscription = undefined;
      await s?.stop();
    },
    readiness() {
      return subscription?.readiness() ?? { ready: false, reason: `consumer ${opts.durable} on ${opts.stream} is not running` };
    },
  };
}

async function handleDelivery(deps: EventConsumerDeps, opts: ResolvedConsumerOptions, handler: EventHandler, delivery: Delivery): Promise<void> {
  const context = { subject: delivery.subject, streamSequence: delivery.streamSequence };
  const type = delivery.headers[EventHeaders.eventType];
  const eventId = delivery.headers[EventHeaders.eventId] ?? delivery.headers["Nats-Msg-Id"] ?? `${delivery.stream}:${delivery.streamSequence}`;
  let message: Message;
  try {
    const schema = type === undefined ? undefined : deps.registry.getMessage(type);
    if (!schema) throw new Error(type === undefined ? `no ${EventHeaders.eventType} header` : `unknown event type ${type}`);
    message = fromBinary(schema, delivery.data);
  } catch (err) {
    // Redelivering cannot make it decodable: dead-letter it now.
    await deadLetter(deps, opts, delivery, type, eventId, `undecodable: ${errorText(err)}`);
    return;
  }

  const heartbeat = setInterval(() => keepAlive(delivery), opts.workingIntervalMs);
  try {
    await handler({
      type: message.$typeName,
      message,
      consumer: opts.durable,
      eventId,
      subject: delivery.subject,
      headers: delivery.headers,
      deliveryCount: delivery.deliveryCount,
      working: () => keepAlive(delivery),
    });
  } catch (err) {
    clearInterval(heartbeat);
    // The delivery's span (when traced) shows why it will be redelivered or dead-lettered.
    trace.getActiveSpan()?.recordException(err instanceof Error ? err : new Error(errorText(err)));
    opts.onError(err, context);
    if (delivery.deliveryCount >= opts.maxDeliver) {
      await deadLetter(deps, opts, delivery, type, eventId, errorText(err));
    } else {
      delivery.nak(backoffDelay(opts.nakBackoff, delivery.deliveryCount));
    }
    return;
  }
  clearInterval(heartbeat);
  try {
    await delivery.ack();
  } catch (err) {
    // The message comes back; the handler's inbox makes the second run a no-op.
    opts.onError(err, context);
  }
}

async function deadLetter(
  deps: EventConsumerDeps,
  opts: ResolvedConsumerOptions,
  delivery: Delivery,
  type: string | undefined,
  eventId: string,
  reason: string,
): Promise<void> {
  try {
    await deps.deadLetters.write({
      stream: delivery.stream,
      consumer: delivery.consumer,
      subject: delivery.subject,
      streamSequence: delivery.streamSequence,
      deliveries: delivery.deliveryCount,
      eventId,
      eventType: type ?? null,
      headers: { ...delivery.headers },
      payload: delivery.data,
      reason: reason.slice(0, 2_000),
    });
  } catch (err) {
    // Not stored, so not dropped: try again on a later delivery.
    opts.onError(err, { subject: delivery.subject, streamSequence: delivery.streamSequence });
    delivery.nak(backoffDelay(opts.nakBackoff, delivery.deliveryCount));
    return;
  }
  delivery.term(reason.slice(0, 200));
}

function keepAlive(delivery: Delivery): void {
  try {
    delivery.working();
  } catch {
    // The connection is gone; the message will be redelivered, and the inbox absorbs the rerun.
  }
}
