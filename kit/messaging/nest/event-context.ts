import { BaseRpcContext } from "@nestjs/microservices";
import type { Tx } from "@protomesh/data";
import type { ReceivedEvent } from "../consumer/event-consumer.js";

/** The transaction an `{ inbox: true }` handler runs in, and the work queued for after its commit. */
export interface InboxTransaction {
  tx: Tx<Record<string, unknown>>;
  afterCommit: (() => unknown)[];
}

/** What `@Ctx()` gives an event handler. */
export class EventContext extends BaseRpcContext<[ReceivedEvent, InboxTransaction | undefined]> {
  constructor(event: ReceivedEvent, transaction?: InboxTransaction) {
    super([event, transaction]);
  }

  /** The delivery, and its inbox key: `applyOnce(db, context.getEvent(), (tx) => …)`. */
  getEvent(): ReceivedEvent {
    return this.args[0];
  }

  /**
   * The transaction of an `@OnEvent(…, { inbox: true })` handler: the inbox row of this delivery
   * is in it, and the event counts as handled only if it commits. Write the handler's effects and
   * the events it publishes (`writeEvent(tx, …)`) through it. Pass your Drizzle schema's type to
   * get typed relational queries.
   */
  getTransaction<TSchema extends Record<string, unknown> = Record<string, never>>(): Tx<TSchema> {
    const transaction = this.args[1];
    if (transaction === undefined) {
      throw new TypeError(`the handler of "${this.getSubject()}" has no transaction: declare it with @OnEvent(schema, { inbox: true })`);
    }
    return transaction.tx as unknown as Tx<TSchema>;
  }

  /**
   * Runs `work` after the handler's transaction commits (an `{ inbox: true }` handler), e.g. to
   * invalidate a cache the transaction made stale; never when it rolls back or the event was a
   * duplicate. A failure of `work` redelivers the event, which the inbox then skips: after-commit
   * work is done at most once, so keep it to what may be lost (a cache entry expires).
   */
  afterCommit(work: () => unknown): void {
    const transaction = this.args[1];
    if (transaction === undefined) {
      throw new TypeError(`the handler of "${this.getSubject()}" has no transaction to follow: declare it with @OnEvent(schema, { inbox: true })`);
    }
    transaction.afterCommit.push(work);
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
