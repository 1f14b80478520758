// Runs one service process: database (migrated), NATS, the outbox relay, and a Nest app with
// the Connect transport (RPCs) and the event transport (saga events on JetStream, or on Redis
// Streams with EVENT_BUS=redis). Logs one line with its address when ready and shuts down in
// order on SIGTERM or SIGINT.
import "reflect-metadata";
import { inspect } from "node:util";
import { type DynamicModule, type INestApplication, Module } from "@nestjs/common";
import { Transport } from "@nestjs/microservices";
import { NestFactory } from "@nestjs/core";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { connectSharedRedis, type SharedRedis } from "@protomesh/cache";
import { ConnectTransport, type ConnectTransportOptions } from "@protomesh/server/nest";
import { HealthRegistry } from "@protomesh/server";
import { isConfigError, type CommonServiceConfig } from "../config/index.js";
import { defaultPgliteCacheDir, openDatabase, type Database } from "@protomesh/data";
import { createJetStreamBus, DEFAULT_JETSTREAM_TIMEOUT_MS } from "@protomesh/messaging/jetstream";
import { createRedisStreamsBus } from "@protomesh/messaging/redis-streams";
import { DEFAULT_NOT_READY_AFTER_MS, outboxStats, type EventBus, type OutboxRelay, type StreamSpec } from "@protomesh/messaging";
import { EventTransport, OUTBOX_RELAY, ProtomeshMessagingModule, type ProtomeshMessagingOptions } from "@protomesh/messaging/nest";
import { HealthCheckResponse_ServingStatus as ServingStatus } from "@protomesh/clients/health";
import { startTelemetry, type Telemetry, type TelemetryOptions } from "@protomesh/telemetry";
import type { AllowList } from "@protomesh/server";
import type { DestinationStream } from "pino";
import { createLogger, nestLogger, type Logger } from "./logger.js";
import { checkConfiguredPaths } from "./check-paths.js";
import { dependencyAt, reach, redisReady } from "./startup-failure.js";

/** What the host hands the service to build its Nest module and event transport from. */
export interface ServiceRuntime {
  database: Database;
  bus: EventBus;
  nats: NatsConnection;
  logger: Logger;
  /** Redis for caches and shared counters when REDIS_URL is set; an accelerator, never required. */
  redis: SharedRedis | undefined;
}

export interface ServiceDefinition {
  name: string;
  config: CommonServiceConfig;
  /** drizzle-kit migrations of this service, applied at start-up. */
  migrationsFolder: string;
  /** The stream this service publishes its events to (created or updated at start-up). */
  stream: StreamSpec;
  /** Callers allowed per service or method when mTLS is on. */
  allow?: AllowList;
  module(runtime: ServiceRuntime): DynamicModule;
  /**
   * The saga events this service's `@OnEvent` handlers consume, for ProtomeshMessagingModule:
   * the streams, the registry that decodes them, the consumer defaults, and the prefix of the
   * consumers' durable names (default: the service's name).
   */
  events: Pick<ProtomeshMessagingOptions, "registry" | "consumerDefaults"> & { consumes: StreamSpec[]; consumerPrefix?: string };
  /**
   * Serve `@MessagePattern(subject, Transport.NATS)` handlers through Nest's NATS transport, every
   * replica in this queue group, so each request is answered by one replica (core NATS, ADR 0052).
   */
  requestReply?: { queue: string };
  /** Adds to the Nest app what it hosts besides transports (e.g. a WebSocket adapter); runs before `app.init()`. */
  configureApp?(app: INestApplication, runtime: ServiceRuntime): void | Promise<void>;
  /**
   * Event types that end this service's sagas and the outcome each means, for the saga outcome
   * and duration metrics (e.g. `{ "shop.orders.v1.OrderConfirmed": "confirmed" }`). Default: none.
   */
  sagaOutcomes?: Readonly<Record<string, string>>;
  /** Releases what the definition itself opened (clients, timers), after the app has closed. */
  dispose?(): void | Promise<void>;
}

export interface RunningService {
  /** "127.0.0.1:50052". */
  address: string;
  runtime: ServiceRuntime;
  app: INestApplication;
  /** The service's OpenTelemetry (a no-op unless turned on). */
  telemetry: Telemetry;
  stop(): Promise<void>;
}

export interface RunServiceOptions {
  /**
   * Telemetry settings over those from the environment (OTEL_EXPORTER_OTLP_ENDPOINT,
   * METRICS_PORT): a span exporter or metric reader of your own, e.g. in tests.
   */
  telemetry?: Partial<Omit<TelemetryOptions, "service">>;
  /** Where the JSON log lines go. Default: stdout. */
  logDestination?: DestinationStream;
}

