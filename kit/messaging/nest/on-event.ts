import type { DescMessage } from "@bufbuild/protobuf";
import { EventPattern } from "@nestjs/microservices";
import type { EventConsumerOptions } from "../consumer/consumer-options.js";

/** The transport id of `EventTransport`: handlers bound to it run only on that server. */
export const EVENT_TRANSPORT: unique symbol = Symbol("protomesh.jetstream");

/** Per-handler consumer settings; the rest comes from the transport's `consumerDefaults`. */
export type OnEventOptions = Partial<Pick<EventConsumerOptions, "stream" | "durable" | "concurrency" | "maxDeliver" | "ackWaitMs" | "maxAckPending" | "nakBackoff">> & {
  /** Subject to consume. Default: the event type name, which is what `writeEvent` publishes on. */
  subject?: string;
  /**
   * Run the handler once per event, in a transaction the transport opens on its database: the
   * inbox records the delivery under the handler's consumer in that transaction, a delivery
   * already applied skips the handler, and the handler reads the transaction from
   * `context.getTransaction()`. Needs the transport's `database`. Default: false.
   */
  inbox?: boolean;
};

/** Extras key under which `OnEvent` stores its options on the Nest handler. */
export const ON_EVENT_EXTRAS = "protomeshJetStream";

/**
 * Declares a JetStream event handler for one protobuf event type: `@OnEvent(ItemAddedSchema)`.
 * The handler gets the decoded message (`@Payload()`) and a `EventContext` (`@Ctx()`); it is
 * acked when it resolves and retried when it throws. With `{ inbox: true }` it runs once per event
 * in a transaction of its own (`context.getTransaction()`); without, its consumer (`durable`, or
 * the transport's default name) reaches it on the event: `applyOnce(db, context.getEvent(), …)`.
 */
export function OnEvent(schema: DescMessage, options: OnEventOptions = {}): MethodDecorator {
  return EventPattern<string>(options.subject ?? schema.typeName, EVENT_TRANSPORT, { [ON_EVENT_EXTRAS]: options });
}
