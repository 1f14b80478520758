// Runs one service process: the database (migrated), NATS, the event bus (instrumented by
// telemetry) and the shared Redis, then a Nest app made of the service's module and the public ones
// on them (ProtomeshMessagingModule runs the outbox relay and event consumers; ShopModule gives the
// logger and shared Redis), served by the Connect transport (RPCs) and the event transport (saga
// events on JetStream, or on Redis Streams with EVENT_BUS=redis). Logs one line with its address
// when ready and shuts down in order on SIGTERM or SIGINT; a failed start closes what it opened
// (ADR 0142).
import "reflect-metadata";
import { inspect } from "node:util";
import { type DynamicModule, type INestApplication, Module } from "@nestjs/common";
import { Transport } from "@nestjs/microservices";
import { NestFactory } from "@nestjs/core";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { connectSharedRedis, type SharedRedis } from "@protomesh/cache";
import { ConnectTransport, type ConnectTransportOptions } from "@protomesh/server/nest";
import { HealthRegistry, useFastUtf8Encoding } from "@protomesh/server";
import { isConfigError, type CommonServiceConfig } from "../config/index.js";
import { type Database, type DatabaseOptions, defaultPgliteCacheDir, openDatabase } from "@protomesh/data";
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
import { ShopModule } from "./shop-module.js";
import { dependencyAt, reach, redisReady } from "./startup-failure.js";

export interface ServiceDefinition {
  name: string;
  config: CommonServiceConfig;
  /** drizzle-kit migrations of this service, applied at start-up. */
  migrationsFolder: string;
  /** The stream this service publishes its events to (created or updated at start-up). */
  stream: StreamSpec;
  /** Callers allowed per service or method when mTLS is on. */
  allow?: AllowList;
  /**
   * The service's Nest module: its controllers and event handlers, and providers that inject the
   * database (`MESSAGING_DATABASE`), the logger and the shared Redis (shop.tokens.ts).
   */
  module: DynamicModule;
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
  configureApp?(app: INestApplication): void | Promise<void>;
  /**
   * Event types that end this service's sagas and the outcome each means, for the saga outcome
   * and duration metrics (e.g. `{ "shop.orders.v1.OrderConfirmed": "confirmed" }`). Default: none.
   */
  sagaOutcomes?: Readonly<Record<string, string>>;
}

export interface RunningService {
  /** "127.0.0.1:50052". */
  address: string;
  /** The Nest app: its database is `app.get(MESSAGING_DATABASE)`, as for any provider. */
  app: INestApplication;
  /** The event bus the host opened and the app runs on (instrumented when telemetry is on). */
  bus: EventBus;
  /** The host's NATS connection (the JetStream bus's). */
  nats: NatsConnection;
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
  // What is open, closed in reverse by stop() or when the start fails. The host opens what the app
  // runs on (database, NATS, bus, Redis) because Nest runs no shutdown hooks for an app it could
  // not create; a failure after the app exists closes the app too.
  const opened: (() => Promise<unknown>)[] = [() => telemetry.shutdown()];
  const closeOpened = async (onError: (error: unknown) => void) => {
    for (let close = opened.pop(); close !== undefined; close = opened.pop()) await close().catch(onError);
  };
  try {
    // Each dependency is reached within its own bound; a failure is one line naming it (ADR 0124).
    const connectTimeoutMs = config.connectTimeoutMs;
    const database = await reach(databaseAt(config), connectTimeoutMs, () => openDatabase(databaseOptions(definition, logger)));
    opened.push(() => database.close());
    const natsAt = dependencyAt("NATS", "NATS_URL", config.natsServers);
    // noAsyncTraces: nats.js otherwise builds an Error on every request (each JetStream publish and
    // ack) for an async stack trace, 3-4 % of a service's CPU per saga (ADR 0143); its errors keep
    // their own message and code.
    const nats = await reach(natsAt, connectTimeoutMs, () =>
      connect({ servers: config.natsServers, name: definition.name, maxReconnectAttempts: -1, timeout: connectTimeoutMs, noAsyncTraces: true }),
    );
    opened.push(() => nats.drain());
    // The host opens the bus, rather than the messaging module, to instrument it and to offer Redis Streams.
    const { bus: eventBus, eventRedis } = await openEventBus(definition, nats, natsAt, logger);
    const bus = telemetry.instrumentBus(eventBus, eventRedis === undefined ? "nats" : "redis");
    opened.push(async () => {
      await bus.close();
      await eventRedis?.quit().catch(() => eventRedis.disconnect());
    });
    const redis =
      config.redisUrl === undefined
        ? undefined
        : connectSharedRedis(config.redisUrl, {
            onError: (err, unreported) => logger.warn({ err, unreported }, "redis unavailable: caches and shared limits fall back to the database and local counters"),
          });
    if (redis !== undefined) opened.push(() => redis.close());

    const app = await createApp(definition, { database, bus, redis, logger, telemetry });
    opened.push(() => app.close());
    telemetry.observeOutbox(() => outboxStats(database.db));
    const relay = app.get<OutboxRelay>(OUTBOX_RELAY);
    const eventTransport = app.get(EventTransport);

    // SERVING while the service can do its work: the database answers, events get out, and events
    // reach its consumers; each waits out a failure of DEFAULT_NOT_READY_AFTER_MS first (ADR 0123).
    const health = new HealthRegistry({
      onStatusChange: (status, failing) =>
        status === ServingStatus.SERVING ? logger.info("health: SERVING again") : logger.warn({ failing }, `health: NOT_SERVING (${failing.join("; ")})`),
    });
    health.addProbe("database", () => database.ready().then(() => true), { notReadyAfterMs: DEFAULT_NOT_READY_AFTER_MS });
    health.addProbe("publishing", () => relay.readiness());
    health.addProbe("consuming", () => eventTransport.readiness());

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
    app.connectMicroservice({ strategy: connectTransport }, { inheritAppConfig: true });
    app.connectMicroservice({ strategy: eventTransport }, { inheritAppConfig: true });
    if (definition.requestReply !== undefined) {
      app.connectMicroservice(
        { transport: Transport.NATS, options: { servers: config.natsServers, name: `${definition.name}-request-reply`, queue: definition.requestReply.queue, maxReconnectAttempts: -1 } },
        { inheritAppConfig: true },
      );
    }
    await definition.configureApp?.(app);
    // As app.startAllMicroservices(), but waiting for every server to start or fail: that one
    // rejects at the first failure (a port taken) while the NATS server still connects, and a
    // connection made after app.close() would stay open.
    const listening = await Promise.allSettled(app.getMicroservices().map((server) => server.listen()));
    const failed = listening.find((result) => result.status === "rejected");
    if (failed !== undefined) throw failed.reason;
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
        // The app first: it stops taking calls and events (in-flight ones finish), the messaging
        // module's relay flushes what they wrote, and the clients close; then what it ran on.
        await closeOpened((error) => {
          throw error;
        });
        logger.info(`${definition.name} stopped`);
      })());
    return { address, app, bus, nats, telemetry, stop };
  } catch (error) {
    // The start-up error is the one to report, not a failure to close after it.
    await closeOpened(() => undefined);
    throw error;
  }
}