export async function runService(definition: ServiceDefinition, options: RunServiceOptions = {}): Promise<RunningService> {
  const { config } = definition;
  // Files first: a bad one is named by its variable before anything connects.
  checkConfiguredPaths(config.paths);
  const logger = createLogger(definition.name, config.logLevel, options.logDestination);
  // Started first, so everything below reports to it; off unless the environment or options ask.
  const telemetry = await startTelemetry({ service: definition.name, metricsHost: config.host, sagaOutcomes: definition.sagaOutcomes, ...options.telemetry });
  // Each dependency is reached within its own bound; a failure is one line naming it (ADR 0124).
  const connectTimeoutMs = config.connectTimeoutMs;
  const database = await reach(
    "url" in config.database ? dependencyAt("PostgreSQL", "DATABASE_URL", config.database.url) : dependencyAt("PGlite", "DATA_DIR", config.database.dataDir),
    connectTimeoutMs,
    () =>
      openDatabase({
        ...("url" in config.database
          ? { url: config.database.url, poolSize: config.database.poolSize }
          : // Embedded: start new databases from the per-user cached initdb (ADR 0135).
            { pgliteCacheDir: defaultPgliteCacheDir(), ...(config.database.dataDir === "memory" ? {} : { dataDir: config.database.dataDir }) }),
        migrationsFolder: definition.migrationsFolder,
        applicationName: definition.name,
        connectTimeoutMs,
        onBackgroundError: (err) => logger.warn({ err }, "database connection problem"),
      }),
  );
  const natsAt = dependencyAt("NATS", "NATS_URL", config.natsServers);
  const nats = await reach(natsAt, connectTimeoutMs, () => connect({ servers: config.natsServers, name: definition.name, maxReconnectAttempts: -1, timeout: connectTimeoutMs }));
  const { bus: eventBus, eventRedis } = await openEventBus(definition, nats, natsAt, logger);
  const bus = telemetry.instrumentBus(eventBus, eventRedis === undefined ? "nats" : "redis");
  telemetry.observeOutbox(() => outboxStats(database.db));
  const redis =
    config.redisUrl === undefined
      ? undefined
      : connectSharedRedis(config.redisUrl, {
          onError: (err, unreported) => logger.warn({ err, unreported }, "redis unavailable: caches and shared limits fall back to the database and local counters"),
        });
  const runtime: ServiceRuntime = { database, bus, nats, logger, redis };

  // SERVING while the service can do its work: the database answers, events get out, and events
  // reach its consumers; each waits out a failure of DEFAULT_NOT_READY_AFTER_MS first (ADR 0123).
  const health = new HealthRegistry({
    onStatusChange: (status, failing) =>
      status === ServingStatus.SERVING ? logger.info("health: SERVING again") : logger.warn({ failing }, `health: NOT_SERVING (${failing.join("; ")})`),
  });
  health.addProbe("database", () => database.ready().then(() => true), { notReadyAfterMs: DEFAULT_NOT_READY_AFTER_MS });

  const connectTransport = new ConnectTransport({
    host: config.host,
    port: config.port,
    shutdownTimeoutMs: config.shutdownGraceMs,
    limits: config.serverLimits,
    health,
    ...(config.tls === undefined ? {} : { tls: { certFile: config.tls.certFile, keyFile: config.tls.keyFile, ...(config.tls.caFile === undefined ? {} : { caFile: config.tls.caFile }) } }),
    ...(definition.allow === undefined || config.tls?.caFile === undefined ? {} : { allow: definition.allow }),
    onUnexpectedError: (error, procedure) => logger.error({ err: error.cause ?? error, procedure }, "call failed with an unexpected error"),
    ...(telemetry.serverInterceptor === undefined ? {} : { observe: telemetry.serverInterceptor }),
  } satisfies ConnectTransportOptions);

  // The event path is the toolkit's module: the relay (started at bootstrap, stopped after the
  // consumers at shutdown), the event transport with the inbox, and dead letters, on the
  // database and bus opened above, which stay the host's to close.
  const messaging = ProtomeshMessagingModule.forRoot({
    service: definition.events.consumerPrefix ?? definition.name,
    database,
    bus,
    consumes: definition.events.consumes,
    streamReplicas: config.streamReplicas,
    registry: definition.events.registry,
    consumerDefaults: definition.events.consumerDefaults,
    relay: {
      onError: (err) => logger.warn({ err }, "outbox relay: publishing failed; the row stays and is retried"),
      ...telemetry.relayOptions(),
    },
  });
  @Module({ imports: [messaging, definition.module(runtime)] })
  class ServiceHostModule {}
  const app = await NestFactory.create(ServiceHostModule, { logger: nestLogger(logger), abortOnError: false });
  const relay = app.get<OutboxRelay>(OUTBOX_RELAY);
  const eventTransport = app.get(EventTransport);
  health.addProbe("publishing", () => relay.readiness());
  health.addProbe("consuming", () => eventTransport.readiness());
  app.connectMicroservice({ strategy: connectTransport }, { inheritAppConfig: true });
  app.connectMicroservice({ strategy: eventTransport }, { inheritAppConfig: true });
  if (definition.requestReply !== undefined) {
    app.connectMicroservice(
      { transport: Transport.NATS, options: { servers: config.natsServers, name: `${definition.name}-request-reply`, queue: definition.requestReply.queue, maxReconnectAttempts: -1 } },
      { inheritAppConfig: true },
    );
  }
  await definition.configureApp?.(app, runtime);
  await app.startAllMicroservices();
  await app.init();

  const address = `${config.host}:${connectTransport.address()?.port ?? config.port}`;
  logger.info(
    { address, tls: config.tls === undefined ? "off" : config.tls.caFile === undefined ? "tls" : "mtls", database: database.driver, tracing: telemetry.tracing, metrics: telemetry.metricsUrl ?? "off" },
    `${definition.name} listening on ${address}`,
  );

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info(`${definition.name} shutting down`);
      // Stop taking calls and events first (in-flight ones finish); the module's relay then
      // flushes what they wrote before the app has closed.
      await app.close();
      await definition.dispose?.();
      await bus.close();
      await eventRedis?.quit().catch(() => eventRedis.disconnect());
      await nats.drain();
      await redis?.close();
      await database.close();
      await telemetry.shutdown();
      logger.info(`${definition.name} stopped`);
    })());
  return { address, runtime, app, telemetry, stop };
}

