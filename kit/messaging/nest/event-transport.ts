import type { Registry } from "@bufbuild/protobuf";
import { type CustomTransportStrategy, type MessageHandler, Server } from "@nestjs/microservices";
import { lastValueFrom } from "rxjs";
import type { Db } from "@protomesh/data";
import type { EventBus, StreamSpec } from "../bus/event-bus.js";
import { subjectMatches } from "../bus/subject.js";
import type { EventConsumerOptions } from "../consumer/consumer-options.js";
import { defaultDurableName } from "../consumer/durable-name.js";
import { createEventConsumer, type EventConsumer, type ReceivedEvent } from "../consumer/event-consumer.js";
import type { DeadLetterSink } from "../dead-letter/dead-letter-store.js";
import { applyOnce } from "../inbox/apply-once.js";
import { combineReadiness, type Readiness } from "../readiness/readiness.js";
import { EventContext, type InboxTransaction } from "./event-context.js";
import { EVENT_TRANSPORT, ON_EVENT_EXTRAS, type OnEventOptions } from "./on-event.js";

export interface EventTransportOptions {
  /** The bus (JetStream in production, the in-memory fake in tests); its connection stays the caller's. */
  bus: EventBus;
  /** Decodes payloads by their type header, e.g. `createRegistry(file_acme_items_v1_events, …)`. */
  registry: Registry;
  /** Where poison and undecodable messages go; usually `createDeadLetterStore(db)`. */
  deadLetters: DeadLetterSink;
  /**
   * Prefix of every durable name a handler does not set itself (`defaultDurableName`), normally
   * the service name: replicas share the consumers. A durable is also its handler's inbox key.
   */
  service: string;
  /** Streams this service consumes; created or updated at start-up. */
  streams: StreamSpec[];
  /**
   * Copies a cluster keeps of those streams, where a spec does not say: give the value their
   * owners use (NATS_STREAM_REPLICAS), or this service would scale an owner's R3 stream down to
   * R1 at start-up. Default 1.
   */
  streamReplicas?: number | undefined;
  /** Defaults for every handler's consumer (see `EventConsumerOptions`). Default: its defaults. */
  consumerDefaults?: Partial<Omit<EventConsumerOptions, "stream" | "durable" | "filterSubject">> | undefined;
  /**
   * The Drizzle database whose transactions and inbox `@OnEvent(…, { inbox: true })` handlers run
   * in: the service's own, where its data and outbox are. Start-up fails when such a handler is
   * declared without it. Default: none.
   */
  database?: Db<Record<string, unknown>> | undefined;
}

/**
 * A Nest transport strategy that runs `@OnEvent` handlers (or `@EventPattern(subject,
 * EVENT_TRANSPORT)`) on durable JetStream pull consumers, one per subject, named
 * `<service>_<subject>` and shared by all replicas. Start-up fails when a handler's subject is
 * captured by no declared stream.
 */
export class EventTransport extends Server implements CustomTransportStrategy {
  override readonly transportId = EVENT_TRANSPORT;
  private readonly consumers: EventConsumer[] = [];
  private started = false;

  constructor(private readonly options: EventTransportOptions) {
    super();
  }

  listen(callback: (err?: unknown) => void): void {
    this.start().then(
      () => callback(),
      (err: unknown) => callback(err),
    );
  }

  async close(): Promise<void> {
    this.started = false;
    await Promise.all(this.consumers.splice(0).map((c) => c.stop()));
  }

  /** Whether events reach every handler's consumer now (for a health probe); not ready until all have started. */
  readiness(): Readiness {
    if (!this.started) return { ready: false, reason: "event consumers are not running" };
    return combineReadiness(this.consumers.map((c) => c.readiness()));
  }

  on(): never {
    throw new Error("EventTransport emits no events; watch the bus connection instead");
  }

  unwrap<T>(): T {
    return this.options.bus as T;
  }

  private async start(): Promise<void> {
    for (const stream of this.options.streams) await this.options.bus.ensureStream({ ...stream, replicas: stream.replicas ?? this.options.streamReplicas });
    const specs = [...this.messageHandlers.entries()].filter(([, h]) => h.isEventHandler === true).flatMap(([subject, h]) => this.consumersFor(subject, h));
    for (const { options, handler } of specs) {
      const consumer = createEventConsumer(
        { subscriber: this.options.bus, registry: this.options.registry, deadLetters: this.options.deadLetters },
        options,
        handler,
      );
      await consumer.start();
      this.consumers.push(consumer);
    }
    this.started = true;
  }

  /**
   * Nest chains the handlers of one subject and runs the whole chain, concurrently, whenever the
   * head is called. Unchained here, each handler runs on the consumer it names (its `durable`, else
   * the default one), so its inbox key is its own; handlers that share a consumer run one after
   * the other, in one transaction when they ask for the inbox, and must all succeed for the ack.
   */
  private consumersFor(subject: string, head: MessageHandler): { options: EventConsumerOptions; handler: (e: ReceivedEvent) => Promise<void> }[] {
    const byDurable = new Map<string, { own: OnEventOptions; handlers: MessageHandler[] }>();
    for (let h: MessageHandler | undefined = head; h; ) {
      const next = h.next as MessageHandler | undefined;
      delete h.next;
      const own = (h.extras?.[ON_EVENT_EXTRAS] ?? {}) as OnEventOptions;
      const durable = own.durable ?? defaultDurableName(this.options.service, subject);
      const group = byDurable.get(durable);
      if (group === undefined) byDurable.set(durable, { own, handlers: [h] });
      else if (JSON.stringify(group.own) !== JSON.stringify(own)) {
        throw new Error(`the handlers of event subject "${subject}" on consumer "${durable}" differ in their options; give one of them a durable of its own`);
      } else group.handlers.push(h);
      h = next;
    }
    return [...byDurable].map(([durable, { own, handlers }]) => this.consumerFor(subject, durable, own, handlers));
  }

  private consumerFor(
    subject: string,
    durable: string,
    own: OnEventOptions,
    handlers: MessageHandler[],
  ): { options: EventConsumerOptions; handler: (e: ReceivedEvent) => Promise<void> } {
    const stream = own.stream ?? this.options.streams.find((s) => s.subjects.some((p) => subjectMatches(p, subject)))?.name;
    if (stream === undefined) {
      throw new Error(`no declared stream captures event subject "${subject}"; add it to EventTransport streams`);
    }
    const { subject: _subject, inbox: transactional, ...overrides } = own;
    const options: EventConsumerOptions = { ...this.options.consumerDefaults, ...overrides, stream, durable, filterSubject: subject };
    const runHandlers = async (event: ReceivedEvent, transaction?: InboxTransaction) => {
      for (const h of handlers) {
        const result: unknown = await h(event.message, new EventContext(event, transaction));
        await lastValueFrom(this.transformToObservable(result), { defaultValue: undefined });
      }
    };
    if (transactional !== true) return { options, handler: (event) => runHandlers(event) };
    const database = this.options.database;
    if (database === undefined) {
      throw new Error(`the handler of event subject "${subject}" asks for { inbox: true }, but EventTransport has no database to open its transaction on`);
    }
    // The inbox row and the handlers' effects commit together, keyed by the consumer named above.
    const handler = async (event: ReceivedEvent) => {
      const afterCommit: InboxTransaction["afterCommit"] = [];
      const outcome = await applyOnce(database, event, (tx) => runHandlers(event, { tx, afterCommit }));
      if (outcome.status === "applied") for (const work of afterCommit) await work();
    };
    return { options, handler };
  }
}