/** "PostgreSQL at DATABASE_URL=…" or "PGlite at DATA_DIR=…": the database as start-up failures name it. */
function databaseAt(config: CommonServiceConfig): string {
  return "url" in config.database ? dependencyAt("PostgreSQL", "DATABASE_URL", config.database.url) : dependencyAt("PGlite", "DATA_DIR", config.database.dataDir);
}

function databaseOptions(definition: ServiceDefinition, logger: Logger): DatabaseOptions {
  const { config } = definition;
  return {
    ...("url" in config.database
      ? { url: config.database.url, poolSize: config.database.poolSize }
      : // Embedded: start new databases from the per-user cached initdb (ADR 0135).
        { pgliteCacheDir: defaultPgliteCacheDir(), ...(config.database.dataDir === "memory" ? {} : { dataDir: config.database.dataDir }) }),
    migrationsFolder: definition.migrationsFolder,
    applicationName: definition.name,
    connectTimeoutMs: config.connectTimeoutMs,
    onBackgroundError: (err) => logger.warn({ err }, "database connection problem"),
  };
}

/** What the host opened for the app, which stays the host's to close. */
interface HostResources {
  database: Database;
  bus: EventBus;
  redis: SharedRedis | undefined;
  logger: Logger;
  telemetry: Telemetry;
}

/** The Nest app of the service's module and the public ones, on the database and bus the host opened. */
async function createApp(definition: ServiceDefinition, { database, bus, redis, logger, telemetry }: HostResources): Promise<INestApplication> {
  const { config } = definition;
  // The event path: the relay (started at bootstrap, stopped after the consumers at shutdown),
  // the event transport with the inbox, and dead letters.
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
  @Module({ imports: [ShopModule.forRoot({ logger, redis }), messaging, definition.module] })
  class ServiceHostModule {}
  return NestFactory.create(ServiceHostModule, { logger: nestLogger(logger), abortOnError: false });
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
      eventRedis.on("error", (err) => logger.warn({ err }, "event bus redis unavailable; publishing and consuming resume when it is back"));
      const streams = createRedisStreamsBus(eventRedis, { onError: (err) => logger.warn({ err }, "redis streams bus: a subscriber failed and retries") });
      await streams.ensureStream(stream);
      return streams;
    } catch (error) {
      eventRedis.disconnect();
      throw error;
    }
  });
  return { bus, eventRedis };
}

/** Runs a service until SIGTERM or SIGINT; a start-up failure prints one line and exits 1. */
export async function main(definition: () => ServiceDefinition): Promise<void> {
  // The shop's processes are its own: protobuf-es may encode strings the faster way in all of them.
  useFastUtf8Encoding();
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