/** The saga event bus (JetStream, or Redis Streams with EVENT_BUS=redis) with the service's stream declared. */
async function openEventBus(definition: ServiceDefinition, nats: NatsConnection, natsAt: string, logger: Logger): Promise<{ bus: EventBus; eventRedis?: Redis }> {
  const { config } = definition;
  const stream = { ...definition.stream, replicas: config.streamReplicas };
  if (config.eventBus.kind === "jetstream") {
    const bus = await reach(natsAt, DEFAULT_JETSTREAM_TIMEOUT_MS, async () => {
      const jetStream = await createJetStreamBus(nats);
      await jetStream.ensureStream(stream);
      return jetStream;
    });
    return { bus };
  }
  // Redis Streams gets a connection of its own: the cache's fails fast, a bus must wait (ADR 0057).
  const timeoutMs = config.connectTimeoutMs;
  const eventRedis = new Redis(config.eventBus.url, { maxRetriesPerRequest: 1, connectionName: definition.name, connectTimeout: timeoutMs });
  const bus = await reach(dependencyAt("Redis of the event bus", config.eventBus.variable, config.eventBus.url), timeoutMs, async () => {
    try {
      await redisReady(eventRedis, timeoutMs);
    } catch (error) {
      eventRedis.disconnect();
      throw error;
    }
    eventRedis.on("error", (err) => logger.warn({ err }, "event bus redis unavailable; publishing and consuming resume when it is back"));
    const streams = createRedisStreamsBus(eventRedis, { onError: (err) => logger.warn({ err }, "redis streams bus: a subscriber failed and retries") });
    await streams.ensureStream(stream);
    return streams;
  });
  return { bus, eventRedis };
}

/** Runs a service until SIGTERM or SIGINT; a start-up failure prints one line and exits 1. */
export async function main(definition: () => ServiceDefinition): Promise<void> {
  let running: RunningService;
  try {
    running = await runService(definition());
  } catch (error) {
    // One line a person can act on; a configuration error names every bad variable in it.
    console.error(isConfigError(error) ? `invalid configuration: ${error.problems.join("; ")}` : error instanceof Error ? error.message : inspect(error, { breakLength: Infinity }));
    process.exit(1);
  }
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      running.stop().then(
        () => process.exit(0),
        (error: unknown) => {
          console.error("shutdown failed", error);
          process.exit(1);
        },
      );
    });
  }
}
