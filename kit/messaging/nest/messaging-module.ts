import { createRegistry, type Registry } from "@bufbuild/protobuf";
import { type ConfigurableModuleAsyncOptions, ConfigurableModuleBuilder, Inject, Module, type OnApplicationBootstrap, type OnApplicationShutdown } from "@nestjs/common";
import { type Database, type DatabaseOptions, openDatabase } from "@protomesh/data";
import type { EventBus, StreamSpec } from "../bus/event-bus.js";
import { createDeadLetterStore, type DeadLetterSink, type DeadLetterStore } from "../dead-letter/dead-letter-store.js";
import { createOutboxRelay, type OutboxRelay } from "../outbox/relay.js";
import type { OutboxRelayOptions } from "../outbox/relay-options.js";
import { EventTransport, type EventTransportOptions } from "./event-transport.js";
import { Outbox } from "./outbox.js";
import { DEAD_LETTERS, MESSAGING_DATABASE, OUTBOX_RELAY } from "./tokens.js";

/** NATS servers the module connects to, and owns, for a JetStream bus. */
export interface JetStreamConnectionOptions {
  /** e.g. "nats://127.0.0.1:4222", or a cluster's seed list. */
  servers: string | string[];
  /** How long the first connection may take, ms. Default 10 000. */
  connectTimeoutMs?: number | undefined;
}

export interface ProtomeshMessagingOptions {
  /**
   * The service's name: prefix of its consumers' durable names (so replicas share them) and the
   * name of its database and NATS connections.
   */
  service: string;
  /**
   * How to open the service's database (`@protomesh/data`: PostgreSQL with `url`, else embedded
   * PGlite; `migrationsFolder` applied at start), which the module then closes at shutdown; or a
   * database you opened, which stays yours to close. Its schema must include the `outbox`,
   * `inbox` and `deadLetters` tables.
   */
  database: DatabaseOptions<Record<string, unknown>> | Database<Record<string, unknown>>;
  /** `{ jetstream: { servers } }`: NATS JetStream on a connection the module opens and drains; or a bus of yours, which stays yours to close. */
  bus: { jetstream: JetStreamConnectionOptions } | EventBus;
  /** The stream this service's events are published to, created or updated at start-up. Default: none. */
  publishes?: StreamSpec | undefined;
  /** The streams this service consumes (`@OnEvent` handlers), created or updated when the event transport starts. Default: none. */
  consumes?: readonly StreamSpec[] | undefined;
  /** Copies a cluster keeps of the streams above where a spec does not say. Default 1. */
  streamReplicas?: number | undefined;
  /** Decodes consumed events by their type, e.g. `createRegistry(file_acme_items_v1_events)`. Default: an empty registry. */
  registry?: Registry | undefined;
  /** The outbox relay's settings. Default: its defaults. */
  relay?: OutboxRelayOptions | undefined;
  /** Defaults for every handler's consumer. Default: its defaults. */
  consumerDefaults?: EventTransportOptions["consumerDefaults"];
}

const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN } = new ConfigurableModuleBuilder<ProtomeshMessagingOptions>()
  .setClassMethodName("forRoot")
  // One database, bus and relay per application, used from every feature module: global, as
  // TypeOrmModule.forRoot is; `isGlobal: false` limits it to the importing module.
  .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();

/** What `forRoot` takes: the options, and whether the providers are global (default true). */
export type ProtomeshMessagingModuleOptions = ProtomeshMessagingOptions & { isGlobal?: boolean };
/** What `forRootAsync` takes: Nest's `imports`/`inject`/`useFactory` (or `useClass`, `useExisting`), and `isGlobal`. */
export type ProtomeshMessagingModuleAsyncOptions = ConfigurableModuleAsyncOptions<ProtomeshMessagingOptions> & { isGlobal?: boolean };

/** What the module opened; released in the reverse order of opening. */
class MessagingRuntime implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    readonly database: Database<Record<string, unknown>>,
    readonly bus: EventBus,
    readonly relay: OutboxRelay,
    private readonly opened: Opened,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.relay.start();
  }

  // Nest calls this after the HTTP server and the microservices (the event consumers among them)
  // have stopped, so the relay still publishes what their last handlers wrote.
  async onApplicationShutdown(): Promise<void> {
    await this.relay.stop();
    await releaseInReverse(this.opened);
  }
}

/** Closers of what the module opened itself, in the order it was opened. */
type Opened = (() => Promise<void>)[];

async function releaseInReverse(opened: Opened, { ignoreErrors = false } = {}): Promise<void> {
  for (const release of opened.splice(0).reverse()) {
    if (ignoreErrors) await release().catch(() => undefined);
    else await release();
  }
}

