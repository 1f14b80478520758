import { BaseRpcContext } from "@nestjs/microservices";
import type { ReceivedEvent } from "../consumer/event-consumer.js";

/** What `@Ctx()` gives a JetStream event handler. */
export class EventContext extends BaseRpcContext<[ReceivedEvent]> {
  constructor(event: ReceivedEvent) {
    super([event]);
  }

  /** The delivery, and its inbox key: `applyOnce(db, context.getEvent(), (tx) => …)`. */
  getEvent(): ReceivedEvent {
    return this.args[0];
  }

  /** The durable consumer the event came through: the handler's identity and half its inbox key. */
  getConsumer(): string {
    return this.args[0].consumer;
  }

  getEventId(): string {
    return this.args[0].eventId;
  }

  getSubject(): string {
    return this.args[0].subject;
  }

  getHeaders(): Readonly<Record<string, string>> {
    return this.args[0].headers;
  }

  getDeliveryCount(): number {
    return this.args[0].deliveryCount;
  }

  /** Marks the message in progress (also done on a timer while the handler runs). */
  working(): void {
    this.args[0].working();
  }
}
