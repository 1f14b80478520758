// @protomesh/server: serve Connect routers (gRPC, gRPC-Web, Connect) on one HTTP/2 port with
// TLS/mTLS, allow-lists, protovalidate, bounded resources, health and reflection. Framework-free:
// the Nest transport is in @protomesh/server/nest, development certificates in ./pki.

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

// TLS: certificates from files with live reload, the verified peer identity of each call, and a
// per-service or per-method allow-list of callers.
export { loadServerTls, type ServerTls, type ServerTlsOptions } from "./tls/server-tls.js";
export { peerIdentity, peerIdentityKey, peerIdentityOf, type PeerIdentity, type PeerIdentityOptions } from "./tls/peer-identity.js";
export { createAllowListInterceptor, unknownAllowListKeys, type AllowList } from "./tls/allow-list.js";