async function openRuntime(options: ProtomeshMessagingOptions): Promise<MessagingRuntime> {
  const opened: Opened = [];
  try {
    const database = isDatabase(options.database) ? options.database : await openDatabase({ applicationName: options.service, ...options.database });
    if (!isDatabase(options.database)) opened.push(() => database.close());
    const bus = isEventBus(options.bus) ? options.bus : await openJetStream(options.bus.jetstream, options.service, opened);
    if (options.publishes !== undefined) {
      await bus.ensureStream({ ...options.publishes, replicas: options.publishes.replicas ?? options.streamReplicas });
    }
    const relay = createOutboxRelay({ database, publisher: bus }, options.relay);
    return new MessagingRuntime(database, bus, relay, opened);
  } catch (error) {
    // The bootstrap's own error is the one to report, not a failure to close after it.
    await releaseInReverse(opened, { ignoreErrors: true });
    throw error;
  }
}

async function openJetStream(connection: JetStreamConnectionOptions, service: string, opened: Opened): Promise<EventBus> {
  // Loaded here, so that an app on a bus of its own needs no NATS packages.
  const [{ connect }, { createJetStreamBus }] = await Promise.all([import("@nats-io/transport-node"), import("../jetstream/jetstream-bus.js")]);
  const servers = Array.isArray(connection.servers) ? connection.servers.join(",") : connection.servers;
  const nats = await connect({ servers: connection.servers, name: service, maxReconnectAttempts: -1, timeout: connection.connectTimeoutMs ?? 10_000 }).catch(
    (error: unknown) => {
      throw new Error(`ProtomeshMessagingModule: cannot reach NATS at ${servers}: ${(error as Error).message}`, { cause: error });
    },
  );
  opened.push(() => nats.drain());
  const bus = await createJetStreamBus(nats);
  opened.push(() => bus.close());
  return bus;
}

function isDatabase(database: ProtomeshMessagingOptions["database"]): database is Database<Record<string, unknown>> {
  return "db" in database && typeof (database as Partial<Database>).close === "function";
}

function isEventBus(bus: ProtomeshMessagingOptions["bus"]): bus is EventBus {
  return !("jetstream" in bus);
}

/**
 * The service's messaging as Nest providers: its database (`@InjectDatabase()`), the `Outbox`
 * that writes events in a transaction, the outbox relay (`OUTBOX_RELAY`) started at bootstrap and
 * stopped at shutdown, the `EventTransport` that runs its `@OnEvent` handlers (connect it with
 * `app.connectMicroservice({ strategy: app.get(EventTransport) })`) with the inbox applied for
 * `{ inbox: true }` handlers, and its dead letters (`DEAD_LETTERS`). `forRoot(options)` or
 * `forRootAsync({ imports, inject, useFactory })`; global unless `isGlobal: false`.
 */
@Module({
  providers: [
    { provide: MessagingRuntime, useFactory: openRuntime, inject: [MODULE_OPTIONS_TOKEN] },
    { provide: MESSAGING_DATABASE, useFactory: (runtime: MessagingRuntime) => runtime.database, inject: [MessagingRuntime] },
    { provide: OUTBOX_RELAY, useFactory: (runtime: MessagingRuntime) => runtime.relay, inject: [MessagingRuntime] },
    { provide: DEAD_LETTERS, useFactory: (runtime: MessagingRuntime): DeadLetterStore => createDeadLetterStore(runtime.database.db), inject: [MessagingRuntime] },
    {
      provide: EventTransport,
      useFactory: (runtime: MessagingRuntime, deadLetters: DeadLetterSink, options: ProtomeshMessagingOptions) =>
        new EventTransport({
          bus: runtime.bus,
          registry: options.registry ?? createRegistry(),
          deadLetters,
          service: options.service,
          streams: [...(options.consumes ?? [])],
          streamReplicas: options.streamReplicas,
          consumerDefaults: options.consumerDefaults,
          database: runtime.database.db,
        }),
      inject: [MessagingRuntime, DEAD_LETTERS, MODULE_OPTIONS_TOKEN],
    },
    Outbox,
  ],
  exports: [MESSAGING_DATABASE, OUTBOX_RELAY, DEAD_LETTERS, EventTransport, Outbox],
})
export class ProtomeshMessagingModule extends ConfigurableModuleClass {}

/** Injects the database `ProtomeshMessagingModule` opened: `@InjectDatabase() database: Database<typeof schema>`. */
export const InjectDatabase = (): ParameterDecorator & PropertyDecorator => Inject(MESSAGING_DATABASE);
