// The Connect transport for NestJS and its framework-free core.

// Errors handlers throw on purpose, and the one mapping to what clients receive.
export {
  AbortedError,
  AlreadyExistsError,
  DomainError,
  FailedPreconditionError,
  InvalidArgumentError,
  isDomainError,
  NotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
  UnavailableError,
  type DomainCode,
  type DomainErrorOptions,
  type ErrorDetail,
} from "./errors/domain-error.js";
export { toConnectError } from "./errors/to-connect-error.js";

// The Nest transport: a strategy, the controller decorator, and the call seen by guards.
export { ConnectTransport, type ConnectTransportOptions } from "./nest/connect-transport.js";
export { CONNECT_TRANSPORT } from "./nest/connect-transport-id.js";
export { ConnectService, procedureOf } from "./nest/connect-service.decorator.js";
export { connectCall, type ConnectCall } from "./nest/connect-call.js";
export { ConnectExceptionFilter, fromNestException } from "./nest/connect-exception-filter.js";

// The framework-free core: serve bound implementations without Nest.
export { createConnectServer, type ConnectServer } from "./server/connect-server.js";
export type { ConnectServerOptions } from "./server/connect-server-options.js";
export { resolveServerLimits, type ResolvedServerLimits, type ServerLimits } from "./server/server-limits.js";
// Opt-in, process-wide: faster string encoding for every protobuf-es serialization (ADR 127).
export { useFastUtf8Encoding } from "./server/utf8-encoding.js";
export { bindService, type ServiceBinding } from "./server/service-binding.js";
export type { UnexpectedErrorHandler } from "./server/interceptors/error-mapping.js";

// Health driven by the app's readiness probes.
export { HealthRegistry, type HealthRegistryOptions, type ProbeOptions, type ProbeResult, type ReadinessProbe } from "./health/health-registry.js";

// Peer identity and allow-lists live in protomesh/kit/tls; re-exported for handlers and guards.
export { peerIdentity, type PeerIdentity } from "protomesh/kit/tls";
