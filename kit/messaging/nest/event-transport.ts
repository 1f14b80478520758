import type { Registry } from "@bufbuild/protobuf";
import { type CustomTransportStrategy, type MessageHandler, Server } from "@nestjs/microservices";
import { lastValueFrom } from "rxjs";
import type { EventBus, StreamSpec } from "../bus/event-bus.js";
import { subjectMatches } from "../bus/subject.js";
import type { EventConsumerOptions } from "../consumer/consumer-options.js";
import { defaultDurableName } from "../consumer/durable-name.js";
import { createEventConsumer, type EventConsumer, type ReceivedEvent } from "../consumer/event-consumer.js";
import type { DeadLetterSink } from "../dead-letter/dead-letter-store.js";
import { combineReadiness, type Readiness } from "../readiness/readiness.js";
import { EventContext } from "./event-context.js";
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
    const specs = [...this.messageHandlers.entries()].filter(([, h]) => h.isEventHandler === true).map(([subject, h]) => this.consumerFor(subject, h));
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

  private consumerFor(subject: string, head: MessageHandler): { options: EventConsumerOptions; handler: (e: ReceivedEvent) => Promise<void> } {
    const own = (head.extras?.[ON_EVENT_EXTRAS] ?? {}) as OnEventOptions;
    const stream = own.stream ?? this.options.streams.find((s) => s.subjects.some((p) => subjectMatches(p, subject)))?.name;
    if (stream === undefined) {
      throw new Error(`no declared stream captures event subject "${subject}"; add it to EventTransport streams`);
    }
    const { subject: _ignored, ...overrides } = own;
    const options: EventConsumerOptions = {
      ...this.options.consumerDefaults,
      ...overrides,
      stream,
      durable: own.durable ?? defaultDurableName(this.options.service, subject),
      filterSubject: subject,
    };
    // Several handlers of one subject are chained by Nest; all must succeed for the ack.
    const handler = async (event: ReceivedEvent) => {
      for (let h: MessageHandler | undefined = head; h; h = h.next as MessageHandler | undefined) {
        const result: unknown = await h(event.message, new EventContext(event));
        await lastValueFrom(this.transformToObservable(result), { defaultValue: undefined });
      }
    };
    return { options, handler };
  }
}
