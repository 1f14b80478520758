import type { MetricReader } from "@opentelemetry/sdk-metrics";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";

/** How one service reports traces and metrics. Everything is off unless an option turns it on. */
export interface TelemetryOptions {
  /** `service.name`. OTEL_SERVICE_NAME overrides it. */
  service: string;
  /** `service.version`. Default: the version of this package, @protomesh/telemetry. */
  version?: string | undefined;
  /** `service.instance.id`. Default: a random UUID per start, as the semantic conventions advise. */
  instance?: string | undefined;
  /**
   * Where finished spans go (batched). Default: OTLP over HTTP (protobuf) when
   * OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; without an exporter
   * tracing is off and no span is ever made.
   */
  spanExporter?: SpanExporter | undefined;
  /** Serve Prometheus text format at `http://metricsHost:metricsPort/metrics`. Default: off. */
  metricsPort?: number | undefined;
  /** Interface of the metrics endpoint. Default 127.0.0.1; the host passes the service's HOST. */
  metricsHost?: string | undefined;
  /** More metric readers (an OTLP push reader, a test reader). Default: none. */
  metricReaders?: readonly MetricReader[] | undefined;
  /**
   * Event types that end a saga this service runs, and the outcome each means, e.g.
   * `{ "acme.billing.v1.InvoicePaid": "paid" }`: counted and timed when the relay publishes
   * them. Default: none.
   */
  sagaOutcomes?: Readonly<Record<string, string>> | undefined;
  /**
   * First segment of the toolkit's own metric names: "acme" makes `acme.outbox.published`
   * (Prometheus: `acme_outbox_published_total`). Dot-separated words of letters, digits and
   * underscores, each starting with a letter. Metrics named by the OpenTelemetry semantic
   * conventions (`rpc.*`, `messaging.*`) keep their names. Default: "protomesh".
   */
  metricNamespace?: string | undefined;
}

export const DEFAULT_METRIC_NAMESPACE = "protomesh";

const metricNamespacePattern = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$/;

/** The metric namespace to use; throws on one that would make invalid instrument names. */
export function resolveMetricNamespace(namespace: string | undefined): string {
  if (namespace === undefined) return DEFAULT_METRIC_NAMESPACE;
  // OpenTelemetry allows 255 characters per instrument name; the longest suffix is 30.
  if (!metricNamespacePattern.test(namespace) || namespace.length > 200) {
    throw new RangeError(`metricNamespace must be dot-separated words of letters, digits and underscores, each starting with a letter (at most 200 characters), got ${JSON.stringify(namespace)}`);
  }
  return namespace;
}

/** Telemetry settings from the environment: the standard OTEL_* variables and METRICS_PORT. */
export interface TelemetryEnvironment {
  /** Exports spans over OTLP; tracing is off when neither it nor the traces-only variable is set. */
  OTEL_EXPORTER_OTLP_ENDPOINT?: string | undefined;
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string | undefined;
  /** "true" turns everything off, whatever else is set. */
  OTEL_SDK_DISABLED?: string | undefined;
  /** Port of the Prometheus endpoint; unset means none. */
  METRICS_PORT?: string | undefined;
}

/**
 * Where OTLP traces go, if the environment asks for them: the traces endpoint as given, else
 * `/v1/traces` under the base endpoint (as the OTLP exporter specification says).
 */
export function otlpTracesUrl(env: TelemetryEnvironment): string | undefined {
  if (env.OTEL_SDK_DISABLED === "true") return undefined;
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT) return `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, "")}/v1/traces`;
  return undefined;
}

/** METRICS_PORT as an option; throws a message naming the variable on a bad port. */
export function metricsFromEnv(env: TelemetryEnvironment): Pick<TelemetryOptions, "metricsPort"> {
  if (env.OTEL_SDK_DISABLED === "true" || env.METRICS_PORT === undefined || env.METRICS_PORT === "") return {};
  const port = Number(env.METRICS_PORT);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`METRICS_PORT must be a port number in 1..65535, got ${JSON.stringify(env.METRICS_PORT)}`);
  }
  return { metricsPort: port };
}
