// @protomesh/telemetry: OpenTelemetry for a service, set up once by the host. Traces cross
// RPCs, the outbox and JetStream as one trace per saga; metrics are served to Prometheus.

export { startTelemetry, disabledTelemetry, type Telemetry } from "./telemetry.js";
export { type TelemetryOptions, type TelemetryEnvironment, metricsFromEnv, otlpTracesUrl, DEFAULT_METRIC_NAMESPACE } from "./telemetry-options.js";
export { ORIGIN_BAGGAGE_KEY } from "./scope.js";
