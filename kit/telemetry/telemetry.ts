import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Interceptor } from "@connectrpc/connect";
import { context, propagation, type Context, type ContextManager, type TextMapPropagator } from "@opentelemetry/api";
import type { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import type { Resource } from "@opentelemetry/resources";
import type { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import type { BasicTracerProvider, SpanExporter } from "@opentelemetry/sdk-trace-base";
import { clientTelemetryKey } from "@protomesh/clients";
import type { EventBus, OutboxRelayOptions, OutboxStats } from "@protomesh/messaging";
import { createInstruments } from "./instruments.js";
import { instrumentBus, relayHooks } from "./messaging.js";
import { ClientCallTelemetry } from "./rpc-client.js";
import { serverInterceptor } from "./rpc-server.js";
import type { TelemetryScope } from "./scope.js";
import { PROTOMESH_TELEMETRY_VERSION } from "./version.js";
import { metricsFromEnv, otlpTracesUrl, resolveMetricNamespace, type TelemetryEnvironment, type TelemetryOptions } from "./telemetry-options.js";

/**
 * One service's OpenTelemetry: its own tracer and meter providers (with service.name, version
 * and instance), the Prometheus endpoint, and the hooks the host installs in the server, the bus
 * and the relay. Off (no exporter, no metrics port), every hook is absent or passes through and
 * no span or measurement is ever made.
 */
export interface Telemetry {
  readonly service: string;
  readonly tracing: boolean;
  readonly metrics: boolean;
  /** "http://127.0.0.1:9464/metrics" while a Prometheus endpoint is served. */
  readonly metricsUrl: string | undefined;
  /** For ConnectServerOptions.observe; undefined when off. */
  readonly serverInterceptor: Interceptor | undefined;
  /**
   * The bus with messaging spans and metrics (the same bus when off). `system` is the
   * `messaging.system` attribute: "nats" (default) for JetStream, "redis" for Redis Streams.
   */
  instrumentBus(bus: EventBus, system?: string): EventBus;
  /** Relay options that trace rounds and measure publishing. */
  relayOptions(): Pick<OutboxRelayOptions, "aroundRound" | "onPublished">;
  /** Reports outbox backlog and the age of the oldest unpublished row at each collection. */
  observeOutbox(stats: () => Promise<OutboxStats>): void;
  /** Runs `fn` as this service: its client calls and outbox writes report here. */
  run<T>(fn: () => T): T;
  /** Exports every finished span now (tests, shutdown). */
  forceFlush(): Promise<void>;
  /** Flushes and stops exporting; closes the metrics endpoint. */
  shutdown(): Promise<void>;
}

/**
 * Starts a service's telemetry from options, else from the environment: OTLP export of traces
 * when OTEL_EXPORTER_OTLP_ENDPOINT is set, Prometheus metrics when METRICS_PORT is set.
 */
export async function startTelemetry(options: TelemetryOptions, env: TelemetryEnvironment = process.env): Promise<Telemetry> {
  const fromEnv = { ...metricsFromEnv(env), ...options };
  const namespace = resolveMetricNamespace(options.metricNamespace);
  const metricsHost = fromEnv.metricsHost ?? "127.0.0.1";
  // Where spans go: the exporter given, else the OTLP endpoint from the environment.
  const spanTarget = fromEnv.spanExporter ?? otlpTracesUrl(env);
  const metering = fromEnv.metricsPort !== undefined || (fromEnv.metricReaders?.length ?? 0) > 0;
  if (spanTarget === undefined && !metering) return disabledTelemetry(options.service);

  // The SDK is imported only from here on: it costs a service about 0.8 s of CPU at start-up,
  // and telemetry is off unless asked for (ADR 0136).
  const [resources, conventions, contextHooks, core] = await Promise.all([
    import("@opentelemetry/resources"),
    import("@opentelemetry/semantic-conventions"),
    import("@opentelemetry/context-async-hooks"),
    import("@opentelemetry/core"),
  ]);
  const resource = resources
    .resourceFromAttributes({
      [conventions.ATTR_SERVICE_NAME]: options.service,
      [conventions.ATTR_SERVICE_VERSION]: options.version ?? PROTOMESH_TELEMETRY_VERSION,
      "service.instance.id": options.instance ?? randomUUID(),
      "host.name": hostname(),
      "process.pid": process.pid,
    })
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const [tracerProvider, metricsSetup] = await Promise.all([
    spanTarget === undefined ? undefined : createTracerProvider(resource, spanTarget),
    metering ? createMeterProvider(resource, fromEnv.metricReaders ?? [], fromEnv.metricsPort, metricsHost) : undefined,
  ]);
  const meterProvider = metricsSetup?.meterProvider;
  const prometheus = metricsSetup?.prometheus;
  const releaseGlobals = useGlobals(
    () => new contextHooks.AsyncLocalStorageContextManager().enable(),
    () => new core.CompositePropagator({ propagators: [new core.W3CTraceContextPropagator(), new core.W3CBaggagePropagator()] }),
  );

  const meter = meterProvider?.getMeter("protomesh");
  const scope: TelemetryScope = {
    tracer: tracerProvider?.getTracer("protomesh", PROTOMESH_TELEMETRY_VERSION),
    instruments: meter === undefined ? undefined : createInstruments(meter, namespace),
    // `calls` is made from this scope just below; handlers enter it only later.
    enter: (ctx: Context) => ctx.setValue(clientTelemetryKey, calls),
  };
  const calls = new ClientCallTelemetry(scope);
  if (meter !== undefined) {
    const endpoints = meter.createObservableGauge(`${namespace}.client.endpoint.admitted`, { description: "1 while an endpoint receives calls, 0 while it is ejected or not connected" });
    const circuits = meter.createObservableGauge(`${namespace}.client.circuit.state`, { description: "Circuit breaker state: 0 closed, 1 half-open, 2 open" });
    meter.addBatchObservableCallback(
      (result) =>
        calls.observe(
          (value, attributes) => result.observe(endpoints, value, attributes),
          (value, attributes) => result.observe(circuits, value, attributes),
        ),
      [endpoints, circuits],
    );
  }
  try {
    await prometheus?.startServer();
  } catch (error) {
    releaseGlobals();
    throw new Error(`metrics endpoint: cannot listen on ${metricsHost}:${fromEnv.metricsPort}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const hooks = relayHooks(scope, options.sagaOutcomes ?? {});
  let stopped: Promise<void> | undefined;

  return {
    service: options.service,
    tracing: tracerProvider !== undefined,
    metrics: meterProvider !== undefined,
    metricsUrl: prometheus === undefined ? undefined : `http://${metricsHost}:${fromEnv.metricsPort}/metrics`,
    serverInterceptor: serverInterceptor(scope),
    instrumentBus: (bus, system = "nats") => instrumentBus(bus, scope, system),
    relayOptions: () => hooks,
    observeOutbox(stats) {
      if (meter === undefined) return;
      const pending = meter.createObservableGauge(`${namespace}.outbox.pending`, { description: "Outbox rows not yet published" });
      const failing = meter.createObservableGauge(`${namespace}.outbox.failing`, { description: "Unpublished outbox rows that failed to publish at least once" });
      const oldest = meter.createObservableGauge(`${namespace}.outbox.oldest_pending_age`, { unit: "s", description: "Age of the oldest unpublished outbox row" });
      meter.addBatchObservableCallback(async (result) => {
        // A database that cannot answer now leaves these series out of this scrape.
        const s = await stats().catch(() => undefined);
        if (s === undefined) return;
        result.observe(pending, s.pending);
        result.observe(failing, s.failing);
        result.observe(oldest, s.oldestPendingAgeMs / 1000);
      }, [pending, failing, oldest]);
    },
    run: (fn) => context.with(scope.enter(context.active()), fn),
    forceFlush: async () => {
      await tracerProvider?.forceFlush();
    },
    shutdown: () =>
      (stopped ??= (async () => {
        await Promise.allSettled([tracerProvider?.shutdown(), meterProvider?.shutdown()]);
        releaseGlobals();
      })()),
  };
}

/** Telemetry that does nothing: what a service gets when nothing asks for traces or metrics. */
export function disabledTelemetry(service: string): Telemetry {
  return {
    service,
    tracing: false,
    metrics: false,
    metricsUrl: undefined,
    serverInterceptor: undefined,
    instrumentBus: (bus) => bus,
    relayOptions: () => ({}),
    observeOutbox: () => undefined,
    run: (fn) => fn(),
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}

/** A tracer provider that batches spans to the exporter, or over OTLP to the URL. */
async function createTracerProvider(resource: Resource, spanTarget: SpanExporter | string): Promise<BasicTracerProvider> {
  const traceSdk = await import("@opentelemetry/sdk-trace-base");
  // The OTLP exporter reads the other OTEL_EXPORTER_OTLP_* variables (headers, timeout) itself.
  const exporter = typeof spanTarget === "string" ? new (await import("@opentelemetry/exporter-trace-otlp-proto")).OTLPTraceExporter({ url: spanTarget }) : spanTarget;
  return new traceSdk.BasicTracerProvider({ resource, spanProcessors: [new traceSdk.BatchSpanProcessor(exporter)] });
}

/** The meter provider, and the Prometheus exporter among its readers when a port is given (not yet listening). */
async function createMeterProvider(
  resource: Resource,
  metricReaders: readonly MetricReader[],
  metricsPort: number | undefined,
  metricsHost: string,
): Promise<{ meterProvider: MeterProvider; prometheus: PrometheusExporter | undefined }> {
  const metricsSdk = await import("@opentelemetry/sdk-metrics");
  const readers = [...metricReaders];
  let prometheus: PrometheusExporter | undefined;
  if (metricsPort !== undefined) {
    prometheus = new (await import("@opentelemetry/exporter-prometheus")).PrometheusExporter({ port: metricsPort, host: metricsHost, preventServerStart: true });
    readers.push(prometheus);
  }
  return { meterProvider: new metricsSdk.MeterProvider({ resource, readers }), prometheus };
}

// The context manager and the propagator are process-wide in OpenTelemetry's API. They are
// installed while at least one service in the process has telemetry on (tests and the demo run
// several), and removed with the last, so a process without telemetry keeps the no-op API.
// One the application registered itself (its own SDK setup) is used and never removed.
let globalUsers = 0;
let installed = { context: false, propagation: false };

function useGlobals(contextManager: () => ContextManager, propagator: () => TextMapPropagator): () => void {
  if (globalUsers++ === 0) {
    installed = {
      context: context.setGlobalContextManager(contextManager()),
      propagation: propagation.setGlobalPropagator(propagator()),
    };
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--globalUsers === 0) {
      if (installed.context) context.disable();
      if (installed.propagation) propagation.disable();
    }
  };
}
